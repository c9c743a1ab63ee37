"""The main window: assembles the Search, Label and Evaluate tabs, the toolbar,
the actions and their shortcuts, and the status bar.

It holds no search or indexing logic: the tabs turn user actions into
controller calls, and the window shows the controller's state (model, indexing
progress, unreadable files) in the status bar. Every engine call runs on a
worker, so the event loop is never blocked.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QGuiApplication,
    QKeySequence,
    QShortcut,
)
from PySide6.QtWidgets import (
    QFileDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QTabWidget,
    QToolButton,
)

from glimpse.core.encoding.encoder import ModelSpec
from glimpse.core.errors import GlimpseError
from glimpse.core.indexing import pipeline
from glimpse.core.indexing.check import CheckReport
from glimpse.core.jobs import Progress
from glimpse.ui import preferences as prefs
from glimpse.ui import resources
from glimpse.ui.controller import ERROR, READY, IndexOutcome, LibraryController
from glimpse.ui.errors_dialog import ErrorsDialog
from glimpse.ui.evaluate_tab import EvaluateTab
from glimpse.ui.label_tab import LabelTab
from glimpse.ui.people_view import PeopleView
from glimpse.ui.search_tab import SearchTab, image_source
from glimpse.ui.settings_dialog import SettingsDialog, SettingsValues
from glimpse.ui.thumbnails import ThumbnailCache

__all__ = ["MainWindow", "format_eta", "image_source"]


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return "less than a minute left"
    if seconds < 3600:
        return f"about {round(seconds / 60)} min left"
    return f"about {seconds / 3600:.1f} h left"


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
        self._closed = False
        self._errors_dialog: ErrorsDialog | None = None
        self.check_result: QMessageBox | None = None  # the last check's report, while shown

        self._build_actions()
        self._build_tabs()
        self._build_toolbar()
        self._build_status_bar()
        self._connect_controller()
        self._restore()
        self.search_tab.update_center()

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
        self.similar_action = self._action("More like this", "similar", "Ctrl+L", lambda: self.search_tab.more_like_selected())
        self.focus_action = self._action("Search", "search", QKeySequence.StandardKey.Find, self.focus_search)
        self.clear_action = self._action("Clear search", "clear", "Esc", lambda: self.search_tab.clear_search())
        self.paste_action = self._action("Search by pasted image", "photo", QKeySequence.StandardKey.Paste, lambda: self.search_tab.paste_image())
        self.open_action = self._action("Open", "open", None, lambda: self.search_tab.open_selected())
        self.reveal_action = self._action("Show in folder", "folder", None, lambda: self.search_tab.reveal_selected())
        self.errors_action = self._action("Unreadable files…", "warning", None, self.show_errors)
        self.check_action = self._action("Check library…", "warning", "Ctrl+Shift+K", self.check_library)
        self.check_action.setStatusTip("Verify the catalog and every stored vector; repair what is damaged")
        self.files_action = self._action("Files Glimpse could not use…", "warning", None, self.show_errors)

    def _build_tabs(self) -> None:
        self.search_tab = SearchTab(
            self.controller, self.prefs, self.thumbnails,
            [self.open_action, self.reveal_action, self.similar_action], self,
        )
        self.search_tab.resultsShown.connect(self.resultsShown)
        self.search_tab.statusMessage.connect(self.statusBar().showMessage)
        self.search_tab.addFolderRequested.connect(self.choose_folder)
        self.search_tab.checkpointRequested.connect(self.choose_checkpoint)
        self.search_tab.shown.connect(lambda: self.tabs.setCurrentWidget(self.search_tab))
        # Labeling and evaluation share the window's library; they get it
        # once the controller has opened it (see _on_state).
        self.label_tab = LabelTab(None, self)
        self.evaluate_tab = EvaluateTab(None, self)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("modeTabs")
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.search_tab, "Search")
        self.tabs.addTab(self.label_tab, "Label")
        self.tabs.addTab(self.evaluate_tab, "Evaluate")
        self.people_tab = PeopleView(self.thumbnails, self)
        self.people_tab.personSearched.connect(self._search_person)
        self.search_tab.peopleChanged.connect(self.people_tab.refresh)
        self.tabs.addTab(self.people_tab, "People")
        for number in range(self.tabs.count()):
            shortcut = QShortcut(QKeySequence(f"Ctrl+{number + 1}"), self)
            shortcut.activated.connect(lambda n=number: self.tabs.setCurrentIndex(n))
            self.tabs.setTabToolTip(number, f"{self.tabs.tabText(number)} (Ctrl+{number + 1})")
        self.tabs.currentChanged.connect(self._on_tab_changed)
        self.setCentralWidget(self.tabs)

    def _build_toolbar(self) -> None:
        bar = self.addToolBar("Main")
        bar.setObjectName("mainToolbar")
        bar.setMovable(False)
        bar.setIconSize(QSize(20, 20))
        bar.addAction(self.add_folder_action)
        bar.addWidget(self.search_tab.search)
        bar.addAction(self.similar_action)
        bar.addAction(self.settings_action)
        # Library upkeep, rarely needed: behind one button, not on the bar itself.
        menu = QMenu(self)
        menu.addAction(self.add_folder_action)
        menu.addAction(self.check_action)
        menu.addAction(self.files_action)
        self.library_button = QToolButton()
        self.library_button.setObjectName("libraryMenuButton")
        self.library_button.setText("Library")
        self.library_button.setToolTip("Library: add a folder, check the library, files it could not use")
        self.library_button.setMenu(menu)
        self.library_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        bar.addWidget(self.library_button)

    def _on_tab_changed(self, _index: int) -> None:
        """Esc, Ctrl+V and Ctrl+L belong to the labeler's text boxes on the other tabs."""
        on_search = self.tabs.currentWidget() is self.search_tab
        for action in (self.clear_action, self.paste_action, self.similar_action):
            action.setEnabled(on_search)

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.model_label = QLabel()
        self.model_label.setObjectName("modelLabel")
        self.random_label = QLabel("⚠ Random model weights: results are meaningless (testing only)")
        self.random_label.setObjectName("randomWarning")
        self.random_label.hide()
        # The graph tier of a big library (GLIMPSE_VECTOR_TIER=auto) building in the background.
        self.graph_label = QLabel()
        self.graph_label.setObjectName("graphLabel")
        self.graph_label.hide()
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
        for w in (self.random_label, self.model_label, self.graph_label, self.progress_label,
                  self.progress_bar,
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
        c.errorsLoaded.connect(self._on_errors_loaded)
        c.checkFinished.connect(self._on_check_finished)
        c.checkFailed.connect(lambda text: self._show_check_result(False, text))
        c.message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        c.graphStatus.connect(self._on_graph_status)

    def _on_graph_status(self, text: str) -> None:
        """A build in progress stays in view; how it ended is news for a while."""
        building = text.startswith("Fast search index: ")
        self.graph_label.setText(text if building else "")
        self.graph_label.setVisible(building)
        if text and not building:
            self.statusBar().showMessage(text, 10000)

    def _restore(self) -> None:
        geometry = self.prefs.get(prefs.GEOMETRY)
        if geometry is None or geometry.isEmpty() or not self.restoreGeometry(geometry):
            self.resize(1340, 840)
        self._fit_to_screen()
        splitter = self.prefs.get(prefs.SPLITTER)
        if splitter is not None and not splitter.isEmpty():
            self.search_tab.splitter.restoreState(splitter)

    def _fit_to_screen(self) -> None:
        """Never larger than the screen's free area (a 1280x800 laptop, a saved
        size from a bigger monitor): the status bar and the preview's buttons
        must stay on screen. Kept inside it, too, if it was saved off to one side."""
        screen = self.screen() or QGuiApplication.primaryScreen()
        if screen is None:
            return
        free = screen.availableGeometry()
        frame = self.frameGeometry().size() - self.geometry().size()  # title bar, borders
        width = min(self.width(), free.width() - frame.width())
        height = min(self.height(), free.height() - frame.height())
        if (width, height) != (self.width(), self.height()):
            self.resize(max(width, 1), max(height, 1))
        place = self.frameGeometry()
        x = min(max(place.x(), free.left()), max(free.left(), free.right() - place.width() + 1))
        y = min(max(place.y(), free.top()), max(free.top(), free.bottom() - place.height() + 1))
        if (x, y) != (place.x(), place.y()):
            self.move(x, y)

    def _search_person(self, photo_ids: set[int], label: str) -> None:
        self.search_tab.search_person(photo_ids, label)

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
        for tab in (self.label_tab, self.evaluate_tab, self.people_tab):
            if tab.library is not library:
                tab.set_library(library)
        self.search_tab.update_center()

    def _on_folders(self, rows: list) -> None:
        self.search_tab.set_folders(rows)
        failed = sum(r.failed for r in rows)
        self.errors_action.setText(f"{failed:,} unreadable")
        self.errors_button.setVisible(failed > 0)

    def _on_index_started(self, what: str) -> None:
        self.progress_label.setText("Preparing to index…" if what == "index" else f"Switching to {what}…")
        self.progress_bar.setRange(0, 0)
        self.pause_button.setChecked(False)
        self.cancel_button.setToolTip("Stop indexing (what is done is kept)")
        self._show_progress(True)

    def _on_index_progress(self, p: Progress) -> None:
        verb, unit = pipeline.describe(p.phase)
        pct = f" ({100 * p.done // max(1, p.total)}%)" if p.total else ""
        parts = [f"{verb} {p.done:,} / {p.total:,} {unit}{pct}"]
        if pipeline.is_background(p.phase):  # meaning is done: say so before the slow part
            parts.insert(0, "Searchable now")
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
        """The model's weights downloading (first run): size, rate, time left, cancel;
        or, at a big library, its vectors read into the search index (no cancel)."""
        if p is None:
            if self.controller._index_worker is None:
                self._show_progress(False)
            return
        self._show_progress(True)
        self.pause_button.hide()
        # Reading the index from the catalog cannot be stopped halfway (seconds).
        self.cancel_button.setVisible(getattr(p, "cancellable", True))
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
        for name, r in report.passes.items():
            stage = pipeline.stage_of(name)
            if stage is None or stage.signal is None or not (r.done or r.remaining):
                continue
            text += f" {stage.signal.did} {r.done:,} photos"
            text += f" ({r.remaining:,} left)." if r.remaining else "."
        faces = report.passes.get("faces")
        if faces is not None and (faces.done or faces.remaining) and not self._closed:
            self.people_tab.refresh()  # (a job ending as the window closes finds it shut)
        self.statusBar().showMessage(text, 10000)
        read = any(r.done for r in report.passes.values())
        if self.search_tab.has_query and not report.cancelled and (enc.encoded or read):
            self.search_tab.run_search()  # new photos may answer the current query

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

    # -- search shortcuts and drops (the Search tab does the work) -------------

    def focus_search(self) -> None:
        self.search_tab.focus_search()

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
        self.search_tab.search_by_image(source)

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

    # -- errors, settings -----------------------------------------------------

    def show_errors(self) -> None:
        if self.controller.library is None:
            return
        if self._errors_dialog is None:
            self._errors_dialog = ErrorsDialog(self)
        self._errors_dialog.show()
        self._errors_dialog.raise_()
        self.controller.load_errors()

    def check_library(self) -> None:
        if self.controller.library is None:
            return
        self.check_action.setEnabled(False)
        self.statusBar().showMessage("Checking the library…")
        self.controller.check_library()

    def _on_check_finished(self, report: CheckReport) -> None:
        lines = [f"Checked {report.photos:,} photos and {report.vectors:,} stored vectors "
                 f"in {report.seconds:.1f} s."]
        if not report.findings:
            lines.append("The library is sound: nothing to repair.")
        for f in report.findings:
            mark = "Repaired" if f.repaired else ("To do" if f.note else "Damaged")
            lines.append(f"• {mark}: {f.message}")
        if report.needs_index:
            lines.append("Encoding and reading again what needs it now (see the status bar).")
        self._show_check_result(report.sound, "\n".join(lines))

    def _show_check_result(self, sound: bool, text: str) -> None:
        self.check_action.setEnabled(True)
        self.statusBar().clearMessage()
        box = QMessageBox(QMessageBox.Icon.Information if sound else QMessageBox.Icon.Warning,
                          "Check library", text, QMessageBox.StandardButton.Ok, self)
        box.setObjectName("checkResult")
        box.open()  # not exec(): the window and its indexing carry on meanwhile
        self.check_result = box

    def _on_errors_loaded(self, rows: list[tuple[str, str]]) -> None:
        if self._errors_dialog is not None:
            self._errors_dialog.set_errors(rows)

    def current_settings(self) -> SettingsValues:
        lib = self.controller.library
        return SettingsValues(
            str(lib.spec) if lib is not None else "",
            lib.device if lib is not None else "auto",
            self.search_tab.results_model.thumb_size,
            (lib.precision if lib is not None else None) or "int8",
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
            self.search_tab.apply_thumb_size(values.thumb_size)
        lib = self.controller.library
        if lib is None:
            return
        model_changed = values.model != old.model or self.controller.state == ERROR
        if values.precision != old.precision:
            lib.precision = values.precision
            lib.save_settings(precision=values.precision)
        try:
            if model_changed:
                self.controller.switch_model(values.model, values.device)
            elif values.device != old.device or values.precision != old.precision:
                lib.device = values.device
                lib.save_settings(device=values.device)
                self.statusBar().showMessage(
                    "The new setting is used the next time Glimpse starts or the model changes.", 8000
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

    # -- closing --------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:
        """Stop cleanly: the job is cancelled between batches and every batch is committed."""
        if not self._closed:
            self._closed = True
            self.search_tab.stop()
            self.prefs.set(prefs.GEOMETRY, self.saveGeometry())
            self.prefs.set(prefs.SPLITTER, self.search_tab.splitter.saveState())
            self.prefs.sync()
            # The tabs' jobs use the library, so they stop before it closes.
            self.label_tab.shutdown()
            self.evaluate_tab.shutdown()
            self.controller.shutdown()
            self.thumbnails.shutdown()
        event.accept()
