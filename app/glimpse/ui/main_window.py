"""The window a person uses every day: search box, folders, result grid, preview, status.

It holds no search or indexing logic: user actions become controller calls,
and controller signals become model updates. Every engine call runs on a
worker, so the event loop is never blocked.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import (
    QEvent,
    QItemSelectionModel,
    QMimeData,
    QObject,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QGuiApplication,
    QImage,
    QKeyEvent,
    QKeySequence,
    QShortcut,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListView,
    QMainWindow,
    QMenu,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QToolButton,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from glimpse.core import imaging
from glimpse.core.errors import GlimpseError
from glimpse.core.indexer import Progress
from glimpse.core.models import ModelSpec
from glimpse.core.search import Filters, SearchHit, parse_date
from glimpse.ui import preferences as prefs
from glimpse.ui import preview as preview_mod
from glimpse.ui import resources
from glimpse.ui.controller import ERROR, READY, IndexOutcome, LibraryController, SearchOutcome
from glimpse.ui.errors_dialog import ErrorsDialog
from glimpse.ui.evaluate_tab import EvaluateTab
from glimpse.ui.folders_model import FolderRole, FoldersModel
from glimpse.ui.label_tab import LabelTab
from glimpse.ui.preview import PreviewPane
from glimpse.ui.results_model import HitRole, ResultsModel
from glimpse.ui.settings_dialog import SettingsDialog, SettingsValues
from glimpse.ui.thumbnails import ThumbnailCache

DEBOUNCE_MS = 250


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return "less than a minute left"
    if seconds < 3600:
        return f"about {round(seconds / 60)} min left"
    return f"about {seconds / 3600:.1f} h left"


def image_source(mime: QMimeData) -> str | QImage | None:
    """The image a drop or paste carries: a supported local file, or raw pixels."""
    if mime.hasUrls():
        for url in mime.urls():
            path = url.toLocalFile()
            if path and os.path.isfile(path) and imaging.is_supported(path):
                return path
    if mime.hasImage():
        image = mime.imageData()
        if isinstance(image, QImage) and not image.isNull():
            return image
    return None


class MainWindow(QMainWindow):
    resultsShown = Signal(object)  # SearchOutcome, after the grid shows it

    def __init__(
        self,
        controller: LibraryController | None = None,
        preferences: prefs.Preferences | None = None,
        thumbnails: ThumbnailCache | None = None,
    ) -> None:
        super().__init__()
        self.controller = controller or LibraryController(self)
        self.prefs = preferences or prefs.Preferences()
        self.thumbnails = thumbnails or ThumbnailCache(parent=self)
        self.setWindowTitle("Glimpse")
        self.setWindowIcon(resources.app_icon())
        self.setAcceptDrops(True)
        self._query: tuple[str, object, str] | None = None  # kind, value, label
        self._closed = False
        self._errors_dialog: ErrorsDialog | None = None

        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._debounce.timeout.connect(self.run_search)

        self._build_actions()
        self._build_toolbar()
        self._build_center()
        self._build_status_bar()
        self._connect_controller()
        self._restore()
        self._update_center()

    # -- building -------------------------------------------------------------

    def _action(self, text: str, icon: str, shortcut: QKeySequence | str | None, slot) -> QAction:
        action = QAction(resources.icon(icon), text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
            action.setToolTip(f"{text} ({QKeySequence(shortcut).toString(QKeySequence.SequenceFormat.NativeText)})")
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        self.add_folder_action = self._action("Add folder…", "folder-add", "Ctrl+O", self.choose_folder)
        self.settings_action = self._action("Settings…", "settings", "Ctrl+,", self.open_settings)
        self.similar_action = self._action("More like this", "similar", "Ctrl+L", self.more_like_selected)
        self.focus_action = self._action("Search", "search", QKeySequence.StandardKey.Find, self.focus_search)
        self.clear_action = self._action("Clear search", "clear", "Esc", self.clear_search)
        self.paste_action = self._action("Search by pasted image", "photo", QKeySequence.StandardKey.Paste, self.paste_image)
        self.open_action = self._action("Open", "open", None, self.open_selected)
        self.reveal_action = self._action("Show in folder", "folder", None, self.reveal_selected)
        self.errors_action = self._action("Unreadable files…", "warning", None, self.show_errors)

    def _build_toolbar(self) -> None:
        bar = self.addToolBar("Main")
        bar.setObjectName("mainToolbar")
        bar.setMovable(False)
        bar.setIconSize(QSize(20, 20))
        bar.addAction(self.add_folder_action)
        self.search = QLineEdit()
        self.search.setObjectName("searchField")
        self.search.setPlaceholderText("Describe a photo, e.g. “dog on a beach”  (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self.search.addAction(resources.icon("search"), QLineEdit.ActionPosition.LeadingPosition)
        self.search.textEdited.connect(self._on_text_edited)
        self.search.returnPressed.connect(self.run_search)
        self.search.installEventFilter(self)
        bar.addWidget(self.search)
        bar.addAction(self.similar_action)
        bar.addAction(self.settings_action)

    def _build_center(self) -> None:
        # Folders panel
        self.folders_model = FoldersModel(self)
        self.folders_view = QTreeView()
        self.folders_view.setObjectName("foldersView")
        self.folders_view.setModel(self.folders_model)
        self.folders_view.setRootIsDecorated(False)
        self.folders_view.setUniformRowHeights(True)
        self.folders_view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        header = self.folders_view.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col in (1, 2, 3):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        self.remove_folder_button = QPushButton(resources.icon("remove"), "Remove")
        self.remove_folder_button.setToolTip("Stop watching the selected folder (files stay on disk)")
        self.remove_folder_button.clicked.connect(self.remove_selected_folder)
        add_button = QPushButton(resources.icon("folder-add"), "Add…")
        add_button.clicked.connect(self.choose_folder)
        folder_buttons = QHBoxLayout()
        folder_buttons.addWidget(add_button)
        folder_buttons.addWidget(self.remove_folder_button)
        folders_title = QLabel("Folders")
        folders_title.setObjectName("panelTitle")
        folders_panel = QWidget()
        folders_panel.setObjectName("foldersPanel")
        fl = QVBoxLayout(folders_panel)
        fl.addWidget(folders_title)
        fl.addWidget(self.folders_view, 1)
        fl.addLayout(folder_buttons)

        # Filters row
        self.folder_filter = QComboBox()
        self.folder_filter.addItem("All folders", None)
        self.folder_filter.currentIndexChanged.connect(self._on_filters_changed)
        self.after_edit = QLineEdit()
        self.before_edit = QLineEdit()
        for edit, tip in ((self.after_edit, "from"), (self.before_edit, "until")):
            edit.setPlaceholderText("YYYY-MM-DD")
            edit.setClearButtonEnabled(True)
            edit.setMaximumWidth(130)
            edit.setToolTip(f"Taken {tip} this date (YYYY, YYYY-MM or YYYY-MM-DD)")
            edit.editingFinished.connect(self._on_filters_changed)
        self.count_spin = QSpinBox()
        self.count_spin.setRange(1, 1000)
        self.count_spin.setValue(self.prefs.get(prefs.RESULT_COUNT))
        self.count_spin.valueChanged.connect(self._on_filters_changed)
        filters = QHBoxLayout()
        filters.addWidget(QLabel("Folder"))
        filters.addWidget(self.folder_filter, 1)
        filters.addWidget(QLabel("Taken from"))
        filters.addWidget(self.after_edit)
        filters.addWidget(QLabel("until"))
        filters.addWidget(self.before_edit)
        filters.addWidget(QLabel("Show"))
        filters.addWidget(self.count_spin)
        filters.addWidget(QLabel("results"))

        # Results
        size = self.prefs.get(prefs.THUMB_SIZE)
        self.results_model = ResultsModel(self.thumbnails, size, self)
        self.grid = QListView()
        self.grid.setObjectName("resultsGrid")
        self.grid.setModel(self.results_model)
        self.grid.setViewMode(QListView.ViewMode.IconMode)
        self.grid.setResizeMode(QListView.ResizeMode.Adjust)
        self.grid.setMovement(QListView.Movement.Static)
        self.grid.setUniformItemSizes(True)
        self.grid.setLayoutMode(QListView.LayoutMode.Batched)
        self.grid.setBatchSize(200)
        self.grid.setSpacing(6)
        self.grid.setWordWrap(False)
        self.grid.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.grid.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.grid.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.grid.customContextMenuRequested.connect(self._grid_menu)
        self.grid.activated.connect(lambda index: self.open_selected())
        self.grid.selectionModel().currentChanged.connect(self._on_current_changed)
        self._apply_thumb_size(size)
        self.results_header = QLabel()
        self.results_header.setObjectName("resultsHeader")
        results_page = QWidget()
        rl = QVBoxLayout(results_page)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(self.results_header)
        rl.addWidget(self.grid, 1)

        # Empty / message page
        self.empty_title = QLabel()
        self.empty_title.setObjectName("emptyTitle")
        self.empty_title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_text = QLabel()
        self.empty_text.setObjectName("emptyText")
        self.empty_text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_text.setWordWrap(True)
        self.empty_button = QPushButton()
        self.empty_button.setObjectName("emptyButton")
        self.empty_button.clicked.connect(self._on_empty_button)
        empty_page = QWidget()
        el = QVBoxLayout(empty_page)
        el.addStretch(2)
        el.addWidget(self.empty_title)
        el.addWidget(self.empty_text)
        el.addWidget(self.empty_button, 0, Qt.AlignmentFlag.AlignHCenter)
        el.addStretch(3)

        self.stack = QStackedWidget()
        self.stack.addWidget(empty_page)
        self.stack.addWidget(results_page)
        middle = QWidget()
        ml = QVBoxLayout(middle)
        ml.setContentsMargins(0, 0, 0, 0)
        ml.addLayout(filters)
        ml.addWidget(self.stack, 1)

        self.preview = PreviewPane(self.thumbnails)
        self.preview.openRequested.connect(preview_mod.open_in_viewer)
        self.preview.revealRequested.connect(preview_mod.show_in_folder)
        self.preview.similarRequested.connect(self.more_like)

        self.splitter = QSplitter()
        self.splitter.setObjectName("mainSplitter")
        self.splitter.addWidget(folders_panel)
        self.splitter.addWidget(middle)
        self.splitter.addWidget(self.preview)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([260, 760, 320])

        # Labeling and evaluation share the window's library; they get it
        # once the controller has opened it (see _on_state).
        self.label_tab = LabelTab(None, self)
        self.evaluate_tab = EvaluateTab(None, self)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("modeTabs")
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.splitter, "Search")
        self.tabs.addTab(self.label_tab, "Label")
        self.tabs.addTab(self.evaluate_tab, "Evaluate")
        for number in range(self.tabs.count()):
            shortcut = QShortcut(QKeySequence(f"Ctrl+{number + 1}"), self)
            shortcut.activated.connect(lambda n=number: self.tabs.setCurrentIndex(n))
            self.tabs.setTabToolTip(number, f"{self.tabs.tabText(number)} (Ctrl+{number + 1})")
        self.tabs.currentChanged.connect(self._on_tab_changed)
        self.setCentralWidget(self.tabs)

    def _on_tab_changed(self, _index: int) -> None:
        """Esc, Ctrl+V and Ctrl+L belong to the labeler's text boxes on the other tabs."""
        on_search = self.tabs.currentWidget() is self.splitter
        for action in (self.clear_action, self.paste_action, self.similar_action):
            action.setEnabled(on_search)

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.model_label = QLabel()
        self.model_label.setObjectName("modelLabel")
        self.random_label = QLabel("⚠ Random model weights: results are meaningless (testing only)")
        self.random_label.setObjectName("randomWarning")
        self.random_label.hide()
        self.progress_label = QLabel()
        self.progress_bar = QProgressBar()
        self.progress_bar.setMaximumWidth(180)
        self.progress_bar.setTextVisible(False)
        self.pause_button = QToolButton()
        self.pause_button.setIcon(resources.icon("pause"))
        self.pause_button.setCheckable(True)
        self.pause_button.setToolTip("Pause indexing")
        self.pause_button.toggled.connect(self._on_pause_toggled)
        self.cancel_button = QToolButton()
        self.cancel_button.setIcon(resources.icon("cancel"))
        self.cancel_button.setToolTip("Stop indexing (what is done is kept)")
        self.cancel_button.clicked.connect(self.controller.cancel_indexing)
        self.cancel_button.clicked.connect(self.controller.cancel_download)
        self.errors_button = QToolButton()
        self.errors_button.setDefaultAction(self.errors_action)
        self.errors_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.errors_button.hide()
        # Permanent widgets: transient messages ("Indexed 12 new photos") hide
        # a status bar's normal widgets, and the model state and the random-
        # weights warning must stay in view.
        for w in (self.random_label, self.model_label, self.progress_label, self.progress_bar,
                  self.pause_button, self.cancel_button, self.errors_button):
            bar.addPermanentWidget(w)
        self._show_progress(False)

    def _connect_controller(self) -> None:
        c = self.controller
        c.stateChanged.connect(self._on_state)
        c.foldersChanged.connect(self._on_folders)
        c.indexStarted.connect(self._on_index_started)
        c.indexProgress.connect(self._on_index_progress)
        c.downloadProgress.connect(self._on_download_progress)
        c.indexFinished.connect(self._on_index_finished)
        c.indexFailed.connect(self._on_index_failed)
        c.pausedChanged.connect(self._on_paused_changed)
        c.searchFinished.connect(self._on_results)
        c.searchFailed.connect(self._on_search_failed)
        c.errorsLoaded.connect(self._on_errors_loaded)
        c.message.connect(lambda text: self.statusBar().showMessage(text, 8000))

    def _restore(self) -> None:
        geometry = self.prefs.get(prefs.GEOMETRY)
        if geometry is None or geometry.isEmpty() or not self.restoreGeometry(geometry):
            self.resize(1340, 840)
        splitter = self.prefs.get(prefs.SPLITTER)
        if splitter is not None and not splitter.isEmpty():
            self.splitter.restoreState(splitter)

    # -- center page ----------------------------------------------------------

    def _update_center(self) -> None:
        c = self.controller
        folders = self.folders_model.folders()
        self._empty_action = None
        if c.state == ERROR:
            # Offline first run ends here: the quickest way on is a local
            # checkpoint file, so that is what the page offers.
            self._empty("Glimpse cannot search yet", c.state_message,
                        "Choose a checkpoint file…", self.choose_checkpoint)
        elif self._query is not None:
            self.stack.setCurrentIndex(1)
        elif not folders and c.library is not None:
            self._empty("Add a photo folder",
                        "Glimpse indexes the photos in the folders you add and keeps watching them.",
                        "Add a photo folder…", self.choose_folder)
        elif c.library is None:
            self._empty("Opening your library…", c.state_message, None, None)
        else:
            indexed, pending, _ = self.folders_model.totals()
            extra = f" ({pending:,} more being indexed)" if pending else ""
            self._empty("Search your photos",
                        f"Type a description above to search {indexed:,} photos{extra}.\n"
                        "Or drop or paste a picture to find photos like it.", None, None)

    def _empty(self, title: str, text: str, button: str | None, action) -> None:
        self.empty_title.setText(title)
        self.empty_text.setText(text)
        self.empty_button.setVisible(button is not None)
        self.empty_button.setText(button or "")
        self._empty_action = action
        self.stack.setCurrentIndex(0)

    def _on_empty_button(self) -> None:
        if self._empty_action is not None:
            self._empty_action()

    # -- controller signals ---------------------------------------------------

    def _on_state(self, state: str, message: str) -> None:
        if state == READY:
            self.model_label.setText(f"Model: {message}")
            self.model_label.setToolTip("")
        elif state == ERROR:
            self.model_label.setText("⚠ Model not loaded (see Settings)")
            self.model_label.setToolTip(message)
        else:
            self.model_label.setText(message)
        self.model_label.setProperty("state", state)
        self.model_label.style().unpolish(self.model_label)
        self.model_label.style().polish(self.model_label)
        self.random_label.setVisible(state == READY and self.controller.random_weights)
        library = self.controller.library
        for tab in (self.label_tab, self.evaluate_tab):
            if tab.library is not library:
                tab.set_library(library)
        self._update_center()

    def _on_folders(self, rows: list) -> None:
        self.folders_model.set_folders(rows)
        current = self.folder_filter.currentData()
        self.folder_filter.blockSignals(True)
        self.folder_filter.clear()
        self.folder_filter.addItem("All folders", None)
        for row in rows:
            self.folder_filter.addItem(row.path, row.path)
        index = self.folder_filter.findData(current) if current else 0
        self.folder_filter.setCurrentIndex(max(0, index))
        self.folder_filter.blockSignals(False)
        failed = sum(r.failed for r in rows)
        self.errors_action.setText(f"{failed:,} unreadable")
        self.errors_button.setVisible(failed > 0)
        if index < 0 and current:
            self._on_filters_changed()  # the filtered folder was removed
        self._update_center()

    def _on_index_started(self, what: str) -> None:
        self.progress_label.setText("Preparing to index…" if what == "index" else f"Switching to {what}…")
        self.progress_bar.setRange(0, 0)
        self.pause_button.setChecked(False)
        self.cancel_button.setToolTip("Stop indexing (what is done is kept)")
        self._show_progress(True)

    def _on_index_progress(self, p: Progress) -> None:
        verb = "Scanning" if p.phase == "scan" else "Indexing"
        unit = "files" if p.phase == "scan" else "photos"
        parts = [f"{verb} {p.done:,} / {p.total:,} {unit}"]
        if p.phase != "scan" and p.rate > 0:
            parts.append(f"{p.rate:.1f} photos/s")
        eta = format_eta(p.eta_s) if p.phase != "scan" else ""
        if eta:
            parts.append(eta)
        if self.controller._index_worker is not None and self.controller._index_worker.token.paused:
            parts.append("paused")
        self.progress_label.setText(" · ".join(parts))
        self.progress_bar.setRange(0, max(1, p.total))
        self.progress_bar.setValue(p.done)

    def _on_download_progress(self, p: object) -> None:
        """The model's weights downloading (first run): size, rate, time left, cancel."""
        if p is None:
            if self.controller._index_worker is None:
                self._show_progress(False)
            return
        self._show_progress(True)
        self.pause_button.hide()
        self.cancel_button.setToolTip("Stop the download (it resumes from there next time)")
        self.progress_label.setText(p.text())  # type: ignore[attr-defined]
        total = p.total  # type: ignore[attr-defined]
        self.progress_bar.setRange(0, 1000 if total else 0)
        if total:
            self.progress_bar.setValue(int(1000 * p.done / total))  # type: ignore[attr-defined]

    def _on_index_finished(self, outcome: IndexOutcome) -> None:
        self._show_progress(False)
        report = outcome.report
        if report is None:
            return
        enc = report.encode
        if report.cancelled:
            text = f"Indexing stopped; {enc.encoded:,} photos were indexed and are kept."
        else:
            if enc.encoded == 0 and enc.failed == 0:
                text = "Every photo is indexed"
                text += "; watching for changes." if self.controller.watching else "."
            else:
                text = f"Indexed {enc.encoded:,} new photos"
                if enc.failed:
                    text += f"; {enc.failed:,} could not be read"
                text += "."
        self.statusBar().showMessage(text, 10000)
        if self._query is not None and not report.cancelled and enc.encoded:
            self.run_search()  # new photos may answer the current query

    def _on_index_failed(self, message: str) -> None:
        self._show_progress(False)
        self.statusBar().showMessage(f"Indexing failed: {message}", 15000)

    def _on_paused_changed(self, paused: bool) -> None:
        self.pause_button.blockSignals(True)
        self.pause_button.setChecked(paused)
        self.pause_button.blockSignals(False)
        self.pause_button.setIcon(resources.icon("resume" if paused else "pause"))
        self.pause_button.setToolTip("Resume indexing" if paused else "Pause indexing")

    def _on_pause_toggled(self, paused: bool) -> None:
        self.controller.pause_indexing(paused)

    def _show_progress(self, visible: bool) -> None:
        for w in (self.progress_label, self.progress_bar, self.pause_button, self.cancel_button):
            w.setVisible(visible)

    # -- searching ------------------------------------------------------------

    def _on_text_edited(self, text: str) -> None:
        if text.strip():
            self._debounce.start()
        else:
            self._debounce.stop()
            self.clear_search(keep_focus=True)

    def filters(self) -> Filters | None:
        """The filter row as engine Filters; None (and a message) if a date is malformed."""
        try:
            after = parse_date(self.after_edit.text().strip() or None, "from")
            before = parse_date(self.before_edit.text().strip() or None, "until")
        except GlimpseError as exc:
            self.results_header.setText(str(exc))
            self.results_header.setProperty("error", True)
            self._repolish(self.results_header)
            self.stack.setCurrentIndex(1)
            return None
        return Filters(self.folder_filter.currentData(), after, before)

    def _on_filters_changed(self, *_: object) -> None:
        self.prefs.set(prefs.RESULT_COUNT, self.count_spin.value())
        if self._query is not None:
            self._debounce.stop()
            self._run_query()

    def run_search(self) -> None:
        """Search for the text in the box (debounce timer, Enter)."""
        self._debounce.stop()
        text = self.search.text().strip()
        if not text:
            return
        self._query = ("text", text, f"“{text}”")
        self._run_query()

    def _run_query(self) -> None:
        if self._query is None:
            return
        filters = self.filters()
        if filters is None:
            return
        kind, value, label = self._query
        k = self.count_spin.value()
        if kind == "text":
            self.controller.search_text(str(value), filters, k)
        elif kind == "pasted":
            self.controller.search_pasted(value, filters, k)  # type: ignore[arg-type]
        else:
            self.controller.search_similar(value, label, filters, k)  # type: ignore[arg-type]
        if self.controller.state != READY:
            self._set_header("Waiting for the model to load…")
        self.stack.setCurrentIndex(1)

    def more_like(self, hit: SearchHit) -> None:
        self._query = ("image", hit.photo_id, f"photos like {os.path.basename(hit.path)}")
        self._run_query()

    def more_like_selected(self) -> None:
        hit = self.selected_hit()
        if hit is not None:
            self.more_like(hit)

    def search_by_image(self, source: str | QImage) -> None:
        """A dropped or pasted image: a file path, or pixels from the clipboard."""
        if isinstance(source, QImage):
            self._query = ("pasted", source, "photos like the pasted image")
        else:
            self._query = ("image", source, f"photos like {os.path.basename(source)}")
        self.tabs.setCurrentWidget(self.splitter)
        self._run_query()

    def paste_image(self) -> bool:
        source = image_source(QGuiApplication.clipboard().mimeData())
        if source is None:
            self.statusBar().showMessage("The clipboard holds no image to search with.", 5000)
            return False
        self.search_by_image(source)
        return True

    def clear_search(self, keep_focus: bool = False) -> None:
        self._debounce.stop()
        self.controller.cancel_search()
        self._query = None
        if self.search.text():
            self.search.clear()
        self.thumbnails.forget_pending()
        self.results_model.set_hits([])
        self.preview.show_hit(None)
        self._update_center()
        if not keep_focus:
            self.search.setFocus()

    def _on_results(self, outcome: SearchOutcome) -> None:
        if self._query is None:
            return
        self.thumbnails.forget_pending()
        self.results_model.set_hits(outcome.hits)
        n = len(outcome.hits)
        label = "No photos match" if n == 0 else f"{n:,} photos"
        self._set_header(f"{label} for {outcome.label} · {outcome.seconds:.2f} s")
        self.preview.show_hit(None)
        self.stack.setCurrentIndex(1)
        self.grid.scrollToTop()
        self.resultsShown.emit(outcome)

    def _on_search_failed(self, seq: int, message: str) -> None:
        self.results_header.setText(message)
        self.results_header.setProperty("error", True)
        self._repolish(self.results_header)

    def _set_header(self, text: str) -> None:
        self.results_header.setText(text)
        self.results_header.setProperty("error", False)
        self._repolish(self.results_header)

    @staticmethod
    def _repolish(widget: QWidget) -> None:
        widget.style().unpolish(widget)
        widget.style().polish(widget)

    # -- selection and actions on a photo -------------------------------------

    def selected_hit(self) -> SearchHit | None:
        index = self.grid.currentIndex()
        return index.data(HitRole) if index.isValid() else None

    def _on_current_changed(self, current, previous) -> None:
        self.preview.show_hit(current.data(HitRole) if current.isValid() else None)

    def open_selected(self) -> None:
        hit = self.selected_hit()
        if hit is not None:
            preview_mod.open_in_viewer(hit.path)

    def reveal_selected(self) -> None:
        hit = self.selected_hit()
        if hit is not None:
            preview_mod.show_in_folder(hit.path)

    def _grid_menu(self, pos) -> None:
        index = self.grid.indexAt(pos)
        if not index.isValid():
            return
        self.grid.setCurrentIndex(index)
        menu = QMenu(self)
        menu.addAction(self.open_action)
        menu.addAction(self.reveal_action)
        menu.addAction(self.similar_action)
        copy = menu.addAction("Copy path")
        copy.triggered.connect(lambda: QGuiApplication.clipboard().setText(index.data(HitRole).path))
        menu.popup(self.grid.viewport().mapToGlobal(pos))

    def focus_search(self) -> None:
        self.tabs.setCurrentWidget(self.splitter)
        self.search.setFocus()
        self.search.selectAll()

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        """In the search box: Down moves into the grid; pasting an image searches by it."""
        if obj is self.search and event.type() == QEvent.Type.KeyPress:
            key: QKeyEvent = event  # type: ignore[assignment]
            if key.key() == Qt.Key.Key_Down and self.results_model.rowCount() > 0:
                self.grid.setFocus()
                if not self.grid.currentIndex().isValid():
                    self.grid.selectionModel().setCurrentIndex(
                        self.results_model.index(0), QItemSelectionModel.SelectionFlag.ClearAndSelect
                    )
                return True
            if key.matches(QKeySequence.StandardKey.Paste):
                mime = QGuiApplication.clipboard().mimeData()
                if not mime.hasText() or mime.hasUrls():
                    source = image_source(mime)
                    if source is not None:
                        self.search_by_image(source)
                        return True
        return super().eventFilter(obj, event)

    # -- drag and drop --------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if image_source(event.mimeData()) is not None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        source = image_source(event.mimeData())
        if source is None:
            event.ignore()
            return
        event.acceptProposedAction()
        self.search_by_image(source)

    # -- folders --------------------------------------------------------------

    def choose_folder(self) -> None:
        start = self.prefs.get(prefs.LAST_FOLDER) or str(Path.home())
        path = QFileDialog.getExistingDirectory(self, "Add a photo folder", start)
        if path:
            self.prefs.set(prefs.LAST_FOLDER, path)
            self.add_folder(path)

    def add_folder(self, path: str | Path) -> None:
        if self.controller.library is None:
            self.statusBar().showMessage("The library is still opening; try again in a moment.", 5000)
            return
        self.controller.add_folder(path)

    def remove_selected_folder(self) -> None:
        index = self.folders_view.currentIndex()
        if index.isValid():
            self.controller.remove_folder(index.siblingAtColumn(0).data(FolderRole))

    # -- errors, settings -----------------------------------------------------

    def show_errors(self) -> None:
        if self.controller.library is None:
            return
        if self._errors_dialog is None:
            self._errors_dialog = ErrorsDialog(self)
        self._errors_dialog.show()
        self._errors_dialog.raise_()
        self.controller.load_errors()

    def _on_errors_loaded(self, rows: list[tuple[str, str]]) -> None:
        if self._errors_dialog is not None:
            self._errors_dialog.set_errors(rows)

    def current_settings(self) -> SettingsValues:
        lib = self.controller.library
        return SettingsValues(
            str(lib.spec) if lib is not None else "",
            lib.device if lib is not None else "auto",
            self.results_model.thumb_size,
        )

    def open_settings(self) -> None:
        dialog = SettingsDialog(self.current_settings(), self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self.apply_settings(dialog.values()))
        dialog.open()

    def apply_settings(self, values: SettingsValues) -> None:
        old = self.current_settings()
        if values.thumb_size != old.thumb_size:
            self.prefs.set(prefs.THUMB_SIZE, values.thumb_size)
            self._apply_thumb_size(values.thumb_size)
        lib = self.controller.library
        if lib is None:
            return
        model_changed = values.model != old.model or self.controller.state == ERROR
        try:
            if model_changed:
                self.controller.switch_model(values.model, values.device)
            elif values.device != old.device:
                lib.device = values.device
                lib.save_settings(device=values.device)
                self.statusBar().showMessage(
                    "The new device is used the next time Glimpse starts or the model changes.", 8000
                )
        except GlimpseError as exc:
            self.statusBar().showMessage(str(exc), 10000)

    def choose_checkpoint(self) -> None:
        """Pick a local open_clip checkpoint for the current architecture and load it."""
        path, _ = QFileDialog.getOpenFileName(
            self, "Choose an open_clip checkpoint", str(Path.home()),
            "Checkpoints (*.bin *.pt *.pth *.safetensors);;All files (*)",
        )
        if not path:
            return
        current = self.current_settings()
        try:
            arch = ModelSpec.parse(current.model).arch
        except GlimpseError:
            arch = ModelSpec.parse(None).arch
        self.apply_settings(replace(current, model=f"{arch}:{path}"))

    def _apply_thumb_size(self, size: int) -> None:
        self.results_model.set_thumb_size(size)
        self.grid.setIconSize(QSize(size, size))
        self.grid.setGridSize(QSize(size + 20, size + 40))

    # -- closing --------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:
        """Stop cleanly: the job is cancelled between batches and every batch is committed."""
        if not self._closed:
            self._closed = True
            self._debounce.stop()
            self.prefs.set(prefs.GEOMETRY, self.saveGeometry())
            self.prefs.set(prefs.SPLITTER, self.splitter.saveState())
            self.prefs.sync()
            # The tabs' jobs use the library, so they stop before it closes.
            self.label_tab.shutdown()
            self.evaluate_tab.shutdown()
            self.controller.shutdown()
            self.thumbnails.shutdown()
        event.accept()
