"""The Label tab's judging mode: grade pooled results 0-4 with one key press each.

The pooling (top 20 of every model, shuffled, model names hidden) and the
durable, resumable judged set are :func:`glimpse.evaluation.judging.start_judging`;
ranking may encode the library first, so it runs on a worker thread. This
panel shows one (query, photo) pair at a time and forwards key presses.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage, QKeySequence, QPixmap, QShortcut
from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from glimpse.core.errors import GlimpseError
from glimpse.evaluation.judged import GRADE_NAMES
from glimpse.evaluation.judging import JudgingSession, start_judging
from glimpse.ui.workers import Worker, WorkerPool

if TYPE_CHECKING:
    from glimpse.core.library import Library


class JudgePanel(QWidget):
    """Judge pooled results into a ``query,image,grade`` set. Keys 0-4 grade, S skips."""

    started = Signal(object)  # JudgingSession
    graded = Signal(object)  # the JudgeItem just graded
    failed = Signal(str)

    def __init__(self, library: Library | None, load_image: Any, pool: WorkerPool,
                 image_view: QWidget, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.library = library
        self.session: JudgingSession | None = None
        self._load_image = load_image
        self._pool = pool
        self._worker: Worker | None = None
        self.image = image_view
        self._build()

    def _build(self) -> None:
        self.set_edit = QLineEdit()
        self.set_edit.setPlaceholderText("label set CSV whose labels are the queries")
        self.judged_edit = QLineEdit()
        self.judged_edit.setPlaceholderText("judged set (default: SET-judged.csv beside the label set)")
        self.models_edit = QLineEdit()
        self.models_edit.setPlaceholderText("models to pool, space-separated (default: the library's)")
        self.start_button = QPushButton("Start / resume judging")
        self.start_button.clicked.connect(self.start)
        form = QFormLayout()
        form.addRow("Label set", self.set_edit)
        form.addRow("Judged set", self.judged_edit)
        form.addRow("Models", self.models_edit)
        form.addRow(self.start_button)
        self.query_label = QLabel()
        self.query_label.setWordWrap(True)
        self.query_label.setStyleSheet("font-size: 16pt; font-weight: bold")
        self.counter = QLabel("0 / 0")
        self.grade_buttons: list[QPushButton] = []
        grades = QHBoxLayout()
        for g, name in enumerate(GRADE_NAMES):
            b = QPushButton(f"{g}  {name}")
            b.clicked.connect(lambda _=False, g=g: self.grade(g))
            grades.addWidget(b)
            self.grade_buttons.append(b)
        self.skip_button = QPushButton("S  skip")
        self.skip_button.clicked.connect(self.skip)
        grades.addWidget(self.skip_button)
        self.message_label = QLabel()
        self.message_label.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(form)
        layout.addWidget(self.image, 1)
        head = QHBoxLayout()
        head.addWidget(self.query_label, 1)
        head.addWidget(self.counter)
        layout.addLayout(head)
        layout.addLayout(grades)
        layout.addWidget(self.message_label)
        # One key per grade while the panel (not a text box in it) has the focus.
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        context = Qt.ShortcutContext.WidgetWithChildrenShortcut
        for g in range(len(GRADE_NAMES)):
            QShortcut(QKeySequence(str(g)), self, context=context).activated.connect(
                lambda g=g: self.grade(g))
        QShortcut(QKeySequence("S"), self, context=context).activated.connect(self.skip)
        self._enable(False)

    def set_library(self, library: Library | None) -> None:
        self.library = library
        self.session = None
        self._show()

    def start(self) -> bool:
        """Rank and pool on a worker thread; the first pair shows when it is done."""
        if self.library is None or self._worker is not None:
            return False
        text = self.set_edit.text().strip()
        if not text:
            return self._note("Choose the label set whose labels are the queries.", error=True)
        set_path = Path(text).expanduser()
        judged_text = self.judged_edit.text().strip()
        judged = Path(judged_text).expanduser() if judged_text else set_path.with_name(
            set_path.stem + "-judged.csv")
        models = self.models_edit.text().split() or [str(self.library.spec)]
        library = self.library

        def job(token, progress):  # type: ignore[no-untyped-def]
            return start_judging(library, set_path, judged, models, progress=progress, cancel=token)

        worker = Worker(job, name="judge-pool")
        worker.finished.connect(self._on_started)
        worker.failed.connect(self._on_failed)
        self._worker = worker
        self.start_button.setEnabled(False)
        self._note("Ranking the queries with every model (may encode the library first)…")
        self._pool.start(worker)
        return True

    def grade(self, grade: int) -> bool:
        if self.session is None or self.session.current is None:
            return False
        try:
            item = self.session.grade(grade)
        except GlimpseError as exc:
            return self._note(str(exc), error=True)
        self.graded.emit(item)
        self._show()
        return True

    def skip(self) -> None:
        if self.session is not None and self.session.current is not None:
            self.session.skip()
            self._show()

    def _on_started(self, session: JudgingSession) -> None:
        self._worker = None
        self.start_button.setEnabled(True)
        self.session = session
        self._note(f"{session.done} of {session.total} pooled photos already graded in "
                   f"{session.judged.path.name}; which model found a photo is not shown.")
        self._show()
        self.setFocus()
        self.started.emit(session)

    def _on_failed(self, exc: BaseException) -> None:
        self._worker = None
        self.start_button.setEnabled(True)
        message = str(exc) if isinstance(exc, GlimpseError) else f"Judging failed: {exc!r}"
        self._note(message, error=True)
        self.failed.emit(message)

    def _show(self) -> None:
        session = self.session
        item = session.current if session is not None else None
        self.counter.setText(f"{session.done} / {session.total}" if session else "0 / 0")
        self._enable(item is not None)
        self.image.set_source(QPixmap())  # type: ignore[attr-defined]
        if item is None:
            self.query_label.setText("Every pooled photo has been judged." if session else "")
            return
        self.query_label.setText(item.query)
        if item.abs_path is not None:
            path = item.abs_path
            worker = Worker(lambda token, progress: self._load_image(path), name="judge-image")
            worker.finished.connect(lambda image, p=path: self._image_ready(p, image))
            self._pool.start(worker)

    def _image_ready(self, path: str, image: QImage) -> None:
        item = self.session.current if self.session is not None else None
        if item is not None and item.abs_path == path:
            self.image.set_source(QPixmap.fromImage(image))  # type: ignore[attr-defined]

    def _enable(self, on: bool) -> None:
        for b in (*self.grade_buttons, self.skip_button):
            b.setEnabled(on)

    def _note(self, text: str, error: bool = False) -> bool:
        self.message_label.setStyleSheet("color: #b00020" if error else "")
        self.message_label.setText(text)
        return not error
