"""The Label tab: one random photo at a time, large, with a short and a long label.

All the rules (sampling, resuming, Back, durable appends) are in
:class:`glimpse.evaluation.labeling.LabelingSession`; this widget only shows its
state and forwards button presses. Saving is a single small fsynced append,
fast enough to do on the GUI thread, so the row is on disk before the next
photo appears. Photos are decoded on a worker thread (a large JPEG takes
tens of milliseconds), and a late result for a photo no longer shown is dropped.
"""

from __future__ import annotations

import datetime
import getpass
import re
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QImage, QKeySequence, QPixmap, QResizeEvent, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from glimpse.core.errors import GlimpseError
from glimpse.core.media import imaging
from glimpse.evaluation.labeling import DEFAULT_TARGET, LabelingSession, Offer
from glimpse.ui.judge_panel import JudgePanel
from glimpse.ui.workers import Worker, WorkerPool

if TYPE_CHECKING:
    from glimpse.core.library import Library

IMAGE_SIDE = 1024
ALL_FOLDERS = "All library folders"
# Suggested query categories (the thesis's); any other text may be typed.
QUERY_CATEGORIES = ("", "objects", "actions", "scenes", "abstract", "emotional")
UNSUITABLE_REASONS = ("too blurry", "blank or black", "duplicate", "private", "other")


def _file_label(labeler: str) -> str:
    """A labeler's name as a file-name part: letters, digits, '-' and '_' only."""
    name = re.sub(r"[^\w-]+", "_", labeler.strip(), flags=re.UNICODE).strip("_")
    return name or "labels"


def default_set_path(library_root: Path, labeler: str, today: datetime.date | None = None) -> Path:
    """Where a labeler's set lives when nobody chose a file: inside the library,
    `labels/<labeler>-<date>.csv`. The labeler's latest existing set there is
    resumed (labeling spans days); a new one is named after today."""
    folder = library_root / "labels"
    stem = _file_label(labeler)
    pattern = re.compile(rf"^{re.escape(stem)}-\d{{4}}-\d{{2}}-\d{{2}}\.csv$")
    existing = sorted(p for p in folder.glob(f"{stem}-*.csv") if pattern.match(p.name))
    if existing:
        return existing[-1]
    return folder / f"{stem}-{(today or datetime.date.today()).isoformat()}.csv"


def _login_name() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name (some containers): the labeler types one
        return ""


def _load_image(path: str) -> QImage:
    """Decode off the GUI thread; QImage (unlike QPixmap) may be built on any thread."""
    rgb = imaging.make_thumbnail(path, IMAGE_SIDE).convert("RGB")
    data = rgb.tobytes("raw", "RGB")
    image = QImage(data, rgb.width, rgb.height, rgb.width * 3, QImage.Format.Format_RGB888)
    return image.copy()  # own the pixels before `data` is freed


