"""The People tab: one card per person (best face, photo count), most photos first.

Name a person in place (double-click or F2 on a card), merge the selected
people, hide one, show their photos in the Search tab, and take a wrongly
grouped face out ("Not this person"). Faces seen once are in the "Unnamed faces"
strip below: naming one starts its person, whom later photos join. Every action is a small catalog write
through core/signals/people.py, done on the GUI thread: each touches a few rows.
Face pictures are cut from the shared thumbnail cache's photo thumbnails.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QPersistentModelIndex,
    QRect,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from glimpse.core.errors import GlimpseError
from glimpse.core.signals import people
from glimpse.ui.preview import PreviewFace
from glimpse.ui.thumbnails import ThumbnailCache

if TYPE_CHECKING:
    from glimpse.core.library import Library

FACE_ICON = 96
UNNAMED_SHOWN = 200  # faces in the "Unnamed faces" strip, best first
_SOURCE_SIZE = 512  # the photo thumbnail faces are cut from
_Index = QModelIndex | QPersistentModelIndex


def preview_faces(
    library: Library, photo_id: int, t_seconds: float | None = None
) -> list[PreviewFace]:
    """The faces of a photo for the preview's outlines, with their people's labels.
    For a video, `t_seconds` is the keyframe shown: only its faces are outlined."""
    out = []
    labels: dict[int, str] = {}
    for row in people.faces_of_photo(library.catalog, photo_id):
        if row.t_seconds is not None and (
                t_seconds is None or abs(row.t_seconds - t_seconds) >= people.SAME_FRAME_S):
            continue
        name = None
        if row.person_id is not None:
            if row.person_id not in labels:
                p = people.person(library.catalog, row.person_id)
                labels[row.person_id] = "" if p.hidden else p.label
            name = labels[row.person_id] or None
        out.append(PreviewFace(row.id, row.box, name, row.person_id if name else None))
    return out


def ask_name(parent: QWidget, current: str) -> str:
    """The name for a face clicked in the preview ('' when cancelled; tests replace this)."""
    text, ok = QInputDialog.getText(parent, "Who is this?", "Name:", text=current)
    return " ".join(text.split()) if ok else ""


class FacePictures:
    """Face crops from photo thumbnails: returns a pixmap now, or None and calls back later."""

    def __init__(self, thumbnails: ThumbnailCache, on_ready: Any) -> None:  # noqa: ANN401
        self.thumbnails = thumbnails
        self._waiting: dict[str, list[people.FaceRow]] = {}
        self._on_ready = on_ready
        thumbnails.ready.connect(self._ready)

    def face(self, library: Library, row: people.FaceRow) -> QPixmap | None:
        photo = library.catalog.photo(row.photo_id)
        if photo is None:
            return None
        key, pixmap = self.thumbnails.request(photo.path, photo.fingerprint, _SOURCE_SIZE,
                                              t_seconds=row.t_seconds)  # a video's keyframe
        if pixmap is None:
            self._waiting.setdefault(key, []).append(row)
            return None
        return crop_face(pixmap, row.box)

    def _ready(self, key: str) -> None:
        if self._waiting.pop(key, None) is not None:
            self._on_ready()


def crop_face(pixmap: QPixmap, box: tuple[float, float, float, float]) -> QPixmap:
    """The face with a margin, square, scaled to the icon size."""
    x, y, w, h = box
    side = max(w * pixmap.width(), h * pixmap.height()) * 1.5
    cx, cy = (x + w / 2) * pixmap.width(), (y + h / 2) * pixmap.height()
    rect = QRect(int(cx - side / 2), int(cy - side / 2), int(side), int(side)).intersected(pixmap.rect())
    return pixmap.copy(rect).scaled(FACE_ICON, FACE_ICON, Qt.AspectRatioMode.KeepAspectRatio,
                                    Qt.TransformationMode.SmoothTransformation)


class PeopleModel(QAbstractListModel):
    """People as cards; the edit role is the name, and editing it names the person."""

    PersonRole = Qt.ItemDataRole.UserRole + 1
    renamed = Signal(int, str)

    def __init__(self, pictures: FacePictures, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.pictures = pictures
        self.library: Library | None = None
        self.people: list[people.Person] = []
        # Shown until a face is cut from its thumbnail: the cards' view sizes every card
        # like the first (uniform sizes), so a card without its picture yet must not
        # be smaller, or every card stays clipped to a sliver once the faces arrive.
        self._placeholder = QPixmap(FACE_ICON, FACE_ICON)
        self._placeholder.fill(QColor("#d0d0d0"))

    def reload(self, library: Library | None) -> None:
        self.beginResetModel()
        self.library = library
        self.people = people.people(library.catalog) if library is not None else []
        self.endResetModel()

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self.people)

    def flags(self, index: _Index) -> Qt.ItemFlag:
        return super().flags(index) | Qt.ItemFlag.ItemIsEditable

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: ANN401
        if not index.isValid():
            return None
        p = self.people[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return f"{p.label}\n{p.photos:,} photo{'s' if p.photos != 1 else ''}"
        if role == Qt.ItemDataRole.EditRole:
            return p.name or ""
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{p.label}: {p.photos:,} photos, {p.faces:,} faces. Double-click to name."
        if role == self.PersonRole:
            return p.id
        if role == Qt.ItemDataRole.DecorationRole and p.best_face is not None and self.library:
            picture = self.pictures.face(self.library, people.face(self.library.catalog, p.best_face))
            return picture if picture is not None else self._placeholder
        return None

    def setData(self, index: _Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:  # noqa: ANN401, N802
        if role != Qt.ItemDataRole.EditRole or self.library is None or not index.isValid():
            return False
        p = self.people[index.row()]
        people.name_person(self.library.catalog, p.id, str(value))
        self.people[index.row()] = people.person(self.library.catalog, p.id)
        self.dataChanged.emit(index, index)
        self.renamed.emit(p.id, str(value))
        return True


class PeopleView(QWidget):
    personSearched = Signal(object, str)  # photo ids, label: show them in the Search tab

    def __init__(self, thumbnails: ThumbnailCache, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.library: Library | None = None
        self.pictures = FacePictures(thumbnails, self._pictures_ready)
        self.model = PeopleModel(self.pictures, self)
        self.model.renamed.connect(lambda *_: self._show_faces())

        self.cards = QListView()
        self.cards.setObjectName("peopleCards")
        self.cards.setViewMode(QListView.ViewMode.IconMode)
        self.cards.setResizeMode(QListView.ResizeMode.Adjust)
        self.cards.setIconSize(QSize(FACE_ICON, FACE_ICON))
        self.cards.setGridSize(QSize(FACE_ICON + 48, FACE_ICON + 48))
        self.cards.setWordWrap(True)
        self.cards.setUniformItemSizes(True)
        self.cards.setMovement(QListView.Movement.Static)
        self.cards.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.cards.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                                   | QAbstractItemView.EditTrigger.EditKeyPressed)
        self.cards.setModel(self.model)
        self.cards.selectionModel().selectionChanged.connect(lambda *_: self._on_selection())

        self.name_button = QPushButton("Name")
        self.merge_button = QPushButton("Merge")
        self.merge_button.setToolTip("Make the selected people one (the first keeps its name)")
        self.hide_button = QPushButton("Hide")
        self.hide_button.setToolTip("Hide this person from the People tab and from name search")
        self.photos_button = QPushButton("Show photos")
        self.name_button.clicked.connect(self._edit_name)
        self.merge_button.clicked.connect(self.merge_selected)
        self.hide_button.clicked.connect(self.hide_selected)
        self.photos_button.clicked.connect(self.show_photos)
        buttons = QHBoxLayout()
        for b in (self.name_button, self.merge_button, self.hide_button, self.photos_button):
            buttons.addWidget(b)
        buttons.addStretch(1)

        self.faces = QListWidget()
        self.faces.setObjectName("personFaces")
        self.faces.setViewMode(QListWidget.ViewMode.IconMode)
        self.faces.setIconSize(QSize(FACE_ICON // 2 + 16, FACE_ICON // 2 + 16))
        self.faces.setFlow(QListWidget.Flow.LeftToRight)
        self.faces.setWrapping(False)
        self.faces.setFixedHeight(FACE_ICON + 12)
        self.not_button = QPushButton("Not this person")
        self.not_button.setToolTip("Take the selected face out; it will never be put back here")
        self.not_button.clicked.connect(self.remove_selected_face)
        face_row = QHBoxLayout()
        face_row.addWidget(self.faces, 1)
        face_row.addWidget(self.not_button)

        # Faces in no person (seen once, or like nobody yet): each can be named, and
        # the faces like it then join it (people.name_face).
        self.unnamed_label = QLabel("Unnamed faces (seen once): double-click one to name it")
        self.unnamed = QListWidget()
        self.unnamed.setObjectName("unnamedFaces")
        self.unnamed.setViewMode(QListWidget.ViewMode.IconMode)
        self.unnamed.setIconSize(QSize(FACE_ICON // 2 + 16, FACE_ICON // 2 + 16))
        self.unnamed.setFlow(QListWidget.Flow.LeftToRight)
        self.unnamed.setWrapping(False)
        self.unnamed.setFixedHeight(FACE_ICON + 12)
        self.unnamed.itemDoubleClicked.connect(self.name_unnamed_face)

        self.empty = QLabel("No people yet. Faces are looked for after indexing; people appear "
                            "once a face is seen in a few photos.")
        self.empty.setWordWrap(True)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(self.empty)
        layout.addWidget(self.cards, 1)
        layout.addLayout(face_row)
        layout.addWidget(self.unnamed_label)
        layout.addWidget(self.unnamed)
        self._on_selection()

    # -- data -------------------------------------------------------------------

    def set_library(self, library: Library | None) -> None:
        self.library = library
        self.refresh()

    def refresh(self) -> None:
        selected = set(self.selected_ids())
        self.model.reload(self.library)
        for row, p in enumerate(self.model.people):
            if p.id in selected:
                self.cards.selectionModel().select(
                    self.model.index(row), self.cards.selectionModel().SelectionFlag.Select)
        self.empty.setVisible(not self.model.people)
        self.cards.setVisible(bool(self.model.people))
        self._show_unnamed()
        self._on_selection()

    def _pictures_ready(self) -> None:
        self.cards.viewport().update()
        if self.model.people:
            self.model.dataChanged.emit(self.model.index(0), self.model.index(len(self.model.people) - 1))
        self._show_faces()
        self._show_unnamed()

    def _show_unnamed(self) -> None:
        self.unnamed.clear()
        lone = (people.lone_faces(self.library.catalog, limit=UNNAMED_SHOWN)
                if self.library is not None else [])
        for row in lone:
            item = QListWidgetItem()
            item.setData(Qt.ItemDataRole.UserRole, row.id)
            pixmap = self.pictures.face(self.library, row)  # type: ignore[arg-type]
            if pixmap is not None:
                item.setIcon(QIcon(pixmap))
            item.setToolTip(f"Face in photo {row.photo_id}, {row.size_px} px. "
                            "Double-click to name.")
            self.unnamed.addItem(item)
        self.unnamed_label.setVisible(bool(lone))
        self.unnamed.setVisible(bool(lone))

    def name_unnamed_face(self, item: QListWidgetItem | None = None) -> None:
        """Ask for a name for an unnamed face; it starts (or joins) that person."""
        item = item or self.unnamed.currentItem()
        if item is None or self.library is None:
            return
        name = ask_name(self, "")
        if not name:
            return
        pid = people.name_face(self.library.catalog, int(item.data(Qt.ItemDataRole.UserRole)), name)
        self.refresh()
        self.select(pid)

    def selected_ids(self) -> list[int]:
        rows = sorted(i.row() for i in self.cards.selectionModel().selectedIndexes())
        return [self.model.people[r].id for r in rows if r < len(self.model.people)]

    def select(self, person_id: int) -> None:
        for row, p in enumerate(self.model.people):
            if p.id == person_id:
                self.cards.selectionModel().setCurrentIndex(
                    self.model.index(row), self.cards.selectionModel().SelectionFlag.ClearAndSelect)

    # -- actions ------------------------------------------------------------------

    def _on_selection(self) -> None:
        n = len(self.selected_ids())
        self.name_button.setEnabled(n == 1)
        self.merge_button.setEnabled(n >= 2)
        self.hide_button.setEnabled(n >= 1)
        self.photos_button.setEnabled(n == 1)
        self._show_faces()

    def _show_faces(self) -> None:
        self.faces.clear()
        ids = self.selected_ids()
        self.not_button.setEnabled(len(ids) == 1)
        if len(ids) != 1 or self.library is None:
            return
        for row in people.faces_of_person(self.library.catalog, ids[0], limit=60):
            item = QListWidgetItem()
            item.setData(Qt.ItemDataRole.UserRole, row.id)
            pixmap = self.pictures.face(self.library, row)
            if pixmap is not None:
                item.setIcon(QIcon(pixmap))
            item.setToolTip(f"Face in photo {row.photo_id}, {row.size_px} px")
            self.faces.addItem(item)

    def _edit_name(self) -> None:
        index = self.cards.currentIndex()
        if index.isValid():
            self.cards.edit(index)

    def name_selected(self, name: str) -> None:
        for i in self.cards.selectionModel().selectedIndexes()[:1]:
            self.model.setData(i, name)

    def merge_selected(self) -> None:
        ids = self.selected_ids()
        if len(ids) < 2 or self.library is None:
            return
        for other in ids[1:]:
            people.merge(self.library.catalog, ids[0], other)
        self.refresh()
        self.select(ids[0])

    def hide_selected(self) -> None:
        if self.library is None:
            return
        for pid in self.selected_ids():
            people.hide_person(self.library.catalog, pid)
        self.refresh()

    def show_photos(self) -> None:
        ids = self.selected_ids()
        if len(ids) != 1 or self.library is None:
            return
        p = people.person(self.library.catalog, ids[0])
        self.personSearched.emit(people.photo_ids_of(self.library.catalog, [p.id]), p.label)

    def remove_selected_face(self) -> None:
        item = self.faces.currentItem()
        if item is None or self.library is None:
            return
        try:
            people.remove_face(self.library.catalog, int(item.data(Qt.ItemDataRole.UserRole)))
        except GlimpseError:
            return
        self.refresh()
