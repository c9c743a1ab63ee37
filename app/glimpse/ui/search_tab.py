"""The Search tab: folders panel, filter row, result grid, preview.

It owns the search state (the current query, the debounce timer) and turns
user actions into controller calls and controller results into the grid. The
window around it only places the search box in its toolbar, routes shortcuts
and drops here, and shows what the tab reports in the status bar.
"""

from __future__ import annotations

import os
from dataclasses import replace

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
from PySide6.QtGui import QAction, QGuiApplication, QImage, QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QCompleter,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListView,
    QMenu,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QSplitter,
    QStackedWidget,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from glimpse.core.errors import GlimpseError
from glimpse.core.media import imaging
from glimpse.core.search import planner
from glimpse.core.search.planner import QueryPlan
from glimpse.core.search.ranking import Filters, SearchHit, parse_date
from glimpse.core.search.region import Region
from glimpse.core.signals import people, places
from glimpse.ui import people_view as people_ui
from glimpse.ui import preferences as prefs
from glimpse.ui import preview as preview_mod
from glimpse.ui import resources
from glimpse.ui.controller import ERROR, READY, LibraryController, SearchOutcome
from glimpse.ui.folders_model import FolderRole, FoldersModel
from glimpse.ui.preview import PreviewPane
from glimpse.ui.refine import RefineBar
from glimpse.ui.results_model import HitRole, ResultsModel
from glimpse.ui.thumbnails import ThumbnailCache

DEBOUNCE_MS = 250


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


