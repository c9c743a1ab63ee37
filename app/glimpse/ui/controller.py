"""The GUI's one handle on the engine: every Library call goes through here, off the GUI thread.

Views never call the Library. They call this controller, which runs the call
on a worker pool and answers with a signal. Three pools keep the kinds of
work from queueing behind each other:

- `background` (one thread): opening the library, loading a model, indexing,
  removing a folder. One thread means these never overlap, so a folder is
  never removed under a batch that is being written (Picard's write pool).
- `searches` (one thread): queries. Stale queued queries are dropped and
  stale answers ignored by sequence number, so typing never builds a backlog.
- `misc` (one thread): cheap catalog reads (folder counts, the error list).

Searching keeps working while indexing runs: the engine holds the model lock
only for one batch's forward pass, and the catalog and index locks only for
one batch's commit.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QImage

from glimpse.core.encoding.encoder import ModelSpec, ensure_weights
from glimpse.core.errors import GlimpseError
from glimpse.core.indexing import pipeline
from glimpse.core.indexing.check import CheckReport
from glimpse.core.indexing.pipeline import IndexReport
from glimpse.core.jobs import CancelToken, Progress
from glimpse.core.library import Library
from glimpse.core.search.planner import QueryPlan
from glimpse.core.search.ranking import Filters, SearchHit
from glimpse.core.search.region import Region
from glimpse.core.storage.catalog import FolderRow
from glimpse.ui.workers import ProgressFn, Worker, WorkerPool

log = logging.getLogger(__name__)

FOLDER_REFRESH_S = 1.0

# Model states shown to the user.
OPENING, LOADING, READY, ERROR = "opening", "loading", "ready", "error"
GRAPH_POLL_MS = 1000


@dataclass(frozen=True)
class SearchOutcome:
    seq: int
    kind: str  # "text" or "image"
    label: str  # what the user asked, for the results header
    hits: list[SearchHit]
    seconds: float
    places: list[str] = field(default_factory=list)  # library places named in a text query
    plan: QueryPlan | None = None  # how a text query was read (its chips), core/search/planner.py


@dataclass(frozen=True)
class IndexOutcome:
    report: IndexReport | None  # scan, encode and each signal's PassReport (report.passes)
    switched_to: str | None = None  # the model now answering, after a switch
    errors: list[tuple[str, str]] = field(default_factory=list)


OFFLINE_RECHECK_MS = 30_000


def user_message(exc: BaseException) -> str:
    """Our own errors carry a message for the user; anything else is a bug, said plainly."""
    if isinstance(exc, GlimpseError):
        return str(exc)
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc} ({exc.filename})" if exc.filename else str(exc)
    return f"Unexpected error ({type(exc).__name__}: {exc}). Please report it."


class LibraryController(QObject):
    stateChanged = Signal(str, str)  # state, message
    foldersChanged = Signal(object)  # list[FolderRow]
    placesChanged = Signal(object)  # list[(name, kind, photos)], with each folders refresh
    indexStarted = Signal(str)  # what: "index" or the model being switched to
    indexProgress = Signal(object)  # Progress
    indexFinished = Signal(object)  # IndexOutcome
    indexFailed = Signal(str)
    pausedChanged = Signal(bool)
    searchFinished = Signal(object)  # SearchOutcome
    searchFailed = Signal(int, str)
    errorsLoaded = Signal(object)  # list[(path, reason)]
    checkFinished = Signal(object)  # CheckReport
    checkFailed = Signal(str)
    message = Signal(str)  # transient news for the status bar
    graphStatus = Signal(str)  # where the vector index's graph tier stands ("" when none)
    downloadProgress = Signal(object)  # DownloadProgress of the model's weights; None when over
    moveSuggested = Signal(str, str)  # offline folder, the new folder holding its photos
    _watchedChange = Signal()  # from the watcher thread, hops to the GUI thread

    def __init__(self, parent: QObject | None = None, batch_size: int = 16) -> None:
        super().__init__(parent)
        self.background = WorkerPool(1, "background", self)
        self.searches = WorkerPool(1, "searches", self)
        self.misc = WorkerPool(1, "misc", self)
        self.library: Library | None = None
        self.state = OPENING
        self.state_message = ""
        self.batch_size = batch_size
        # Signals turned off by their switch ("ocr", "faces": core/signals/registry.py);
        # every index job runs the rest of the pipeline (core/indexing/pipeline.py).
        self.skip: set[str] = set()
        self._index_phase = ""
        self._index_worker: Worker | None = None
        self._load_worker: Worker | None = None
        self._rerun = False
        self._seq = 0
        self._pending_search: tuple[Any, ...] | None = None
        self._folders_in_flight = False
        self._folders_dirty = False
        self._last_folder_refresh = 0.0
        self._watcher: Any = None
        self._folder_rows: list[FolderRow] = []
        # An unmounted folder sends no event when its disk comes back: look now and then.
        self._offline_timer = QTimer(self)
        self._offline_timer.setInterval(OFFLINE_RECHECK_MS)
        self._offline_timer.timeout.connect(self.check_offline_folders)
        self._service: Any = None  # the local search API (core.service), while a library is open
        # A big library's graph tier builds on a thread of its own (core/storage/graph_job.py):
        # its progress is looked at once a second.
        self._graph_timer = QTimer(self)
        self._graph_timer.setInterval(GRAPH_POLL_MS)
        self._graph_timer.timeout.connect(self.poll_graph)
        self._graph_text = ""
        self._closing = False
        self._tmp = Path(tempfile.mkdtemp(prefix="glimpse-gui-"))
        self._watchedChange.connect(self.request_index)

    # -- opening and the model ------------------------------------------------

    def open(
        self,
        root: str | Path | None = None,
        model: str | None = None,
        device: str | None = None,
        watch: bool = True,
    ) -> None:
        """Open the library and load its model in the background; the window is already up."""
        self._watch = watch
        self._set_state(OPENING, "Opening the library…")

        def job(token: CancelToken, progress: ProgressFn) -> Library:
            return Library(root, model=model, device=device)

        self._submit(self.background, job, self._on_opened, self._on_open_failed, "open")

    def _on_opened(self, library: Library) -> None:
        if self._closing:
            library.close()
            return
        self.library = library
        self.refresh_folders()
        if self._watch:
            self._start_watcher()
        self._start_service()
        self._load_model()

    def _start_service(self) -> None:
        """Answer `glimpse search` from this window's loaded model (its own threads,
        never the GUI thread)."""
        from glimpse.core.service import SearchService

        try:
            service = SearchService(self._require())
            self._service = service if service.start() else None
        except OSError as exc:  # no runtime folder, socket refused: searching in-app still works
            log.warning("the local search service could not start: %s", exc)

    def _on_open_failed(self, exc: BaseException) -> None:
        self._set_state(ERROR, user_message(exc))

    def _load_model(self) -> None:
        lib = self._require()
        self._set_state(LOADING, f"Loading model {lib.spec}…")

        def job(token: CancelToken, progress: ProgressFn) -> str:
            # First use of a pretrained model: its weights download here, with
            # progress in the status bar and a cancel button (resumed next time).
            ensure_weights(lib.spec, lib.cache_dir, progress, token)
            lib.encoder.prepare()  # cheap once exported; towers load on first use
            lib.index_for(progress=progress)  # seconds at 1M photos, with progress
            return str(lib.spec)

        worker = Worker(job, name="load")
        worker.signals.progress.connect(self.downloadProgress)
        worker.signals.finished.connect(self._on_model_ready)
        worker.signals.failed.connect(self._on_model_failed)
        self._load_worker = worker
        self.background.start(worker)

    def cancel_download(self) -> None:
        """Stop a weights download (the partial file is kept and resumed later)."""
        if self._load_worker is not None:
            self._load_worker.cancel()

    def _on_model_ready(self, name: str) -> None:
        self._load_worker = None
        self.downloadProgress.emit(None)
        self._set_state(READY, name)
        self._run_pending_search()
        if self.library is not None and self.library.folder_paths():
            self.request_index()  # catch up with what changed while we were closed

    def _on_model_failed(self, exc: BaseException) -> None:
        self._load_worker = None
        self.downloadProgress.emit(None)
        self._set_state(ERROR, model_error_advice(user_message(exc)))

    def _set_state(self, state: str, message: str) -> None:
        self.state, self.state_message = state, message
        if state == READY and not self._graph_timer.isActive():
            self._graph_timer.start()
        self.stateChanged.emit(state, message)

    def poll_graph(self) -> None:
        """Say where the graph tier stands when that changes (a dict look-up: cheap)."""
        lib = self.library
        job = lib.graph_job() if lib is not None and self.state == READY else None
        text = job.describe() if job is not None else ""
        if text != self._graph_text:
            self._graph_text = text
            self.graphStatus.emit(text)

    @property
    def model_name(self) -> str:
        return str(self.library.spec) if self.library is not None else ""

    @property
    def random_weights(self) -> bool:
        return self.library is not None and self.library.spec.is_random

    # -- folders --------------------------------------------------------------

    def add_folder(self, path: str | Path, as_new: bool = False) -> None:
        """Add a folder; if it holds the photos of an offline folder (a disk
        mounted elsewhere, a renamed folder), ask instead (moveSuggested)."""
        lib = self._require()

        def job(token: CancelToken, progress: ProgressFn) -> tuple[str, str | None]:
            resolved = str(Path(path).expanduser().resolve())
            if not as_new and resolved not in lib.folder_paths():
                source = lib.moved_from(path)
                if source is not None:
                    return resolved, source.path
            return lib.add_folder(path), None

        self._submit(self.misc, job, self._on_folder_checked, self._on_misc_failed, "add-folder")

    def _on_folder_checked(self, result: tuple[str, str | None]) -> None:
        resolved, moved_from = result
        if moved_from is not None:
            self.moveSuggested.emit(moved_from, resolved)
        else:
            self._on_folder_added(resolved)

    def move_folder(self, old: str, new: str | Path) -> None:
        """Re-point a folder that moved (no re-encoding); on the background pool,
        after the index job in flight has let go."""
        lib = self._require()
        if self._index_worker is not None:
            self._index_worker.cancel()
            self._rerun = True
        if self._watcher is not None:
            self._watcher.remove(old)

        def job(token: CancelToken, progress: ProgressFn) -> tuple[str, str, int]:
            n = lib.move_folder(old, new)
            return old, str(Path(new).expanduser().resolve()), n

        self._submit(self.background, job, self._on_folder_moved, self._on_misc_failed, "move")

    def _on_folder_moved(self, result: tuple[str, str, int]) -> None:
        old, new, n = result
        if self._watcher is not None:
            self._watcher.add(new)
        self.message.emit(f"{old} is now {new}: {n:,} photos kept, nothing re-encoded")
        self.refresh_folders()
        self.request_index()

    def _on_folder_added(self, resolved: str) -> None:
        if self._watcher is not None:
            self._watcher.add(resolved)
        self.message.emit(f"Added {resolved}")
        self.refresh_folders()
        self.request_index()

    def remove_folder(self, path: str) -> None:
        """Runs on the background pool, after the (cancelled) index job has let go."""
        lib = self._require()
        if self._index_worker is not None:
            self._index_worker.cancel()
            self._rerun = True
        if self._watcher is not None:
            self._watcher.remove(path)

        def job(token: CancelToken, progress: ProgressFn) -> tuple[str, int]:
            return path, lib.remove_folder(path)

        self._submit(self.background, job, self._on_folder_removed, self._on_misc_failed, "remove")

    def _on_folder_removed(self, result: tuple[str, int]) -> None:
        path, n = result
        self.message.emit(f"Removed {path} ({n:,} photos forgotten; the files are untouched)")
        self.refresh_folders()
        if self._rerun and self._index_worker is None:
            self.request_index()

    def refresh_folders(self) -> None:
        if self.library is None or self._closing:
            return
        if self._folders_in_flight:
            self._folders_dirty = True
            return
        self._folders_in_flight = True
        self._last_folder_refresh = time.monotonic()
        lib = self.library

        def job(token: CancelToken, progress: ProgressFn) -> tuple[list[FolderRow], list]:
            return lib.folders(), lib.places()

        self._submit(self.misc, job, self._on_folders, self._on_folders_failed, "folders")

    def _on_folders(self, result: tuple[list[FolderRow], list]) -> None:
        self._folders_in_flight = False
        rows, places = result
        self._folder_rows = list(rows)
        if any(r.offline_since is not None for r in rows):
            if not self._offline_timer.isActive():
                self._offline_timer.start()
        else:
            self._offline_timer.stop()
        self.foldersChanged.emit(rows)
        self.placesChanged.emit(places)
        if self._folders_dirty:
            self._folders_dirty = False
            self.refresh_folders()

    def _on_folders_failed(self, exc: BaseException) -> None:
        self._folders_in_flight = False
        self._on_misc_failed(exc)

    def load_errors(self) -> None:
        lib = self._require()

        def job(token: CancelToken, progress: ProgressFn) -> list[tuple[str, str]]:
            return [(path, reason) for path, reason, _kind in lib.problem_files(limit=5000)]

        self._submit(self.misc, job, self.errorsLoaded, self._on_misc_failed, "errors")

    def check_library(self) -> None:
        """Verify and repair the catalog (Library.check) off the GUI thread; what the
        repairs leave to redo (encode, read again) is queued as an index run."""
        lib = self._require()

        def job(token: CancelToken, progress: ProgressFn) -> CheckReport:
            return lib.check(repair=True, cancel=token)

        self._submit(self.misc, job, self._on_check_done, self._on_check_failed, "check")

    def _on_check_done(self, report: CheckReport) -> None:
        self.checkFinished.emit(report)
        if report.needs_index:
            self.request_index()

    def _on_check_failed(self, exc: BaseException) -> None:
        self.checkFailed.emit(user_message(exc))

    def _on_misc_failed(self, exc: BaseException) -> None:
        self.message.emit(user_message(exc))

    def _start_watcher(self) -> None:
        from glimpse.core.indexing.watch import FolderWatcher

        try:
            self._watcher = FolderWatcher(
                self._require().folder_paths(),
                on_change=self._on_watch_event,
                on_error=lambda exc: log.warning("watcher: %s", exc),
            )
            self._watcher.start()
        except Exception as exc:  # e.g. inotify limits: search still works without watching
            self._watcher = None
            self.message.emit(f"Folders are not watched for changes: {exc}")

    def check_offline_folders(self) -> None:
        """If an offline folder's disk is back, watch it again and rescan."""
        offline = [(r.path, r.indexed) for r in self._folder_rows if r.offline_since is not None]
        if not offline or self.library is None or self._closing:
            return

        def job(token: CancelToken, progress: ProgressFn) -> list[str]:
            from glimpse.core.indexing.scan import folder_is_offline

            return [path for path, n in offline if not folder_is_offline(path, n)]

        self._submit(self.misc, job, self._on_offline_back, self._on_misc_failed, "offline")

    def _on_offline_back(self, back: list[str]) -> None:
        if not back:
            return
        if self._watcher is not None:
            for path in back:
                self._watcher.remove(path)
                self._watcher.add(path)
        self.message.emit(f"Back online: {', '.join(back)}")
        self.request_index()

    def _on_watch_event(self, paths: set[str]) -> None:
        """Watcher thread: only emit; the slot runs on the GUI thread."""
        self._watchedChange.emit()

    # -- indexing -------------------------------------------------------------

    @property
    def indexing(self) -> bool:
        return self._index_worker is not None

    def request_index(self) -> None:
        """Index now, or right after the running job (coalesces watcher bursts)."""
        if self._closing or self.library is None:
            return
        if self._index_worker is not None or self.state != READY:
            self._rerun = True
            if self._index_worker is not None and pipeline.is_background(self._index_phase):
                # Reading text yields to encoding: new photos become findable first,
                # and the rerun carries on reading where this one stopped.
                self._index_worker.cancel()
            return
        self._start_index_job(None)

    @property
    def watching(self) -> bool:
        """Whether folder changes are picked up by themselves (off with --no-watch)."""
        return self._watcher is not None

    def switch_model(self, model: str, device: str | None = None) -> None:
        """Encode the library with another model; the current one answers until that is done."""
        lib = self._require()
        spec = ModelSpec.parse(model)  # raises ModelLoadError for a malformed name
        if device and device != lib.device:
            lib.device = device
            lib.save_settings(device=device)
        if self._index_worker is not None:
            self._index_worker.cancel()
            self._rerun = True
        if self.state != READY:
            self._set_state(LOADING, f"Loading model {spec}…")
        self._start_index_job(spec)

    def _start_index_job(self, spec: ModelSpec | None) -> None:
        lib = self._require()
        self._rerun = False
        batch = self.batch_size
        skip = set(self.skip)
        self._index_phase = ""

        def job(token: CancelToken, progress: ProgressFn) -> IndexOutcome:
            if spec is not None:
                lib.encoder_for(spec).prepare()  # a load error surfaces here, before any work
            report = lib.index(progress=progress, cancel=token, spec=spec, batch_size=batch,
                               skip=skip)
            switched = None
            if spec is not None and not report.encode.cancelled:
                lib.use_model(spec)
                switched = str(spec)
            for name, r in report.passes.items():
                if r.error is not None:  # photos stay searchable by meaning
                    stage = pipeline.stage_of(name)
                    noun = stage.signal.noun if stage and stage.signal else name
                    self.message.emit(f"No {noun}: {r.error}")
            return IndexOutcome(report, switched, list(report.encode.errors))

        worker = Worker(job, name="index")
        worker.signals.progress.connect(self._on_index_progress)
        worker.signals.finished.connect(self._on_index_finished)
        worker.signals.failed.connect(self._on_index_failed)
        self._index_worker = worker
        self.background.start(worker)
        self.indexStarted.emit(str(spec) if spec is not None else "index")

    def _on_index_progress(self, progress: Progress) -> None:
        self._index_phase = progress.phase
        self.indexProgress.emit(progress)
        if time.monotonic() - self._last_folder_refresh > FOLDER_REFRESH_S:
            self.refresh_folders()

    def _on_index_finished(self, outcome: IndexOutcome) -> None:
        self._index_worker = None
        if outcome.switched_to is not None:
            self._set_state(READY, outcome.switched_to)
            self.message.emit(f"Now searching with {outcome.switched_to}")
            self._run_pending_search()
        elif self.state == LOADING and outcome.report is not None and outcome.report.cancelled:
            # A switch away from a broken model was cancelled: still nothing to search with.
            self._set_state(ERROR, model_error_advice("The model switch was cancelled."))
        self.indexFinished.emit(outcome)
        self.refresh_folders()
        self._after_index_job()

    def _on_index_failed(self, exc: BaseException) -> None:
        self._index_worker = None
        message = user_message(exc)
        if self.state == LOADING:  # a switch from a broken model failed too
            self._set_state(ERROR, model_error_advice(message))
        self.indexFailed.emit(message)
        self.refresh_folders()
        self._after_index_job()

    def _after_index_job(self) -> None:
        if self._rerun and not self._closing and self.state == READY:
            self._start_index_job(None)

    def pause_indexing(self, paused: bool) -> None:
        if self._index_worker is None:
            return
        if paused:
            self._index_worker.token.pause()
        else:
            self._index_worker.token.resume()
        self.pausedChanged.emit(paused)

    def cancel_indexing(self) -> None:
        if self._index_worker is not None:
            self._rerun = False
            self._index_worker.cancel()
            self.pausedChanged.emit(False)

    # -- searching ------------------------------------------------------------

    def search_text(
        self, query: str, filters: Filters | None = None, k: int = 60,
        like: Sequence[int] = (), unlike: Sequence[int] = (), sort: str = "best",
        ignore: Sequence[str] = (),
    ) -> int:
        """A text query, read by the planner (`ignore`: phrases of chips the user closed),
        refined by the photos marked "more like this one" / "not this"."""
        return self._search("text", (query, tuple(like), tuple(unlike), sort, tuple(ignore)),
                            query, filters, k)

    def search_similar(
        self, image: int | str | Path, label: str, filters: Filters | None = None, k: int = 60
    ) -> int:
        return self._search("image", image, label, filters, k)

    def search_region(
        self, image: int | str | Path, region: Region, label: str, filters: Filters | None = None,
        k: int = 60,
    ) -> int:
        """Photos like a part of a photo (a rectangle dragged on the preview)."""
        return self._search("region", (image, region), label, filters, k)

    def search_pasted(self, image: QImage, filters: Filters | None = None, k: int = 60) -> int:
        """A pasted picture: saved to a private temp file (off-thread), then searched by."""
        self._seq += 1
        path = self._tmp / f"pasted-{self._seq}.png"
        return self._search("pasted", (image, path), "pasted image", filters, k)

    def _search(self, kind: str, what: Any, label: str, filters: Filters | None, k: int) -> int:
        self._seq += 1
        seq = self._seq
        if self.state != READY or self.library is None:
            self._pending_search = (kind, what, label, filters, k, seq)
            return seq
        lib = self.library

        def job(token: CancelToken, progress: ProgressFn) -> SearchOutcome:
            start = time.perf_counter()
            collapse = lib.default_collapse()  # fold near-duplicates into one result
            plan = None
            if kind == "text":
                text, like, unlike, sort, ignore = what
                plan = lib.plan(text, filters, ignore=ignore)
                hits = lib.search(plan, k=k, like=like, unlike=unlike, collapse=collapse, sort=sort)
            elif kind == "pasted":
                image, path = what
                if not image.save(str(path), "PNG"):
                    raise GlimpseError("The pasted image could not be read.")
                hits = lib.similar(path, k=k, filters=filters, collapse=collapse)
            elif kind == "region":
                image, part = what
                hits = lib.similar(image, k=k, filters=filters, collapse=collapse, region=part)
            else:
                hits = lib.similar(what, k=k, filters=filters, collapse=collapse)
            named = list(plan.places) if plan is not None else []
            return SearchOutcome(seq, "text" if kind == "text" else "image", label, hits,
                                 time.perf_counter() - start, named, plan)

        self.searches.clear_queued()  # an older query still waiting is already stale
        worker = Worker(job, name="search")
        worker.seq = seq  # type: ignore[attr-defined]
        worker.signals.finished.connect(self._on_search_finished)
        worker.signals.failed.connect(self._on_search_failed)
        self.searches.start(worker)
        return seq

    def _run_pending_search(self) -> None:
        pending, self._pending_search = self._pending_search, None
        if pending is not None and pending[-1] == self._seq:
            kind, what, label, filters, k, _ = pending
            self._search(kind, what, label, filters, k)

    def cancel_search(self) -> None:
        """Forget any query in flight (Esc): its answer will be ignored."""
        self._seq += 1
        self._pending_search = None

    def _on_search_finished(self, outcome: SearchOutcome) -> None:
        if outcome.seq == self._seq:
            self.searchFinished.emit(outcome)

    def _on_search_failed(self, exc: BaseException) -> None:
        self.searchFailed.emit(self._seq, user_message(exc))

    # -- plumbing -------------------------------------------------------------

    def _require(self) -> Library:
        if self.library is None:
            raise GlimpseError("The library is not open yet.")
        return self.library

    def _submit(self, pool: WorkerPool, fn: Any, on_done: Any, on_fail: Any, name: str) -> Worker:
        worker = Worker(fn, name=name)
        worker.signals.finished.connect(on_done)
        worker.signals.failed.connect(on_fail)
        return pool.start(worker)

    def pools(self) -> list[WorkerPool]:
        return [self.background, self.searches, self.misc]

    def shutdown(self, timeout_ms: int = 60_000) -> bool:
        """Stop everything and save: cancel the job, stop watching, wait, close.

        Each index batch is committed as it is encoded, so a cancelled job
        loses nothing but the batch in flight, which the next run redoes.
        """
        self._closing = True
        self._rerun = False
        self._offline_timer.stop()
        self._graph_timer.stop()
        if self._index_worker is not None:
            self._index_worker.cancel()
        if self._watcher is not None:
            self._watcher.stop()
            self._watcher = None
        if self._service is not None:
            self._service.stop()
            self._service = None
        ok = all([pool.shutdown(timeout_ms) for pool in self.pools()])
        if self.library is not None:
            try:
                self.library.close()
            except Exception as exc:  # closing must finish; say what went wrong
                log.error("closing the library failed: %s", exc)
            self.library = None
        shutil.rmtree(self._tmp, ignore_errors=True)
        return ok


def model_error_advice(message: str) -> str:
    """Say what to do, not only what went wrong: the first run offline ends up here."""
    if "Settings" in message:
        return message
    return message + " Open Settings (Ctrl+,) to choose another model or a local checkpoint file."
