"""The preview pane: a larger picture of the selected photo and the facts about it.

The larger picture comes through the same off-thread ThumbnailCache as the
grid (memory only: previews are too big and too few to be worth a disk cache),
so selecting a 50-megapixel photo never freezes the window.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass

from PySide6.QtCore import QEvent, QObject, QPoint, QRect, QSize, Qt, QUrl, Signal
from PySide6.QtGui import (
    QColor,
    QDesktopServices,
    QMouseEvent,
    QPainter,
    QPen,
    QPixmap,
    QResizeEvent,
)
from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QRubberBand,
    QSizePolicy,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from glimpse.core.search.ranking import SearchHit
from glimpse.core.search.region import Region
from glimpse.core.storage.catalog import SNIPPET_CLOSE, SNIPPET_OPEN
from glimpse.ui import resources
from glimpse.ui.thumbnails import ThumbnailCache

PREVIEW_SIZE = 1024
DRAG_MIN_PX = 8  # a smaller drag is a click (on a face: name it)
HIGHLIGHT = "background-color: #ffd54f; color: black;"


def highlighted_html(snippet: str) -> str:
    """The text found in a photo, HTML-escaped, with the matched words highlighted."""
    from html import escape

    body = escape(snippet).replace(SNIPPET_OPEN, f'<span style="{HIGHLIGHT}">')
    body = body.replace(SNIPPET_CLOSE, "</span>")
    return body.replace("\n", "<br>")


def open_in_viewer(path: str) -> bool:
    """The system's default app for the file (tests replace this)."""
    return QDesktopServices.openUrl(QUrl.fromLocalFile(path))


# Players that take a start time on the command line: (program, option).
_PLAYERS = (("vlc", "--start-time={t}"), ("mpv", "--start={t}"), ("celluloid", "--mpv-start={t}"))


def open_hit(hit: SearchHit) -> bool:
    """Open a result; a video starts at its matching moment when a known player
    (VLC, mpv) is installed, otherwise the system's default app opens it at the start."""
    if hit.kind == "video" and hit.t_seconds:
        for program, option in _PLAYERS:
            exe = shutil.which(program)
            if exe:
                try:
                    subprocess.Popen([exe, option.format(t=f"{hit.t_seconds:g}"), hit.path])
                    return True
                except OSError:
                    continue
    return open_in_viewer(hit.path)


def clock(seconds: float) -> str:
    """0:42, 1:02:03"""
    m, s = divmod(int(round(seconds)), 60)
    return f"{m // 60}:{m % 60:02d}:{s:02d}" if m >= 60 else f"{m}:{s:02d}"


def show_in_folder(path: str) -> bool:
    """Reveal the file in the system file manager, selected where the platform allows."""
    try:
        if sys.platform == "win32":
            subprocess.Popen(["explorer", "/select,", os.path.normpath(path)])
            return True
        if sys.platform == "darwin":
            subprocess.Popen(["open", "-R", path])
            return True
    except OSError:
        pass
    return QDesktopServices.openUrl(QUrl.fromLocalFile(os.path.dirname(path)))


def human_size(n: int) -> str:
    size = float(n)
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} bytes"


@dataclass(frozen=True)
class PreviewFace:
    """A face to outline on the preview (from core/signals/people.py, given by the Search tab)."""

    face_id: int
    box: tuple[float, float, float, float]  # fractions of the upright photo
    name: str | None  # the person's label, or None while the face belongs to nobody
    person_id: int | None