class SearchTab(QWidget):
    resultsShown = Signal(object)  # SearchOutcome, after the grid shows it
    statusMessage = Signal(str, int)  # text, milliseconds: for the window's status bar
    addFolderRequested = Signal()  # the "Add…" button or the first-run page
    checkpointRequested = Signal()  # the model-error page's "Choose a checkpoint file…"
    shown = Signal()  # the tab wants to be the visible one (a drop, Ctrl+F)
    peopleChanged = Signal()  # a face was named in the preview

    def __init__(
        self,
        controller: LibraryController,
        preferences: prefs.Preferences,
        thumbnails: ThumbnailCache,
        photo_actions: list[QAction],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.controller = controller
        self.prefs = preferences
        self.thumbnails = thumbnails
        self.photo_actions = photo_actions  # Open, Show in folder, More like this
        self._query: tuple[str, object, str] | None = None  # kind, value, label
        # Phrases of chips the user closed (a date, names): the planner leaves them as words.
        self._ignored: set[str] = set()
        self._empty_action = None

        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._debounce.timeout.connect(self.run_search)

        # The search box lives in the window's toolbar, but it is the tab's.
        self.search = QLineEdit()
        self.search.setObjectName("searchField")
        self.search.setPlaceholderText("Describe a photo, e.g. “dog on a beach”  (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self.search.addAction(resources.icon("search"), QLineEdit.ActionPosition.LeadingPosition)
        self.search.textEdited.connect(self._on_text_edited)
        self.search.returnPressed.connect(self.run_search)
        self.search.installEventFilter(self)

        self._build()
        controller.searchFinished.connect(self._on_results)
        controller.moveSuggested.connect(self.offer_move)
        controller.searchFailed.connect(self._on_search_failed)
        controller.placesChanged.connect(self.set_places)

    @property
    def has_query(self) -> bool:
        return self._query is not None

    def stop(self) -> None:
        self._debounce.stop()

    def _build(self) -> None:
        # Folders panel
        self.folders_model = FoldersModel(self)
        self.folders_view = QTreeView()
        self.folders_view.setObjectName("foldersView")
        self.folders_view.setModel(self.folders_model)
        self.folders_view.setRootIsDecorated(False)
        self.folders_view.setUniformRowHeights(True)
        self.folders_view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.folders_view.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        self.folder_moved_action = QAction("Folder moved…", self.folders_view)
        self.folder_moved_action.setToolTip(
            "The folder was moved or renamed, or its disk is mounted elsewhere: "
            "point Glimpse at the new place without re-encoding"
        )
        self.folder_moved_action.triggered.connect(self.choose_moved_folder)
        self.folders_view.addAction(self.folder_moved_action)
        header = self.folders_view.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col in (1, 2, 3):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        self.remove_folder_button = QPushButton(resources.icon("remove"), "Remove")
        self.remove_folder_button.setToolTip("Stop watching the selected folder (files stay on disk)")
        self.remove_folder_button.clicked.connect(self.remove_selected_folder)
        add_button = QPushButton(resources.icon("folder-add"), "Add…")
        add_button.clicked.connect(self.addFolderRequested)
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
        self.place_filter = self._build_place_filter()
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
        # Two rows, where and when: in one row the filters alone were 751 px
        # wide, and the window did not fit a 1280x800 laptop screen.
        filters = QVBoxLayout()
        where = QHBoxLayout()
        when = QHBoxLayout()
        filters.addLayout(where)
        filters.addLayout(when)
        where.addWidget(QLabel("Folder"))
        where.addWidget(self.folder_filter, 1)
        where.addWidget(QLabel("Place"))
        where.addWidget(self.place_filter, 1)
        when.addWidget(QLabel("Taken from"))
        when.addWidget(self.after_edit)
        when.addWidget(QLabel("until"))
        when.addWidget(self.before_edit)
        # The date range read from the query's words ("june 2021"): a chip that
        # says what was understood, and closing it searches without that filter.
        self.date_chip = QPushButton()
        self.date_chip.setObjectName("dateChip")
        self.date_chip.setIcon(resources.icon("remove"))
        self.date_chip.setLayoutDirection(Qt.LayoutDirection.RightToLeft)
        self.date_chip.setToolTip("Date filter read from the query; click to search without it")
        self.date_chip.clicked.connect(self._on_date_chip_closed)
        self.date_chip.hide()
        when.addWidget(self.date_chip)
        # People's names read from the query ("Anna at the beach"), the same way.
        self.person_chip = QPushButton()
        self.person_chip.setObjectName("dateChip")  # styled like the date chip
        self.person_chip.setIcon(resources.icon("remove"))
        self.person_chip.setLayoutDirection(Qt.LayoutDirection.RightToLeft)
        self.person_chip.setToolTip("People read from the query; click to search the names as words")
        self.person_chip.clicked.connect(self._on_person_chip_closed)
        self.person_chip.hide()
        where.addWidget(self.person_chip)
        # The rest of what the planner read (a place, "not people"): one closable chip each.
        self.read_chips = QWidget()
        self.read_chips.setObjectName("readChips")
        self._read_layout = QHBoxLayout(self.read_chips)
        self._read_layout.setContentsMargins(0, 0, 0, 0)
        self.read_chips.hide()
        where.addWidget(self.read_chips)
        self.sort_combo = QComboBox()
        self.sort_combo.setObjectName("sortCombo")
        for label, order in (("Best match", "best"), ("Newest first", "newest"),
                             ("Oldest first", "oldest")):
            self.sort_combo.addItem(label, order)
        self.sort_combo.setToolTip("Newest/oldest first reorder the best matches by date")
        self.sort_combo.currentIndexChanged.connect(self._on_filters_changed)
        when.addStretch(1)
        when.addWidget(self.sort_combo)
        when.addWidget(QLabel("Show"))
        when.addWidget(self.count_spin)
        when.addWidget(QLabel("results"))

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
        self.apply_thumb_size(size)
        self.results_header = QLabel()
        self.results_header.setObjectName("resultsHeader")
        results_page = QWidget()
        rl = QVBoxLayout(results_page)
        rl.setContentsMargins(0, 0, 0, 0)
        self.chips = QWidget()
        self.chips.setObjectName("placeChips")
        self._chips_layout = QHBoxLayout(self.chips)
        self._chips_layout.setContentsMargins(0, 0, 0, 0)
        self.chips.hide()
        # Results under the model's relevance cut-off (core/search/relevance.py),
        # folded under this button: "8 weaker matches".
        self.weaker_button = QPushButton()
        self.weaker_button.setObjectName("weakerToggle")
        self.weaker_button.setCheckable(True)
        self.weaker_button.setFlat(True)
        self.weaker_button.setShortcut(QKeySequence("Ctrl+Shift+W"))
        self.weaker_button.setToolTip(
            "Results that stand only a little above this library's typical photo for the "
            "query (Ctrl+Shift+W shows or hides them)")
        self.weaker_button.toggled.connect(self._show_weaker)
        self.weaker_button.hide()
        self._strong_hits: list[SearchHit] = []
        self._weak_hits: list[SearchHit] = []
        header_row = QHBoxLayout()
        header_row.addWidget(self.results_header, 1)
        header_row.addWidget(self.chips)
        header_row.addWidget(self.weaker_button)
        rl.addLayout(header_row)
        # Relevance feedback marks, and a way back from a near-duplicate group.
        self.refine = RefineBar(self)
        self.refine.changed.connect(self._run_query)
        self.refine.like_action.triggered.connect(lambda: self._mark_selected(True))
        self.refine.unlike_action.triggered.connect(lambda: self._mark_selected(False))
        self.duplicates_action = QAction("Show near-duplicates", self)
        self.duplicates_action.setShortcut(QKeySequence("Space"))
        self.duplicates_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.duplicates_action.triggered.connect(self.show_duplicates_of_selected)
        self.back_action = QAction("Back to the results", self)
        self.back_action.setShortcut(QKeySequence("Backspace"))
        self.back_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.back_action.triggered.connect(self.back_from_duplicates)
        for action in (self.refine.like_action, self.refine.unlike_action,
                       self.duplicates_action, self.back_action):
            self.grid.addAction(action)
        self._before_group: tuple[str, object, str] | None = None
        rl.addWidget(self.refine)
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
        self.preview.openRequested.connect(lambda _path: self._open_hit(self.preview.hit))
        self.preview.revealRequested.connect(preview_mod.show_in_folder)
        self.preview.similarRequested.connect(self.more_like)
        self.preview.regionRequested.connect(self.more_like_region)
        self.preview.personRequested.connect(self._more_of_person)
        self.preview.faceClicked.connect(self._name_face)

        self.splitter = QSplitter()
        self.splitter.setObjectName("mainSplitter")
        self.splitter.addWidget(folders_panel)
        self.splitter.addWidget(middle)
        self.splitter.addWidget(self.preview)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([260, 760, 320])

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.splitter)

    def update_center(self) -> None:
        c = self.controller
        folders = self.folders_model.folders()
        self._empty_action = None
        if c.state == ERROR:
            # Offline first run ends here: the quickest way on is a local
            # checkpoint file, so that is what the page offers.
            self._empty("Glimpse cannot search yet", c.state_message,
                        "Choose a checkpoint file…", self.checkpointRequested.emit)
        elif self._query is not None:
            self.stack.setCurrentIndex(1)
        elif not folders and c.library is not None:
            self._empty("Add a photo folder",
                        "Glimpse indexes the photos in the folders you add and keeps watching them.",
                        "Add a photo folder…", self.addFolderRequested.emit)
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

    def set_folders(self, rows: list) -> None:
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
        if index < 0 and current:
            self._on_filters_changed()  # the filtered folder was removed
        self.update_center()

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
        return Filters(self.folder_filter.currentData(), after, before, self.place_value())

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
        if self._query is None or self._query[:2] != ("text", text):
            self.refine.clear()  # marks belong to the query they were made for
        self._query = ("text", text, f"“{text}”")
        # A phrase no longer in the query gets its chip back when typed again.
        self._ignored = {p for p in self._ignored if p in " ".join(text.casefold().split())}
        self._run_query()

    def _run_query(self) -> None:
        if self._query is None:
            return
        filters = self.filters()
        if filters is None:
            return
        kind, value, label = self._query
        k = self.count_spin.value()
        if kind == "group":
            return  # a near-duplicate group is shown from the results at hand
        if kind == "text":  # the planner reads dates and names (chips follow the results)
            self.controller.search_text(str(value), filters, k, like=self.refine.liked,
                                        unlike=self.refine.unliked,
                                        sort=self.sort_combo.currentData(),
                                        ignore=sorted(self._ignored))
        elif kind == "person":  # "more of this person": their photos, best faces first
            self.date_chip.hide()
            self.person_chip.setText(label)
            self.person_chip.show()
            filters = replace(filters, photo_ids=frozenset(value))  # type: ignore[arg-type]
            self.controller.search_text("", filters, k, sort="newest")
        elif kind == "pasted":
            self.date_chip.hide()
            self.person_chip.hide()
            self.controller.search_pasted(value, filters, k)  # type: ignore[arg-type]
        elif kind == "region":
            self.date_chip.hide()
            self.person_chip.hide()
            photo, part = value  # type: ignore[misc]
            self.controller.search_region(photo, part, label, filters, k)
        else:
            self.date_chip.hide()
            self.person_chip.hide()
            self.controller.search_similar(value, label, filters, k)  # type: ignore[arg-type]
        if self.controller.state != READY:
            self._set_header("Waiting for the model to load…")
        self.stack.setCurrentIndex(1)

    def _show_plan_chips(self, plan: QueryPlan | None) -> None:
        """What the planner read out of a typed query, as chips the user can close."""
        dated = plan.chip(planner.DATE) if plan is not None else None
        self.date_chip.setVisible(dated is not None)
        if dated is not None:
            self.date_chip.setText(dated.label)
            self.date_chip.setProperty("phrase", dated.phrase)
        self._show_read_chips(plan)
        if self._query is not None and self._query[0] == "person":
            return  # the person chip names the person being shown
        named = plan.chip(planner.PERSON) if plan is not None else None
        self.person_chip.setVisible(named is not None)
        if named is not None:
            self.person_chip.setText(named.label)
            self.person_chip.setProperty("names", named.phrase)

    def _show_read_chips(self, plan: QueryPlan | None) -> None:
        """A chip per place and per "not ..." the planner read; closing one searches
        its words as words (the planner is told to leave that phrase alone)."""
        while self._read_layout.count():
            item = self._read_layout.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        chips = [c for c in (plan.chips if plan is not None else ())
                 if c.kind in (planner.PLACE, planner.NOT)]
        for c in chips:
            chip = QPushButton(c.label if c.kind == planner.NOT else f"in {c.label}")
            chip.setObjectName("dateChip")  # styled like the date chip
            chip.setProperty("kind", c.kind)
            chip.setIcon(resources.icon("remove"))
            chip.setLayoutDirection(Qt.LayoutDirection.RightToLeft)
            chip.setToolTip("Read from the query; click to search these words as words")
            chip.clicked.connect(lambda _=False, phrase=c.phrase: self._on_read_chip_closed(phrase))
            self._read_layout.addWidget(chip)
        self.read_chips.setVisible(bool(chips))

    def read_chip_buttons(self) -> list[QPushButton]:
        return [self._read_layout.itemAt(i).widget() for i in range(self._read_layout.count())]

    def _on_read_chip_closed(self, phrase: str) -> None:
        self._ignored.add(phrase)
        if self._query is not None:
            self._run_query()

    def search_person(self, photo_ids: set[int], label: str) -> None:
        """The photos of one person (from the People tab, or a face in the preview)."""
        self._query = ("person", photo_ids, label)
        self.shown.emit()
        self._run_query()

    def _on_person_chip_closed(self) -> None:
        self.person_chip.hide()
        if self._query is not None and self._query[0] == "person":
            self.clear_search()
            return
        self._ignored.add(str(self.person_chip.property("names") or ""))
        self.person_chip.hide()
        if self._query is not None:
            self._run_query()

    def _on_date_chip_closed(self) -> None:
        self._ignored.add(str(self.date_chip.property("phrase") or ""))
        self.date_chip.hide()
        if self._query is not None:
            self._run_query()

    def more_like(self, hit: SearchHit) -> None:
        self._query = ("image", hit.photo_id, f"photos like {os.path.basename(hit.path)}")
        self._run_query()

    def more_like_region(self, hit: SearchHit, part: Region) -> None:
        """A rectangle dragged on the preview: photos like that part of the photo."""
        self._query = ("region", (hit.photo_id, part), f"photos like a part of {os.path.basename(hit.path)}")
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
        self.shown.emit()
        self._run_query()

    def paste_image(self) -> bool:
        source = image_source(QGuiApplication.clipboard().mimeData())
        if source is None:
            self.statusMessage.emit("The clipboard holds no image to search with.", 5000)
            return False
        self.search_by_image(source)
        return True

    def clear_search(self, keep_focus: bool = False) -> None:
        self._debounce.stop()
        self.controller.cancel_search()
        self._query = None
        self.refine.clear()
        self.date_chip.hide()
        self.person_chip.hide()
        if self.search.text():
            self.search.clear()
        self.thumbnails.forget_pending()
        self._set_results([])
        self.preview.show_hit(None)
        self.update_center()
        if not keep_focus:
            self.search.setFocus()

    def _on_results(self, outcome: SearchOutcome) -> None:
        if self._query is None:
            return
        self.thumbnails.forget_pending()
        self._set_results(outcome.hits)
        self._show_plan_chips(outcome.plan)
        applied = outcome.plan.filters.place if outcome.plan is not None else None
        self._show_place_chips([n for n in outcome.places if n != applied])  # applied: filtered already
        n = len(self._strong_hits)
        if not outcome.hits:
            label = "No photos match"
        elif n == 0:
            label = "No close matches; the nearest photos"
        else:
            label = f"{n:,} photos"
        self._set_header(f"{label} for {outcome.label} · {outcome.seconds:.2f} s")
        self.preview.show_hit(None)
        self.stack.setCurrentIndex(1)
        self.grid.scrollToTop()
        self.resultsShown.emit(outcome)

    def _set_results(self, hits: list[SearchHit]) -> None:
        """Show a search's results with its weaker matches folded (shown when nothing
        else came back: the nearest photos are better than an empty page)."""
        self._strong_hits = [h for h in hits if not h.weak]
        self._weak_hits = [h for h in hits if h.weak]
        self.weaker_button.blockSignals(True)
        self.weaker_button.setChecked(not self._strong_hits)
        self.weaker_button.blockSignals(False)
        self.weaker_button.setVisible(bool(self._weak_hits and self._strong_hits))
        self._show_weaker(self.weaker_button.isChecked())

    def _show_weaker(self, shown: bool) -> None:
        n = len(self._weak_hits)
        matches = "weaker match" if n == 1 else "weaker matches"
        self.weaker_button.setText(f"Hide {n:,} {matches}" if shown else f"+ {n:,} {matches}")
        self.results_model.set_hits(self._strong_hits + (self._weak_hits if shown else []))

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

    def selected_hit(self) -> SearchHit | None:
        index = self.grid.currentIndex()
        return index.data(HitRole) if index.isValid() else None

    def _on_current_changed(self, current, previous) -> None:
        hit = current.data(HitRole) if current.isValid() else None
        self.preview.show_hit(hit)
        if hit is not None and self.controller.library is not None:
            self.preview.set_faces(people_ui.preview_faces(
                self.controller.library, hit.photo_id, hit.t_seconds))

    def _more_of_person(self, person_id: int, label: str) -> None:
        lib = self.controller.library
        if lib is not None:
            self.search_person(people.photo_ids_of(lib.catalog, [person_id]), label)

    def _name_face(self, face) -> None:  # type: ignore[no-untyped-def]
        """A click on a face in the preview: ask for a name, put the face with that person."""
        lib = self.controller.library
        hit = self.preview.hit
        if lib is None or hit is None:
            return
        name = people_ui.ask_name(self, face.name or "")
        if name:
            people.assign_face(lib.catalog, face.face_id, name)
            self.preview.set_faces(people_ui.preview_faces(lib, hit.photo_id, hit.t_seconds))
            self.peopleChanged.emit()

    def open_selected(self) -> None:
        self._open_hit(self.selected_hit())

    @staticmethod
    def _open_hit(hit: SearchHit | None) -> None:
        if hit is not None:
            preview_mod.open_hit(hit)  # a video starts at its matching frame where possible

    # -- places ---------------------------------------------------------------

    def _build_place_filter(self) -> QComboBox:
        """An editable list of the library's places with photo counts; typing filters it."""
        combo = QComboBox()
        combo.setObjectName("placeFilter")
        combo.setEditable(True)
        combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        combo.setMinimumContentsLength(14)
        combo.lineEdit().setPlaceholderText("Any place")
        combo.lineEdit().setClearButtonEnabled(True)
        combo.setToolTip("Only photos taken in this city, region or country")
        completer = QCompleter(combo.model(), combo)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        combo.setCompleter(completer)
        combo.addItem("", None)
        combo.activated.connect(lambda _index: self._on_place_edited())
        combo.lineEdit().editingFinished.connect(self._on_place_edited)
        self._place_applied: str | None = None
        return combo

    def set_places(self, rows: list) -> None:
        """(name, kind, photos) rows from the library, most photos first."""
        combo = self.place_filter
        text = combo.currentText()
        combo.blockSignals(True)
        combo.clear()
        combo.addItem("", None)
        for name, kind, n in rows:
            combo.addItem(f"{name} ({n:,})", name)
            combo.setItemData(combo.count() - 1, f"{kind}, {n:,} photos", Qt.ItemDataRole.ToolTipRole)
        index = combo.findText(text)
        combo.setCurrentIndex(max(0, index))
        combo.setEditText(text)
        combo.blockSignals(False)

    def place_value(self) -> str | None:
        """The place to filter by: a listed item, or whatever name was typed."""
        text = self.place_filter.currentText().strip()
        if not text:
            return None
        index = self.place_filter.findText(text)
        if index > 0:
            return self.place_filter.itemData(index)
        key = places.place_key(text)
        for i in range(1, self.place_filter.count()):
            name = self.place_filter.itemData(i)
            if name and places.place_key(name) == key:
                return name
        return text

    def set_place_filter(self, name: str | None) -> None:
        combo = self.place_filter
        combo.blockSignals(True)
        index = combo.findData(name) if name else 0
        if index >= 0:
            combo.setCurrentIndex(index)
        else:
            combo.setEditText(name or "")
        combo.blockSignals(False)
        self._on_place_edited()

    def _on_place_edited(self) -> None:
        value = self.place_value()
        if value != self._place_applied:
            self._place_applied = value
            self._on_filters_changed()

    def _show_place_chips(self, named: list[str]) -> None:
        """Places named in the query, offered as a one-click filter (never applied silently)."""
        while self._chips_layout.count():
            item = self._chips_layout.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self._chip_buttons: list[QPushButton] = []
        current = self.place_value()
        shown = [n for n in named if n != current]
        for name in shown:
            chip = QPushButton(f"Only {name}")
            chip.setObjectName("placeChip")
            chip.setToolTip(f"Show only photos taken in {name}")
            chip.clicked.connect(lambda _=False, n=name: self.set_place_filter(n))
            self._chips_layout.addWidget(chip)
            self._chip_buttons.append(chip)
        self.chips.setVisible(bool(shown))

    def place_chips(self) -> list[QPushButton]:
        return list(getattr(self, "_chip_buttons", []))

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
        for action in self.photo_actions:
            menu.addAction(action)
        if self._query is not None and self._query[0] == "text":
            menu.addSeparator()
            menu.addAction(self.refine.like_action)
            menu.addAction(self.refine.unlike_action)
        hit = index.data(HitRole)
        if hit is not None and hit.duplicates:
            self.duplicates_action.setText(f"Show {len(hit.duplicates)} near-duplicates")
            menu.addAction(self.duplicates_action)
        copy = menu.addAction("Copy path")
        copy.triggered.connect(lambda: QGuiApplication.clipboard().setText(index.data(HitRole).path))
        menu.popup(self.grid.viewport().mapToGlobal(pos))

    def focus_search(self) -> None:
        self.shown.emit()
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

    def apply_thumb_size(self, size: int) -> None:
        self.results_model.set_thumb_size(size)
        self.grid.setIconSize(QSize(size, size))
        self.grid.setGridSize(QSize(size + 20, size + 40))

    def choose_moved_folder(self) -> None:
        index = self.folders_view.currentIndex()
        if not index.isValid():
            return
        old = index.siblingAtColumn(0).data(FolderRole)
        start = os.path.dirname(old.rstrip(os.sep))
        new = QFileDialog.getExistingDirectory(self, f"Where is {os.path.basename(old)} now?", start)
        if new:
            self.controller.move_folder(old, new)

    def offer_move(self, old: str, new: str) -> None:
        """A folder being added holds an offline folder's photos: moving keeps the index."""
        answer = QMessageBox.question(
            self, "Folder moved?",
            f"{new} holds the photos of {old}, which is offline.\n\n"
            "Treat it as the same folder, moved (keeps the index, nothing re-encoded)? "
            "Choose No to index it as a separate folder.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.Yes,
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.controller.move_folder(old, new)
        else:
            self.controller.add_folder(new, as_new=True)

    def remove_selected_folder(self) -> None:
        index = self.folders_view.currentIndex()
        if index.isValid():
            self.controller.remove_folder(index.siblingAtColumn(0).data(FolderRole))

    # -- refining and near-duplicates ------------------------------------------

    def _mark_selected(self, liked: bool) -> None:
        hit = self.selected_hit()
        if hit is None or self._query is None or self._query[0] != "text":
            self.statusMessage.emit("Marks refine a text search: search by words first.", 5000)
            return
        self.refine.mark(hit, liked)

    def show_duplicates_of_selected(self) -> None:
        """Expand a folded result: the photo and its near-duplicates, best first."""
        hit = self.selected_hit()
        if hit is None or not hit.duplicates or self._query is None:
            return
        if self._query[0] != "group":
            self._before_group = self._query
        group = [replace(hit, duplicates=()), *hit.duplicates]
        label = f"{len(group)} near-duplicates of {os.path.basename(hit.path)}"
        self._query = ("group", group, label)
        self.weaker_button.hide()
        self.results_model.set_hits(group)
        self._set_header(f"{label} · Backspace goes back to the results")
        self.grid.setCurrentIndex(self.results_model.index(0))

    def back_from_duplicates(self) -> None:
        if self._query is not None and self._query[0] == "group" and self._before_group:
            self._query, self._before_group = self._before_group, None
            self._run_query()
