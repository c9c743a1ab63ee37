"""The Evaluate tab: run `glimpse eval` from the GUI and show its table and plots.

The evaluation (encoding the library with each model, exact ranking, fusion,
report files) is :func:`glimpse.evaluation.runner.run_evaluation` on a worker
thread; this widget collects the choices, shows progress, offers Cancel, and
displays the result: one table row per model x label type, the fusion
verdicts, and the PNG plots the run wrote.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from glimpse.core.errors import GlimpseError
from glimpse.evaluation.metrics import HIT_KS, visible_hit_ks
from glimpse.evaluation.runner import EvalProgress, EvalResult, run_evaluation
from glimpse.ui.workers import Worker, WorkerPool

if TYPE_CHECKING:
    from glimpse.core.library import Library

_Index = QModelIndex | QPersistentModelIndex
QUERY_COLUMNS = ("Model", "Labels", "Query", "Rank", "Intended photo", "First results")


def _columns(gallery_size: int | None = None) -> list[tuple[str, Any]]:
    """(header, function of (model, label type, Summary) -> cell text).

    Known-item measures only, under their own names (hit@k, ranks, MRR), each
    once; hit@k for k above the gallery size is 100% by construction and is left out.
    """
    ks = HIT_KS if gallery_size is None else visible_hit_ks(gallery_size)
    cols: list[tuple[str, Any]] = [
        ("Model", lambda m, lt, s: m),
        ("Labels", lambda m, lt, s: lt),
        ("Queries", lambda m, lt, s: str(s.n_queries)),
    ]
    cols += [(f"hit@{k}", lambda m, lt, s, k=k: f"{100 * s.hit_at[k]:.1f}%") for k in ks]
    cols += [
        ("Median rank", lambda m, lt, s: f"{s.median_rank:g}"),
        ("Mean rank", lambda m, lt, s: f"{s.mean_rank:.1f}"),
        ("MRR", lambda m, lt, s: f"{s.mrr:.4f}"),
    ]
    return cols


class MetricsTableModel(QAbstractTableModel):
    """Rows: (model, label type) of an EvalResult; columns: every metric of the report."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: list[tuple[str, str, Any]] = []
        self.columns = _columns()

    def set_result(self, result: EvalResult | None) -> None:
        self.beginResetModel()
        self._rows = []
        self.columns = _columns(None if result is None else result.gallery_size)
        if result is not None:
            models = list(dict.fromkeys(m for m, _ in result.summaries))
            for m in models:
                for lt in result.label_types:
                    if (m, lt) in result.summaries:
                        self._rows.append((m, lt, result.summaries[(m, lt)]))
        self.endResetModel()

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self.columns)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            m, lt, s = self._rows[index.row()]
            return self.columns[index.column()][1](m, lt, s)
        if role == Qt.ItemDataRole.TextAlignmentRole and index.column() >= 2:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def headerData(  # noqa: N802
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Horizontal:
            return self.columns[section][0]
        return str(section + 1)


class EvaluateTab(QWidget):
    """Evaluate models on a label set. Place it as a tab; call shutdown() before closing."""

    evaluationFinished = Signal(object)  # noqa: N815 EvalResult
    evaluationFailed = Signal(str)  # noqa: N815 message for the user (cancel included)

    def __init__(
        self,
        library: Library | None,
        parent: QWidget | None = None,
        pool: WorkerPool | None = None,
    ) -> None:
        super().__init__(parent)
        self.library = library
        self.result: EvalResult | None = None
        self._pool = pool or WorkerPool(1, "evaluate", self)
        self._worker: Worker | None = None
        self._build()
        self.set_library(library)

    # -- layout ------------------------------------------------------------------

    def _build(self) -> None:
        self.set_edit = QLineEdit()
        self.set_edit.setPlaceholderText("label set CSV")
        browse = QPushButton("Choose…")
        browse.clicked.connect(self._choose_set)
        set_row = QHBoxLayout()
        set_row.addWidget(self.set_edit, 1)
        set_row.addWidget(browse)

        self.models_edit = QPlainTextEdit()
        self.models_edit.setPlaceholderText(
            "one model per line: ARCH:TAG, or ARCH:/path/to/checkpoint"
        )
        self.models_edit.setMaximumHeight(72)
        self.short_check = QCheckBox("short labels")
        self.short_check.setChecked(True)
        self.long_check = QCheckBox("long labels")
        self.long_check.setChecked(True)
        self.fuse_check = QCheckBox("rank fusion of each pair (RRF)")
        self.fuse_check.setChecked(True)
        opts = QHBoxLayout()
        for w in (self.short_check, self.long_check, self.fuse_check):
            opts.addWidget(w)
        opts.addStretch(1)
        self.out_edit = QLineEdit()
        self.out_edit.setPlaceholderText("report folder (default: SET-eval beside the set)")
        # The CLI's --templates/--ensemble, --noise and --folder.
        self.templates_edit = QLineEdit()
        self.templates_edit.setPlaceholderText('prompt templates separated by "|", e.g. {} | a photo of {}'
                                               " (empty: as typed)")
        self.ensemble_check = QCheckBox("ensemble (mean of the templates)")
        self.noise_combo = QComboBox()
        self.noise_combo.addItem("no noisy queries", None)
        self.noise_combo.addItem("+ queries with typos", "typos")
        self.noise_combo.addItem("+ queries with junk words", "junk")
        self.folder_edit = QLineEdit()
        self.folder_edit.setPlaceholderText("rank within this library folder only (empty: the whole library)")
        wording = QHBoxLayout()
        wording.addWidget(self.templates_edit, 1)
        wording.addWidget(self.ensemble_check)
        wording.addWidget(self.noise_combo)

        self.run_button = QPushButton("Run evaluation")
        self.run_button.clicked.connect(self.run)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        run_row = QHBoxLayout()
        run_row.addWidget(self.run_button)
        run_row.addWidget(self.cancel_button)
        run_row.addWidget(self.progress_bar, 1)

        form = QFormLayout()
        form.addRow("Label set", set_row)
        form.addRow("Models", self.models_edit)
        form.addRow("Queries", opts)
        form.addRow("Wording", wording)
        form.addRow("Gallery folder", self.folder_edit)
        form.addRow("Report folder", self.out_edit)

        self.table_model = MetricsTableModel(self)
        self.table = QTableView()
        self.table.setModel(self.table_model)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.summary_label = QLabel()
        self.summary_label.setWordWrap(True)
        self.summary_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.plots_widget = QWidget()
        self.plots_layout = QVBoxLayout(self.plots_widget)
        self.plots_layout.addStretch(1)
        self.plots_scroll = QScrollArea()
        self.plots_scroll.setWidgetResizable(True)
        self.plots_scroll.setWidget(self.plots_widget)
        self.plot_labels: list[QLabel] = []

        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addWidget(self.table, 1)
        top_layout.addWidget(self.summary_label)
        # Every query's outcome, worst first: why did it fail, what came first instead?
        self.queries_table = QTableWidget(0, len(QUERY_COLUMNS))
        self.queries_table.setHorizontalHeaderLabels(list(QUERY_COLUMNS))
        self.queries_table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.queries_table.horizontalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.ResizeToContents)
        self.lower_tabs = QTabWidget()
        self.lower_tabs.addTab(self.plots_scroll, "Plots")
        self.lower_tabs.addTab(self.queries_table, "Queries")
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(top)
        splitter.addWidget(self.lower_tabs)
        splitter.setStretchFactor(1, 2)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(run_row)
        layout.addWidget(self.status_label)
        layout.addWidget(splitter, 1)

    # -- public API --------------------------------------------------------------------

    def set_library(self, library: Library | None) -> None:
        """Use another library; the model box starts with that library's current model."""
        self.library = library
        if library is not None and not self.models_edit.toPlainText().strip():
            self.models_edit.setPlainText(str(library.spec))
        self.run_button.setEnabled(library is not None and self._worker is None)

    def model_specs(self) -> list[str]:
        return [line.strip() for line in self.models_edit.toPlainText().splitlines() if line.strip()]

    def templates(self) -> list[str]:
        """The prompt templates typed, "|"-separated (a template itself never needs "|")."""
        return [t.strip() for t in self.templates_edit.text().split("|") if t.strip()]

    def label_types(self) -> list[str]:
        return [lt for lt, box in (("short", self.short_check), ("long", self.long_check))
                if box.isChecked()]

    def run(self) -> bool:
        """Start the evaluation on the worker pool; False (with a message) if it cannot start."""
        if self.library is None or self._worker is not None:
            return False
        set_text = self.set_edit.text().strip()
        if not set_text:
            return self._fail("Choose a label set first.")
        set_path = Path(set_text).expanduser()
        if not set_path.is_file():
            return self._fail(f"Label set {set_path} does not exist.")
        specs, types = self.model_specs(), self.label_types()
        if not specs:
            return self._fail("Name at least one model (one per line).")
        if not types:
            return self._fail("Tick short labels, long labels or both.")
        out_text = self.out_edit.text().strip()
        out = Path(out_text).expanduser() if out_text else set_path.with_name(set_path.stem + "-eval")
        library, fuse = self.library, self.fuse_check.isChecked()
        templates = self.templates() or None
        ensemble, noise = self.ensemble_check.isChecked(), self.noise_combo.currentData()
        folder = self.folder_edit.text().strip() or None

        def job(token, progress):  # type: ignore[no-untyped-def]
            return run_evaluation(library, set_path, specs, out, label_types=types, fuse=fuse,
                                  progress=progress, cancel=token, folder=folder,
                                  templates=templates, ensemble=ensemble, noise=noise)

        worker = Worker(job, name="evaluate")
        worker.progress.connect(self._on_progress)
        worker.finished.connect(self._on_finished)
        worker.failed.connect(self._on_failed)
        self._worker = worker
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress_bar.setRange(0, 0)  # busy until the first count arrives
        self._status("Starting…")
        self._pool.start(worker)
        return True

    def cancel(self) -> None:
        """Stop after the current batch; vectors already encoded are kept."""
        if self._worker is not None:
            self._worker.cancel()
            self.cancel_button.setEnabled(False)
            self._status("Stopping after the current batch…")

    def running(self) -> bool:
        return self._worker is not None

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        """Cancel a running evaluation and wait for its thread (call from the main window's close)."""
        return self._pool.shutdown(timeout_ms)

    # -- worker callbacks ------------------------------------------------------------------

    def _on_progress(self, p: EvalProgress) -> None:
        inner = p.inner
        if inner is not None and inner.total:
            self.progress_bar.setRange(0, inner.total)
            self.progress_bar.setValue(inner.done)
            self._status(f"{p.step}: {inner.done}/{inner.total}")
        else:
            self.progress_bar.setRange(0, 0)
            self._status(p.step)

    def _on_finished(self, result: EvalResult) -> None:
        self._end_run()
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(1)
        self.show_result(result)
        self._status(f"Done. Report in {result.out_dir}")
        self.evaluationFinished.emit(result)

    def _on_failed(self, exc: BaseException) -> None:
        self._end_run()
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        message = str(exc) if isinstance(exc, GlimpseError) else f"Evaluation failed: {exc!r}"
        self._fail(message)

    def show_result(self, result: EvalResult) -> None:
        """Fill the table, the notes (search, skips, fusion) and the plots from a result."""
        self.result = result
        self.table_model.set_result(result)
        notes = [
            f"Gallery: {result.gallery_size} photos; ranks from {result.search}.",
            "Queries: " + ", ".join(f"{lt} {n}" for lt, n in result.n_queries.items()) + ".",
        ]
        notes += [f"Skipped {c} {lt} queries: {reason}."
                  for (lt, reason), c in sorted(result.skip_counts().items())]
        notes += [v.sentence() + "." for v in result.fusion]
        notes += [f"{m} / {lt} / {c}: {sm.n_queries} queries, hit@10 {100 * sm.hit_at[10]:.1f}%, "
                  f"MRR {sm.mrr:.4f}" for (m, lt, c), sm in result.by_category.items()]
        notes.append(f"Files: {result.ranks_csv}, {result.summary_json}")
        self._fill_queries(result)
        self.summary_label.setText("\n".join(notes))
        for label in self.plot_labels:
            self.plots_layout.removeWidget(label)
            label.deleteLater()
        self.plot_labels = []
        for i, path in enumerate(result.plots):
            label = QLabel()
            pixmap = QPixmap(str(path))
            if pixmap.isNull():
                label.setText(f"Cannot show {path}")
            else:
                label.setPixmap(pixmap)
            label.setToolTip(str(path))
            self.plots_layout.insertWidget(i, label)
            self.plot_labels.append(label)

    # -- internals -----------------------------------------------------------------------

    def _fill_queries(self, result: EvalResult) -> None:
        rows = [(m, lt, ex) for (m, lt), exs in result.examples.items() for ex in exs]
        table = self.queries_table
        table.setSortingEnabled(False)
        table.setRowCount(len(rows))
        for i, (m, lt, ex) in enumerate(rows):
            first = ", ".join(Path(p).name for p in ex.top)
            cells = (m, lt, ex.query, str(ex.rank), Path(ex.target).name, first)
            tips = (m, lt, ex.query, str(ex.rank), ex.target, "\n".join(ex.top))
            for j, (text, tip) in enumerate(zip(cells, tips, strict=True)):
                item = QTableWidgetItem(text)
                item.setToolTip(tip)
                if j == 3:
                    item.setData(Qt.ItemDataRole.DisplayRole, ex.rank)  # sorts as a number
                table.setItem(i, j, item)
        table.setSortingEnabled(True)  # the user may sort by any column; start worst first
        table.sortItems(3, Qt.SortOrder.DescendingOrder)

    def _end_run(self) -> None:
        self._worker = None
        self.run_button.setEnabled(self.library is not None)
        self.cancel_button.setEnabled(False)

    def _choose_set(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Label set", self.set_edit.text(), "Label sets (*.csv)"
        )
        if path:
            self.set_edit.setText(path)

    def _status(self, text: str, error: bool = False) -> None:
        self.status_label.setStyleSheet("color: #b00020" if error else "")
        self.status_label.setText(text)

    def _fail(self, message: str) -> bool:
        self._status(message, error=True)
        self.evaluationFailed.emit(message)
        return False