class PreviewPane(QWidget):
    openRequested = Signal(str)
    revealRequested = Signal(str)
    similarRequested = Signal(object)  # SearchHit
    faceClicked = Signal(object)  # PreviewFace: the user wants to name it
    personRequested = Signal(int, str)  # person id, label: "more of this person"
    regionRequested = Signal(object, object)  # SearchHit, Region: "more like this part"

    def __init__(self, thumbnails: ThumbnailCache, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("previewPane")
        self.thumbnails = thumbnails
        self.hit: SearchHit | None = None
        self._key = ""
        self._pixmap: QPixmap | None = None

        self.image = QLabel("Select a photo to see it here")
        self.image.setObjectName("previewImage")
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.image.setMinimumSize(QSize(200, 160))
        self.image.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Expanding)

        self.name = QLabel()
        self.name.setObjectName("previewName")
        self.name.setWordWrap(True)
        self.path = self._value_label()
        self.date = self._value_label()
        self.dims = self._value_label()
        self.score = self._value_label()
        self.faces: list[PreviewFace] = []
        self._face_rects: list[tuple[QRect, PreviewFace]] = []
        self.people_label = self._value_label()
        self.people_label.setTextFormat(Qt.TextFormat.RichText)
        self.people_label.setToolTip("Click a name for more of this person")
        self.people_label.linkActivated.connect(self._on_person_link)
        self.image.setMouseTracking(True)
        self.image.installEventFilter(self)
        # Drag a rectangle on the photo: photos like that part (core/search/region.py).
        self._band = QRubberBand(QRubberBand.Shape.Rectangle, self.image)
        self._drag_start: QPoint | None = None
        self.region: Region | None = None  # the part last searched, outlined on the photo
        self.hint = QLabel("Drag a rectangle on the photo to find photos like that part")
        self.hint.setObjectName("previewHint")
        self.hint.setWordWrap(True)
        self.found_text = self._value_label()
        self.found_text.setObjectName("previewText")
        self.found_text.setTextFormat(Qt.TextFormat.RichText)
        form = QFormLayout()
        form.addRow("Folder", self.path)
        form.addRow("Taken", self.date)
        form.addRow("Size", self.dims)
        form.addRow("Score", self.score)
        form.addRow("Text", self.found_text)
        form.addRow("People", self.people_label)
        self._form = form

        self.open_button = QPushButton(resources.icon("open"), "Open")
        self.open_button.setToolTip("Open in the system viewer (Enter)")
        self.reveal_button = QPushButton(resources.icon("folder"), "Show in folder")
        self.similar_button = QPushButton(resources.icon("similar"), "More like this")
        self.similar_button.setToolTip("Find photos like this one (Ctrl+L)")
        self.open_button.clicked.connect(lambda: self.hit and self.openRequested.emit(self.hit.path))
        self.reveal_button.clicked.connect(
            lambda: self.hit and self.revealRequested.emit(self.hit.path)
        )
        self.similar_button.clicked.connect(lambda: self.hit and self.similarRequested.emit(self.hit))
        buttons = QHBoxLayout()
        for b in (self.open_button, self.reveal_button, self.similar_button):
            buttons.addWidget(b)

        layout = QVBoxLayout(self)
        layout.addWidget(self.image, 1)
        layout.addWidget(self.hint)
        layout.addWidget(self.name)
        layout.addLayout(form)
        layout.addLayout(buttons)
        thumbnails.ready.connect(self._on_ready)
        thumbnails.failed.connect(self._on_failed)
        self.show_hit(None)

    @staticmethod
    def _value_label() -> QLabel:
        label = QLabel()
        label.setWordWrap(True)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        return label

    def show_hit(self, hit: SearchHit | None) -> None:
        if hit is None or self.hit is None or hit.photo_id != self.hit.photo_id:
            self.region = None
        self.hit = hit
        self.hint.setVisible(hit is not None and hit.kind != "video")
        for b in (self.open_button, self.reveal_button, self.similar_button):
            b.setEnabled(hit is not None)
        if hit is None:
            self._pixmap = None
            self.image.setPixmap(QPixmap())
            self.image.setText("Select a photo to see it here")
            for label in (self.name, self.path, self.date, self.dims, self.score, self.found_text):
                label.clear()
            self._form.setRowVisible(self.found_text, False)
            self.set_faces([])
            return
        self.name.setText(os.path.basename(hit.path))
        self.path.setText(os.path.dirname(hit.path))
        self.date.setText(hit.taken_at.replace("T", " ") if hit.taken_at else "unknown")
        try:
            nbytes = human_size(os.path.getsize(hit.path))
        except OSError:
            nbytes = "file missing"
        dims = f"{hit.width} × {hit.height} px, " if hit.width and hit.height else ""
        if hit.kind == "video" and hit.duration is not None:
            at = f", frame at {clock(hit.t_seconds)}" if hit.t_seconds is not None else ""
            dims = f"video {clock(hit.duration)}{at}, " + dims
        self.dims.setText(dims + nbytes)
        if hit.place:
            self.date.setText(f"{self.date.text()} · {hit.place}")
        self.score.setText(f"{hit.score:.3f}")
        self.found_text.setText(highlighted_html(hit.snippet) if hit.snippet else "")
        self.found_text.setToolTip(f"Found in {hit.word_source}" if hit.word_source else "")
        self._form.setRowVisible(self.found_text, bool(hit.snippet))
        self._key, pixmap = self.thumbnails.request(
            hit.path, hit.fingerprint, PREVIEW_SIZE, use_disk=False, t_seconds=hit.t_seconds
        )
        self._pixmap = pixmap
        if pixmap is None:
            self.image.setPixmap(QPixmap())
            self.image.setText("Loading…")
        self._fit()

    def _on_ready(self, key: str) -> None:
        if key == self._key and self.hit is not None:
            self._pixmap = self.thumbnails.get(key)
            self._fit()

    def _on_failed(self, key: str, reason: str) -> None:
        if key == self._key:
            self._pixmap = None
            self.image.setPixmap(QPixmap())
            self.image.setText(f"Cannot show this photo:\n{reason}")

    def set_faces(self, faces: list[PreviewFace]) -> None:
        """Outline these faces on the photo and list the people (names link to their photos)."""
        from html import escape

        self.faces = list(faces)
        named: dict[int, str] = {f.person_id: f.name for f in faces
                                 if f.person_id is not None and f.name}
        self.people_label.setText(", ".join(
            f'<a href="person:{pid}">{escape(name)}</a>' for pid, name in named.items()))
        self._form.setRowVisible(self.people_label, bool(named))
        self._fit()

    def _on_person_link(self, link: str) -> None:
        pid = int(link.split(":", 1)[1])
        name = next((f.name for f in self.faces if f.person_id == pid), None) or ""
        self.personRequested.emit(pid, name)

    def _fit(self) -> None:
        if self._pixmap is None or self._pixmap.isNull():
            return
        scaled = self._pixmap.scaled(
            self.image.size(), Qt.AspectRatioMode.KeepAspectRatio,
            Qt.TransformationMode.SmoothTransformation,
        )
        self._face_rects = []
        if self.faces:
            painter = QPainter(scaled)
            for face in self.faces:
                x, y, w, h = face.box
                rect = QRect(int(x * scaled.width()), int(y * scaled.height()),
                             max(1, int(w * scaled.width())), max(1, int(h * scaled.height())))
                painter.setPen(QPen(QColor("#ffd54f") if face.name else QColor("white"), 2))
                painter.drawRect(rect)
                self._face_rects.append((rect, face))
            painter.end()
        if self.region is not None:
            painter = QPainter(scaled)
            painter.setPen(QPen(QColor("#2b6cb0"), 2, Qt.PenStyle.DashLine))
            r = self.region
            painter.drawRect(QRect(int(r.x * scaled.width()), int(r.y * scaled.height()),
                                   max(1, int(r.w * scaled.width())), max(1, int(r.h * scaled.height()))))
            painter.end()
        self.image.setPixmap(scaled)

    def _pixmap_rect(self) -> QRect:
        """Where the shown picture lies in the image label (it is centred there)."""
        pixmap = self.image.pixmap()
        if pixmap is None or pixmap.isNull():
            return QRect()
        return QRect(QPoint((self.image.width() - pixmap.width()) // 2,
                            (self.image.height() - pixmap.height()) // 2), pixmap.size())

    def region_of(self, rect: QRect) -> Region | None:
        """A rectangle on the image label as fractions of the photo (None: too small)."""
        shown = self._pixmap_rect()
        part = rect.normalized() & shown
        if shown.isEmpty() or part.width() < DRAG_MIN_PX or part.height() < DRAG_MIN_PX:
            return None
        w, h = shown.width(), shown.height()
        return Region((part.x() - shown.x()) / w, (part.y() - shown.y()) / h,
                      part.width() / w, part.height() / h)

    def _drag(self, event: QMouseEvent) -> bool:
        """Press, move, release on the photo: a rubber band, then "more like this part".
        True when the event was the drag's."""
        pos = event.position().toPoint()
        kind = event.type()
        if kind == QEvent.Type.MouseButtonPress and event.button() == Qt.MouseButton.LeftButton:
            can = self.hit is not None and self.hit.kind != "video"
            self._drag_start = pos if can and self._pixmap_rect().contains(pos) else None
            return False
        if self._drag_start is None:
            return False
        if kind == QEvent.Type.MouseMove:
            if (pos - self._drag_start).manhattanLength() < DRAG_MIN_PX and not self._band.isVisible():
                return False
            self._band.setGeometry(QRect(self._drag_start, pos).normalized() & self._pixmap_rect())
            self._band.show()
            return True
        if kind == QEvent.Type.MouseButtonRelease:
            self._drag_start = None
            if not self._band.isVisible():
                return False  # a click
            self._band.hide()
            part = self.region_of(self._band.geometry())
            if part is not None and self.hit is not None:
                self.region = part
                self._fit()
                self.regionRequested.emit(self.hit, part)
            return True
        return False

    def face_at(self, pos: QPoint) -> PreviewFace | None:
        """The face under a point of the image label (the pixmap is centred in it)."""
        shown = self._pixmap_rect()
        if shown.isEmpty():
            return None
        offset = shown.topLeft()
        for rect, face in self._face_rects:
            if rect.contains(pos - offset):
                return face
        return None

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        """Hover over a face: its name; click it: name it; drag: search a part."""
        if obj is self.image and isinstance(event, QMouseEvent) and self._drag(event):
            return True
        if obj is self.image and self.faces and isinstance(event, QMouseEvent):
            face = self.face_at(event.position().toPoint())
            if event.type() == QEvent.Type.MouseMove:
                text = (face.name or "Unknown: click to name") if face else ""
                QToolTip.showText(event.globalPosition().toPoint(), text, self.image)
            elif event.type() == QEvent.Type.MouseButtonRelease and face is not None:
                self.faceClicked.emit(face)
                return True
        return super().eventFilter(obj, event)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit()