class _ImageView(QLabel):
    """A label that keeps its pixmap scaled to fit as the window is resized."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumSize(QSize(320, 240))
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self._source = QPixmap()

    def set_source(self, pixmap: QPixmap) -> None:
        self._source = pixmap
        self._rescale()

    def source(self) -> QPixmap:
        return self._source

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt name)
        super().resizeEvent(event)
        self._rescale()

    def _rescale(self) -> None:
        if self._source.isNull():
            self.setPixmap(QPixmap())
            return
        self.setPixmap(
            self._source.scaled(
                self.size(), Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
        )


class LabelTab(QWidget):
    """Label photos into a label-set CSV. Place it as a tab; call shutdown() before closing."""

    offerChanged = Signal(object)  # noqa: N815 (Qt naming) Offer | None
    saved = Signal(object)  # noqa: N815 the LabelRow written (appended or replacing the last)
    imageShown = Signal(str)  # noqa: N815 absolute path of the photo now displayed
    message = Signal(str)  # noqa: N815 the latest note or error, also shown in the tab

    def __init__(
        self,
        library: Library | None,
        parent: QWidget | None = None,
        pool: WorkerPool | None = None,
    ) -> None:
        super().__init__(parent)
        self.library = library
        self.session: LabelingSession | None = None
        self._pool = pool or WorkerPool(1, "label-images", self)
        self._image_worker = None
        self._build()
        self.set_library(library)

    # -- layout ----------------------------------------------------------------

    def _build(self) -> None:
        self.folder_combo = QComboBox()
        self.set_edit = QLineEdit()
        self.set_edit.setPlaceholderText("label set CSV (created if new, resumed if it exists)")
        self.set_edit.setClearButtonEnabled(True)
        browse = QPushButton("Choose…")
        browse.clicked.connect(self._choose_set)
        self.labeler_edit = QLineEdit()
        login = _login_name()
        self.labeler_edit.setPlaceholderText(login or "your name or initials")
        self.labeler_edit.textChanged.connect(self._update_default_set)
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 2**31 - 1)
        self.target_spin = QSpinBox()
        self.target_spin.setRange(1, 1_000_000)
        self.target_spin.setValue(DEFAULT_TARGET)
        self.start_button = QPushButton("Start / resume")
        self.start_button.clicked.connect(self.start)

        set_row = QHBoxLayout()
        set_row.addWidget(self.set_edit, 1)
        set_row.addWidget(browse)
        opts = QHBoxLayout()
        opts.addWidget(QLabel("Labeler"))
        opts.addWidget(self.labeler_edit, 1)
        opts.addWidget(QLabel("Seed"))
        opts.addWidget(self.seed_spin)
        opts.addWidget(QLabel("Target"))
        opts.addWidget(self.target_spin)
        opts.addWidget(self.start_button)
        form = QFormLayout()
        form.addRow("Photos from", self.folder_combo)
        form.addRow("Label set", set_row)
        form.addRow(opts)

        self.image = _ImageView()
        self.path_label = QLabel()
        self.path_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.counter = QLabel("0 / 0")
        self.counter.setStyleSheet("font-weight: bold")
        info = QHBoxLayout()
        info.addWidget(self.path_label, 1)
        info.addWidget(self.counter)

        self.short_edit = QLineEdit()
        self.short_edit.setPlaceholderText("Short label: a few words, up to one short sentence")
        self.long_edit = QPlainTextEdit()
        self.long_edit.setPlaceholderText(
            "Long label: several sentences — the objects, their colours and where they are"
        )
        self.long_edit.setTabChangesFocus(True)
        self.long_edit.setMaximumHeight(110)

        self.save_button = QPushButton("Save  (Ctrl+Enter)")
        self.save_button.clicked.connect(self.save)
        self.skip_button = QPushButton("Sample again")
        self.skip_button.clicked.connect(self.skip)
        self.back_button = QPushButton("Back")
        self.back_button.setToolTip("Re-open the last saved label to correct it")
        self.back_button.clicked.connect(self.back)
        self.reason_combo = QComboBox()
        self.reason_combo.setEditable(True)
        self.reason_combo.addItems(UNSUITABLE_REASONS)
        self.unsuitable_button = QPushButton("Unsuitable")
        self.unsuitable_button.setToolTip("Record that this photo cannot be labeled, and move on")
        self.unsuitable_button.clicked.connect(self.mark_unsuitable)
        buttons = QHBoxLayout()
        for w in (self.save_button, self.skip_button, self.back_button):
            buttons.addWidget(w)
        buttons.addStretch(1)
        buttons.addWidget(self.reason_combo)
        buttons.addWidget(self.unsuitable_button)

        self.message_label = QLabel()
        self.message_label.setWordWrap(True)
        self.category_combo = QComboBox()
        self.category_combo.setEditable(True)
        self.category_combo.addItems(QUERY_CATEGORIES)
        self.category_combo.setToolTip("Optional query category, for per-category results")

        # Two modes: labeling photos (below) and judging pooled results (JudgePanel).
        self.mode_combo = QComboBox()
        self.mode_combo.addItems(["Label photos", "Judge results (graded relevance)"])
        self.pages = QStackedWidget()
        labeling_page = QWidget()
        self.judge_panel = JudgePanel(self.library, _load_image, self._pool, _ImageView())
        self.pages.addWidget(labeling_page)
        self.pages.addWidget(self.judge_panel)
        self.mode_combo.currentIndexChanged.connect(self.pages.setCurrentIndex)
        outer = QVBoxLayout(self)
        mode_row = QHBoxLayout()
        mode_row.addWidget(QLabel("Mode"))
        mode_row.addWidget(self.mode_combo)
        mode_row.addStretch(1)
        outer.addLayout(mode_row)
        outer.addWidget(self.pages, 1)

        layout = QVBoxLayout(labeling_page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(form)
        layout.addWidget(self.image, 1)
        layout.addLayout(info)
        layout.addWidget(QLabel("Short label"))
        layout.addWidget(self.short_edit)
        layout.addWidget(QLabel("Long label"))
        layout.addWidget(self.long_edit)
        category_row = QHBoxLayout()
        category_row.addWidget(QLabel("Category"))
        category_row.addWidget(self.category_combo, 1)
        layout.addLayout(category_row)
        layout.addLayout(buttons)
        layout.addWidget(self.message_label)

        context = Qt.ShortcutContext.WidgetWithChildrenShortcut
        for keys in ("Ctrl+Return", "Ctrl+Enter"):
            shortcut = QShortcut(QKeySequence(keys), self, context=context)
            shortcut.activated.connect(self.save)
        self._set_editing_enabled(False)

    # -- public API --------------------------------------------------------------

    def set_library(self, library: Library | None) -> None:
        """Use another library (the main window opened a different one); ends any session."""
        self.library = library
        self.session = None
        self.judge_panel.set_library(library)
        self.folder_combo.clear()
        self.folder_combo.addItem(ALL_FOLDERS, None)
        for path in library.folder_paths() if library is not None else []:
            self.folder_combo.addItem(path, path)
        self._show_offer(None)
        self._set_editing_enabled(False)
        self.start_button.setEnabled(library is not None)
        self._update_default_set()

    def default_set(self) -> Path | None:
        """The label set used when the box is left empty (None without a library)."""
        if self.library is None:
            return None
        return default_set_path(Path(self.library.root), self.labeler())

    def labeler(self) -> str:
        """Who labels: the name typed, else the login name shown as placeholder."""
        return self.labeler_edit.text().strip() or _login_name()

    def start(self) -> bool:
        """Open (or resume) the chosen label set and show the first photo."""
        if self.library is None:
            return self._note("Open a library first.", error=True)
        text = self.set_edit.text().strip()
        chosen = Path(text).expanduser() if text else self.default_set()
        if chosen is None:
            return self._note("Choose a label set file first.", error=True)
        try:
            chosen.parent.mkdir(parents=True, exist_ok=True)
            self.session = LabelingSession(
                self.library, chosen, folder=self.folder_combo.currentData(),
                seed=self.seed_spin.value(), labeler=self.labeler(),
                target=self.target_spin.value(),
            )
        except (GlimpseError, OSError) as exc:
            self.session = None
            self._set_editing_enabled(False)
            return self._note(str(exc), error=True)
        self._update_default_set()
        self._set_editing_enabled(True)
        self._show_offer(self.session.current)
        self._note(
            f"{self.session.done} labeled so far in {self.session.path.name}; "
            f"{self.session.remaining + (self.session.current is not None)} photos to offer."
        )
        return True

    def save(self) -> bool:
        """Save the labels (append, or replace the row re-opened by Back) and show the next photo."""
        if self.session is None or self.session.current is None:
            return False
        try:
            result = self.session.save(self.short_edit.text(), self.long_edit.toPlainText(),
                                       self.category_combo.currentText())
        except GlimpseError as exc:
            return self._note(str(exc), error=True)
        self.saved.emit(result.row)
        verb = "Corrected" if result.replaced else "Saved"
        self._show_offer(self.session.current)
        self._note(" ".join([f"{verb}.", *result.warnings]))
        return True

    def skip(self) -> None:
        """Sample again without saving (or leave a re-opened row unchanged)."""
        if self.session is None:
            return
        self.session.skip()
        self._show_offer(self.session.current)
        self._note("")

    def back(self) -> bool:
        """Re-open the last saved row; its text goes back into the boxes for correction."""
        if self.session is None:
            return False
        try:
            row = self.session.back()
        except GlimpseError as exc:
            return self._note(str(exc), error=True)
        self._show_offer(self.session.current)
        self.short_edit.setText(row.short)
        self.long_edit.setPlainText(row.long)
        self.category_combo.setCurrentText(row.category)
        self._note("Correcting the last label: Save replaces it, Sample again leaves it as it was.")
        return True

    def mark_unsuitable(self) -> bool:
        if self.session is None or self.session.current is None:
            return False
        try:
            self.session.mark_unsuitable(self.reason_combo.currentText())
        except GlimpseError as exc:
            return self._note(str(exc), error=True)
        self._show_offer(self.session.current)
        self._note("Marked unsuitable; it will not be offered again.")
        return True

    def shutdown(self, timeout_ms: int = 10_000) -> bool:
        """Stop image loading threads (call from the main window's close)."""
        return self._pool.shutdown(timeout_ms)

    # -- internals -------------------------------------------------------------------

    def _choose_set(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Label set", self.set_edit.text(), "Label sets (*.csv)",
            options=QFileDialog.Option.DontConfirmOverwrite,
        )
        if path:
            self.set_edit.setText(path)

    def _update_default_set(self) -> None:
        """Show the default set in the empty box, so one click on Start begins labeling."""
        default = self.default_set()
        if default is None:
            self.set_edit.setPlaceholderText("label set CSV (created if new, resumed if it exists)")
            return
        verb = "resumes" if default.exists() else "creates"
        self.set_edit.setPlaceholderText(f"{default}  (Start {verb} it; Choose… for another file)")

    def _set_editing_enabled(self, on: bool) -> None:
        for w in (self.short_edit, self.long_edit, self.save_button, self.skip_button,
                  self.back_button, self.unsuitable_button, self.reason_combo):
            w.setEnabled(on)

    def _show_offer(self, offer: Offer | None) -> None:
        session = self.session
        editing = session.editing if session is not None else None
        self.short_edit.clear()
        self.long_edit.clear()
        self.category_combo.setCurrentText("")
        self.save_button.setText("Save correction  (Ctrl+Enter)" if editing else "Save  (Ctrl+Enter)")
        self.skip_button.setText("Cancel correction" if editing else "Sample again")
        if session is not None:
            self.counter.setText(f"{session.done} / {session.target}")
        else:
            self.counter.setText("0 / 0")
        self.image.set_source(QPixmap())
        if offer is None:
            self.path_label.setText(
                "Every photo here has been offered." if session is not None else ""
            )
            for w in (self.short_edit, self.long_edit, self.save_button, self.unsuitable_button):
                w.setEnabled(False)
            self.offerChanged.emit(None)
            return
        self._set_editing_enabled(True)
        self.path_label.setText(offer.abs_path or f"{offer.rel_path} (no longer in the library)")
        self.short_edit.setFocus()
        self.offerChanged.emit(offer)
        if offer.abs_path is not None:
            self._request_image(offer.abs_path)

    def _request_image(self, path: str) -> None:
        worker = Worker(lambda token, progress: _load_image(path), name="label-image")
        # Connect before starting: a small photo can decode before a later connect.
        worker.finished.connect(lambda image, p=path: self._image_ready(p, image))
        worker.failed.connect(lambda exc, p=path: self._image_failed(p, exc))
        self._image_worker = self._pool.start(worker)

    def _current_path(self) -> str | None:
        offer = self.session.current if self.session is not None else None
        return offer.abs_path if offer is not None else None

    def _image_ready(self, path: str, image: QImage) -> None:
        if path != self._current_path():
            return  # the labeler moved on while it decoded
        self.image.set_source(QPixmap.fromImage(image))
        self.imageShown.emit(path)

    def _image_failed(self, path: str, exc: BaseException) -> None:
        if path == self._current_path():
            self.image.setText(f"Cannot show this photo: {exc}\nMark it unsuitable or sample again.")

    def _note(self, text: str, error: bool = False) -> bool:
        self.message_label.setStyleSheet("color: #b00020" if error else "")
        self.message_label.setText(text)
        self.message.emit(text)
        return not error
