"""One photo library: its catalog, its model, its index, and everything a user does with them.

The CLI, the GUI and the tests all go through this facade. It is thread-safe
enough for the GUI's pattern: one background job that indexes while the GUI
thread's workers search (the catalog, index and encoder each hold a lock).
"""

from __future__ import annotations

import json
import logging
import math
import os
import sys
import threading
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from glimpse.core import settings
from glimpse.core.encoding.encoder import Encoder, ModelSpec
from glimpse.core.errors import GlimpseError, QueryError
from glimpse.core.indexing import pipeline
from glimpse.core.indexing.check import CheckReport, check_catalog
from glimpse.core.indexing.encode import EncodeReport, encode_pending
from glimpse.core.indexing.pipeline import IndexReport
from glimpse.core.indexing.scan import ScanReport, scan_folder, sync_catalog
from glimpse.core.jobs import CancelToken, ProgressCallback
from glimpse.core.media import imaging, video
from glimpse.core.search import duplicates, feedback, relevance
from glimpse.core.search import ranking as search
from glimpse.core.search.ranking import Filters, QueryTerm, SearchHit
from glimpse.core.signals import people, places
from glimpse.core.signals.base import Engines, PassReport
from glimpse.core.signals.registry import signal_stages, word_sources
from glimpse.core.storage.catalog import MISSING, OK, Catalog, FolderRow, PhotoRow, RepairRow
from glimpse.core.storage.files import atomic_write, text_writer
from glimpse.core.storage.graph_job import GraphJob
from glimpse.core.storage.paths import LIBRARY_ENV, default_library_dir  # noqa: F401 - re-exported
from glimpse.core.storage.vector_index import EXACT_COMFORT_LIMIT, GRAPH_THRESHOLD, VectorIndex
from glimpse.core.storage.writelock import WriterLock

if TYPE_CHECKING:  # searching's modules load on the first search: an index run needs none
    from glimpse.core.search import planner
    from glimpse.core.search.region import Region
    from glimpse.core.search.words import TextQuery

log = logging.getLogger(__name__)

# Reading fewer vectors than this takes well under a second: no progress shown.
_REPORT_INDEX_READ_FROM = 50_000


@dataclass(frozen=True)
class VectorReadProgress:
    """How far a library's index is read from the catalog (shown in the status bar)."""

    done: int
    total: int
    cancellable = False

    def text(self) -> str:
        return f"Reading photo vectors into the search index: {self.done:,} of {self.total:,}"


@dataclass(frozen=True)
class LibraryStatus:
    root: str
    model: str
    model_id: str
    folders: list[FolderRow]
    counts: dict[str, int]
    indexed_for_model: int
    known_models: list[tuple[str, int, int]]
    signals: list[SignalProgress]


@dataclass(frozen=True)
class SignalProgress:
    """How far one signal has read the library (`glimpse status`, from the catalog alone)."""

    name: str
    noun: str
    did: str
    done: int
    total: int
    summary: str = ""  # what it found ("20 faces; 3 people, 1 named"), when it says


class Library:
    def __init__(
        self,
        root: Path | str | None = None,
        model: str | ModelSpec | None = None,
        device: str | None = None,
        cache_dir: Path | None = None,
        precision: str | None = None,
    ) -> None:
        self.root = Path(root).expanduser() if root else default_library_dir()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise GlimpseError(
                f"Cannot create the library folder {self.root} ({exc.strerror}). Choose a "
                "writable place with --library or GLIMPSE_LIBRARY."
            ) from exc
        self.catalog = Catalog(self.root / "catalog.sqlite")
        _remove_old_index_files(self.root / "indexes")
        # Held by every write job; other processes wait, then get a clear refusal.
        self.writer = WriterLock(self.root)
        self.settings = self._load_settings()
        # Each of these: the caller's choice, else GLIMPSE_*, else the library's saved one
        # (core/settings.py declares them).
        # A library indexed from the CLI (--model, no saved choice) keeps the model
        # its vectors are for: `glimpse status` and `search` then use that one.
        chosen = self.settings if self.settings.get("model") else {
            **self.settings, "model": self.catalog.last_used_model()}
        self.spec = (model if isinstance(model, ModelSpec)
                     else ModelSpec.parse(settings.text("model", model, chosen)))
        self.device = settings.text("device", device, self.settings) or "auto"
        self.precision = settings.text("precision", precision, self.settings)
        self.cache_dir = cache_dir
        self._encoders: dict[str, Encoder] = {}
        self._indexes: dict[str, VectorIndex] = {}
        self._index_keys: dict[str, int] = {}
        # Above graph_threshold vectors an index gets a graph tier, built on a
        # thread while exact search answers (core/storage/graph_job.py).
        # Off unless asked for (GLIMPSE_VECTOR_TIER=auto): at the measured parameters
        # the graph passed its recall check at 100k but not at 300k, where the build
        # costs minutes of both cores only to be refused (README "A million photos").
        self.graph_threshold = (GRAPH_THRESHOLD if settings.text("vector_tier") == "auto"
                                else sys.maxsize)
        self._graph_jobs: dict[str, GraphJob] = {}
        self._spreads: dict[str, relevance.Spread] = {}  # per model: for weaker matches
        self._model_keys: dict[str, int] = {}
        self._model_dims: dict[str, int] = {}
        self._load_lock = threading.RLock()
        # Building an index (seconds at 1M vectors) and loading a model (seconds,
        # during a model switch) must not wait for each other.
        self._index_lock = threading.RLock()
        # Each signal's models (OCR, faces), loaded once and shared by every run.
        self.engines = Engines(self.device)
        for signal in signal_stages():  # each signal's own tables, brought up to date
            if signal.migrations:
                self.catalog.migrate_part(signal.name, signal.migrations)

    # -- settings -----------------------------------------------------------

    def _load_settings(self) -> dict:
        path = self.root / "settings.json"
        try:
            return dict(json.loads(path.read_text("utf-8")))
        except (OSError, ValueError):
            return {}

    def save_settings(self, **changes: object) -> None:
        """Remember choices (model, device, ...) for the next run of CLI or GUI."""
        self.settings.update(changes)
        text = json.dumps(self.settings, indent=2)
        atomic_write(self.root / "settings.json", text_writer(text))

    # -- model and index ----------------------------------------------------

    def encoder_for(self, spec: ModelSpec | None = None) -> Encoder:
        """The model, once per library. Creating it loads nothing: its towers load
        when something must be encoded (see Encoder)."""
        spec = spec or self.spec
        key = str(spec)
        # Fast path without the lock: while another model loads (seconds, during
        # a model switch), searches with the loaded one must not wait for it.
        loaded = self._encoders.get(key)
        if loaded is not None:
            return loaded
        with self._load_lock:
            if key not in self._encoders:
                self._encoders[key] = Encoder(spec, self.device, self.cache_dir, precision=self.precision)
            return self._encoders[key]

    @property
    def encoder(self) -> Encoder:
        return self.encoder_for(self.spec)

    def _model_info(self, spec: ModelSpec | None) -> tuple[str, int, int]:
        """(model id, catalog key, dim): from the catalog when the model has been
        used here before, so stored vectors are usable without loading the model."""
        spec = spec or self.spec
        model_id = spec.model_id
        key = self._model_keys.get(model_id)
        if key is None:
            known = self.catalog.known_model(model_id)
            if known is None:
                dim = self.encoder_for(spec).dim  # a new model: asked once, then remembered
                known = (self.catalog.model_key(model_id, dim), dim)
            key, self._model_dims[model_id] = known
            self._model_keys[model_id] = key
        return model_id, key, self._model_dims[model_id]

    def model_key(self, spec: ModelSpec | None = None) -> int:
        """The catalog's small integer for a model (asked once: it never changes)."""
        return self._model_info(spec)[1]

    def index_for(
        self, spec: ModelSpec | None = None, progress: Callable[[VectorReadProgress], None] | None = None
    ) -> VectorIndex:
        """The in-memory index for a model, built from the catalog's vectors on first use
        (a few seconds at a million photos: `progress` hears how far it is)."""
        model_id = (spec or self.spec).model_id
        loaded = self._indexes.get(model_id)  # fast path, as in encoder_for
        if loaded is not None:
            self._start_graph(model_id, loaded)  # a library that grew past the threshold
            return loaded
        with self._index_lock:
            if model_id in self._indexes:
                return self._indexes[model_id]
            _, key, dim = self._model_info(spec)
            started = time.monotonic()
            index = VectorIndex(dim)
            total = self.catalog.vector_count(key) if progress is not None else 0
            report = progress if progress is not None and total >= _REPORT_INDEX_READ_FROM else None
            reported = 0.0
            for ids, vectors in self.catalog.iter_label_vectors(key):
                index.add(ids, vectors)
                now = time.monotonic()
                # A few reports a second: a window flooded with progress events
                # starves its own timers (a million rows are 500 chunks).
                if report is not None and now - reported >= 0.1:
                    reported = now
                    report(VectorReadProgress(len(index), max(total, len(index))))
            if report is not None:
                report(VectorReadProgress(len(index), max(total, len(index))))
            log.info("index for %s: %d vectors read in %.2f s", model_id, len(index),
                     time.monotonic() - started)
            self._indexes[model_id] = index
            self._index_keys[model_id] = key
            self._start_graph(model_id, index)
            if len(index) > EXACT_COMFORT_LIMIT and model_id not in self._graph_jobs:
                log.warning("%d vectors: each search scans them all and takes over 0.1 s",
                            len(index))
            return index

    def _start_graph(self, model_id: str, index: VectorIndex) -> None:
        if len(index) < self.graph_threshold or model_id in self._graph_jobs:
            return
        with self._index_lock:
            if model_id not in self._graph_jobs:
                path = self.root / "graphs" / f"model-{self._index_keys[model_id]}.hnsw"
                self._graph_jobs[model_id] = GraphJob(index, path, model_id).start()

    def graph_job(self, spec: ModelSpec | None = None) -> GraphJob | None:
        """The graph tier's build for a model's index (progress, source, recall);
        None while the index is below graph_threshold or not loaded."""
        return self._graph_jobs.get((spec or self.spec).model_id)

    def _reconcile(self, model_id: str) -> bool:
        """Make a loaded index hold exactly the catalog's searchable vectors for its
        model, after a scan (removals, offline folders, copies that reused vectors)."""
        index, key = self._indexes[model_id], self._index_keys[model_id]
        labels = np.concatenate([self.catalog.embedding_ids(key), self.catalog.frame_labels(key)])
        added, removed = index.sync_with(
            labels, lambda chunk: self.catalog.label_vectors(key, chunk)[1]
        )
        if added or removed:
            log.info("index for %s reconciled: %d added, %d removed", model_id, added, removed)
        return bool(added or removed)

    def use_model(self, spec: ModelSpec | str, remember: bool = True) -> None:
        """Switch the model that answers searches (after it has encoded the library)."""
        self.spec = spec if isinstance(spec, ModelSpec) else ModelSpec.parse(spec)
        if remember:
            self.save_settings(model=str(self.spec))

    # -- folders ------------------------------------------------------------

    def add_folder(self, path: str | Path) -> str:
        folder = Path(path).expanduser()
        if not folder.is_dir():
            raise GlimpseError(f"{folder} is not a folder.")
        resolved = str(folder.resolve())
        with self.writer.hold():
            self.catalog.add_folder(resolved)
        return resolved

    def remove_folder(self, path: str | Path) -> int:
        """Stop watching a folder and forget its photos (the files stay on disk)."""
        with self.writer.hold():
            removed = self.catalog.remove_folder(self._known_folder(path))
            self._sweep_words()
            self._reconcile_all()
        return len(removed)

    def _known_folder(self, path: str | Path) -> str:
        """A watched folder's stored path, as typed or resolved (an offline folder's
        path cannot be resolved through symlinks on a disk that is not there)."""
        paths = self.folder_paths()
        typed = str(Path(path).expanduser().absolute()).rstrip(os.sep) or os.sep
        if typed in paths:
            return typed
        return str(Path(path).expanduser().resolve())

    def move_folder(self, old: str | Path, new: str | Path, sample: int = 24) -> int:
        """Re-point a watched folder at its new place (a renamed folder, a disk
        mounted elsewhere) keeping every photo's row and vectors. A sample of
        its photos is fingerprinted at the new place first, so pointing it at
        the wrong folder is refused instead of silently re-encoding everything.
        Returns the number of photos re-pointed."""
        old_path = self._known_folder(old)
        folder_id = self.catalog.folder_id(old_path)
        if folder_id is None:
            raise GlimpseError(f"{old} is not a watched folder (see `glimpse folders list`).")
        target = Path(new).expanduser()
        if not target.is_dir():
            raise GlimpseError(f"{target} is not a folder.")
        new_path = str(target.resolve())
        if new_path == old_path:
            raise GlimpseError(f"{old_path} is already where the library expects it.")
        for other in self.folder_paths():
            if other != old_path and (
                new_path == other or new_path.startswith(other.rstrip(os.sep) + os.sep)
            ):
                raise GlimpseError(f"{new_path} is already watched (as part of {other}).")
        checked, matched = self._check_sample(folder_id, old_path, new_path, sample)
        if checked and matched * 2 < checked:
            raise GlimpseError(
                f"{new_path} does not hold the photos of {old_path}: only {matched} of "
                f"{checked} sampled photos were found there with the same content. "
                "Pick the folder the photos were moved to."
            )
        with self.writer.hold():
            moved = self.catalog.move_folder(old_path, new_path)
            self._reconcile_all()
        return moved

    def _check_sample(
        self, folder_id: int, old_path: str, new_path: str, sample: int
    ) -> tuple[int, int]:
        """(photos sampled, photos found at the new place with the same fingerprint)."""
        rows = [r for r in self.catalog.photos_under(folder_id) if r.fingerprint and r.status != MISSING]
        if not rows:
            return 0, 0
        step = max(1, len(rows) // sample)
        picked = rows[::step][:sample]
        prefix = old_path.rstrip(os.sep) + os.sep
        matched = 0
        for row in picked:
            candidate = os.path.join(new_path, row.path[len(prefix):])
            try:
                if imaging.file_fingerprint(candidate) == row.fingerprint:
                    matched += 1
            except OSError:
                continue
        return len(picked), matched

    def moved_from(self, path: str | Path, sample: int = 24) -> FolderRow | None:
        """The offline folder whose photos these are, if a folder about to be added
        holds them (a disk mounted at a new path, a renamed folder): then a move,
        not a fresh index, is what the user wants."""
        offline = [f for f in self.catalog.folders() if f.offline_since is not None]
        if not offline:
            return None
        files = sorted(scan_folder(Path(path).expanduser().resolve()))
        if not files:
            return None
        picked = files[:: max(1, len(files) // sample)][:sample]
        votes: dict[int, int] = {}
        for file in picked:
            try:
                fp = imaging.file_fingerprint(file)
            except OSError:
                continue
            for folder_id in {r.folder_id for r in self.catalog.find_by_fingerprint(fp)}:
                if folder_id is not None:
                    votes[folder_id] = votes.get(folder_id, 0) + 1
        for folder in sorted(offline, key=lambda f: -votes.get(f.id, 0)):
            if votes.get(folder.id, 0) * 2 >= len(picked):
                return folder
        return None

    def _reconcile_all(self) -> None:
        with self._index_lock:
            for model_id in list(self._indexes):
                self._reconcile(model_id)

    def _sweep_words(self) -> None:
        """Words of photos that left the catalog go before their ids can be reused."""
        for source in word_sources():
            self.catalog.sweep_words(source.table)

    def folders(self) -> list[FolderRow]:
        return self.catalog.folders()

    def folder_paths(self) -> list[str]:
        """Watched folders' paths, without counting their photos (cheap at any size:
        the GUI asks on its own thread)."""
        return self.catalog.folder_paths()

    # -- indexing -----------------------------------------------------------

    def sync(
        self, progress: ProgressCallback | None = None, cancel: CancelToken | None = None
    ) -> ScanReport:
        """Reflect new, changed, moved and deleted files in the catalog (no encoding).

        Folders whose root is absent are marked offline and left alone; the
        index is reconciled so that it holds exactly the searchable photos."""
        with self.writer.hold():
            report = sync_catalog(self.catalog, self.folder_paths(), progress, cancel)
            # Text of photos that are gone must go before their ids can be reused.
            self._sweep_words()
            self._reconcile_all()
        return report

    def index(
        self,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        spec: ModelSpec | None = None,
        batch_size: int | None = None,  # None: the engine's own (Encoder.batch_size)
        workers: int | None = None,
        skip: Collection[str] = (),
        only: Collection[str] | None = None,
        before_stage: Callable[[pipeline.Stage], None] | None = None,
        yield_to: Callable[[], bool] | None = None,
    ) -> IndexReport:
        """Run the indexing pipeline (core/indexing/pipeline.py): scan every watched
        folder, encode what is new, then every signal in its order. `skip`: switches
        turned off ("ocr", "faces"); `only`: just these stages ("ocr" for `glimpse ocr`)."""
        with self.writer.hold():
            return pipeline.run(self, progress, cancel, spec, skip, only, batch_size, workers,
                                before_stage, yield_to)

    def pending_count(self, spec: ModelSpec | None = None) -> int:
        """Photos still lacking a vector for the model (the current one by default)."""
        return len(self.catalog.ids_needing_embedding(self.model_key(spec)))

    def encode(
        self,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        spec: ModelSpec | None = None,
        batch_size: int | None = None,  # None: the engine's own (Encoder.batch_size)
        workers: int | None = None,
    ) -> EncodeReport:
        """Encode every photo lacking a vector for the model (the current one by default)."""
        if not self.catalog.ids_needing_embedding(self.model_key(spec)):
            return EncodeReport()  # nothing to encode: the model need not load
        encoder = self.encoder_for(spec)
        # New vectors go to the catalog, and to the in-memory index only if one is
        # loaded (a GUI or service answering searches meanwhile): a CLI run that
        # only indexes never reads the library's vectors.
        index = self._indexes.get(encoder.model_id)
        with self.writer.hold():
            return encode_pending(
                self.catalog, encoder, self.model_key(spec), index, progress, cancel,
                batch_size=batch_size, workers=workers,
            )

    def read_text(
        self, progress: ProgressCallback | None = None, cancel: CancelToken | None = None,
        spec: ModelSpec | None = None,
    ) -> PassReport:
        """The text-in-photos stage alone (`glimpse ocr`), over photos with a vector."""
        return self._one_signal("ocr", progress, cancel, spec)

    def find_faces(
        self, progress: ProgressCallback | None = None, cancel: CancelToken | None = None,
        spec: ModelSpec | None = None,
    ) -> PassReport:
        """The faces stage alone (`glimpse faces`), then grouping into people."""
        return self._one_signal("faces", progress, cancel, spec)

    def _one_signal(
        self, name: str, progress: ProgressCallback | None, cancel: CancelToken | None,
        spec: ModelSpec | None,
    ) -> PassReport:
        report = self.index(progress, cancel, spec, only={name}).passes[name]
        if report.error is not None:
            raise GlimpseError(report.error)
        return report

    # -- searching ----------------------------------------------------------

    def query_vector(self, terms: list[QueryTerm], spec: ModelSpec | None = None) -> np.ndarray:
        encoder = self.encoder_for(spec)
        vectors: list[np.ndarray] = []
        weights: list[float] = []
        texts = [t for t in terms if t.text is not None]
        if texts:
            vectors.extend(encoder.encode_texts([t.text or "" for t in texts]))
            weights.extend(t.weight for t in texts)
        for term in terms:
            if term.image is not None:
                vectors.append(self.image_vector(term.image, spec))
                weights.append(term.weight)
        if not vectors:
            raise QueryError("The query has nothing to search for.")
        return search.combine(np.stack(vectors), weights)

    def image_vector(self, image: str | Path | int, spec: ModelSpec | None = None) -> np.ndarray:
        """The vector of a catalog photo (by id or path, no re-encoding) or any image file."""
        key = self.model_key(spec)
        row = self._photo_row(image)
        if row is not None:
            stored = self.catalog.embedding_for(row.id, key)
            if stored is not None:
                return stored / max(float(np.linalg.norm(stored)), 1e-12)
        if isinstance(image, int):
            raise QueryError(f"Photo {image} is not indexed yet.")
        encoder = self.encoder_for(spec)
        if video.is_video(image):  # a clip not in the library: its first keyframe
            return encoder.encode_pil([video.decode_video(image, encoder.image_size).frames[0][1]])[0]
        return encoder.encode_pil([imaging.decode_for_model(image, encoder.image_size).image])[0]

    def _photo_row(self, image: str | Path | int) -> PhotoRow | None:
        if isinstance(image, int):
            return self.catalog.photo(image)
        try:
            return self.catalog.photo_by_path(str(Path(image).expanduser().resolve()))
        except OSError:
            return None

    def vocabulary(self) -> planner.Vocabulary:
        """What this library knows by name, for the query planner: people, places."""
        from glimpse.core.search import planner

        return planner.Vocabulary(people.names(self.catalog), places.known_names(
            self.catalog, [name for name, _, _ in self.places()]))

    def plan(
        self,
        text: str,
        filters: Filters | None = None,
        image: str | Path | None = None,
        persons: Sequence[str] = (),
        ignore: Collection[str] = (),
        read_dates: bool = True,
        read_names: bool = True,
        today: date | None = None,
    ) -> planner.QueryPlan:
        """A typed query read into a plan (core/search/planner.py): the one reading
        of a query that the CLI, the app and the service all use."""
        from glimpse.core.search import planner

        return planner.plan(text, filters, today, self.vocabulary(),
                            str(image) if image is not None else None,
                            persons, ignore, read_dates, read_names)

    def search(
        self,
        query: str | planner.QueryPlan,
        k: int = 20,
        filters: Filters | None = None,
        image: str | Path | None = None,
        spec: ModelSpec | None = None,
        like: Sequence[str | Path | int] = (),
        unlike: Sequence[str | Path | int] = (),
        collapse: duplicates.Rules | None = None,
        sort: str = "best",
    ) -> list[SearchHit]:
        """A query (typed text, read by plan(); or a plan) by meaning and by the words
        of every word source (fused; a quoted phrase is words only). A query that
        was only a filter (a date, a name) lists the filtered photos, newest first.

        `like`/`unlike` are photos the user marked "more like this one" / "not
        this" (relevance feedback); `collapse` folds near-duplicates into the
        best-ranked one of each group (its `duplicates` field); places named in
        the query raise photos taken there.
        """
        if k <= 0:
            raise QueryError("The number of results must be at least 1.")
        from glimpse.core.search import fusion, planner

        plan = query if isinstance(query, planner.QueryPlan) else self.plan(query, filters, image)
        filters = self.plan_filters(plan)
        if plan.browse:
            order = "oldest" if sort == "oldest" else "newest"
            return fusion.sort_hits(self._browse(k, filters), order)
        if plan.words_only:
            return fusion.sort_hits(fusion.fuse([], self._word_hits(plan.words, k, filters, spec), k),
                                    sort)
        vector = self.query_vector(list(plan.meaning), spec)
        if like or unlike:
            vector = feedback.refine(
                vector,
                [self.image_vector(p, spec) for p in like],
                [self.image_vector(p, spec) for p in unlike],
            )
        named = list(plan.places)

        def by_meaning(n: int) -> list[SearchHit]:
            hits = self._rank(vector, n, filters, spec, collapse)
            if named and not filters.place:
                hits = self._boost_places(vector, hits, named, n, filters, spec, collapse)
            return hits

        if plan.words is None:
            hits = by_meaning(k)
        else:
            meaning = by_meaning(max(k, 50))
            found = self._word_hits(plan.words, max(k, 50), filters, spec, vector)
            hits = fusion.fuse(meaning, found, k)
        if not any(t.image for t in plan.meaning):  # the cut-off is calibrated on typed queries
            hits = self.mark_weaker(vector, hits, named, spec)
        return fusion.sort_hits(hits, sort)

    def relevance_cutoff(self, spec: ModelSpec | None = None) -> relevance.Cutoff | None:
        """Under what a result is a weaker match (core/search/relevance.py): a z from the
        setting, else the model's cosine calibrated by `glimpse eval` in this library,
        else the default z; None for random weights, whose scores mean nothing."""
        spec = spec or self.spec
        if spec.is_random:
            return None
        chosen = settings.value("relevance_cutoff")
        if chosen is not None:
            return relevance.Cutoff(relevance.Z, float(chosen))  # type: ignore[arg-type]
        calibrated = (self.settings.get("relevance_cutoffs") or {}).get(spec.model_id)
        if calibrated is not None:
            return relevance.Cutoff(relevance.COSINE, float(calibrated))
        return relevance.Cutoff(relevance.Z, relevance.DEFAULT_Z)

    def save_relevance_cutoff(self, spec: ModelSpec, cosine: float) -> None:
        """Remember a model's cut-off (a cosine), calibrated on a label set by `glimpse eval`."""
        cutoffs = dict(self.settings.get("relevance_cutoffs") or {})
        cutoffs[spec.model_id] = cosine
        self.save_settings(relevance_cutoffs=cutoffs)

    def spread(self, spec: ModelSpec | None = None) -> relevance.Spread | None:
        """The mean and covariance of the library's vectors for a model (a sample of
        them), measured again once the library's size changed by a tenth."""
        spec = spec or self.spec
        index = self.index_for(spec)
        count = len(index)
        known = self._spreads.get(spec.model_id)
        if known is not None and not known.stale(count):
            return known
        if count < 2:
            return None
        labels = np.array(sorted(index.ids), dtype=np.int64)
        vectors = index.vectors_of(labels[relevance.sample_rows(len(labels))])
        if len(vectors) < 2:
            return None
        spread = relevance.Spread.of(vectors, count=count)
        self._spreads[spec.model_id] = spread
        return spread

    def mark_weaker(
        self, vector: np.ndarray, hits: list[SearchHit], named_places: Sequence[str] = (),
        spec: ModelSpec | None = None,
    ) -> list[SearchHit]:
        """Hits under the model's relevance cut-off marked weak; a hit found by its
        words or taken in a place the query names has other evidence and never is."""
        cutoff = self.relevance_cutoff(spec)
        if cutoff is None or cutoff.value == -math.inf or not hits:
            return hits
        spread = self.spread(spec) if cutoff.kind == relevance.Z else None
        flags = relevance.weak_flags(cutoff, vector, np.array([h.score for h in hits]), spread)
        if not flags.any():
            return hits  # nothing under the cut: no place's photos to look up
        in_place: set[int] = set()
        for name in named_places:
            in_place |= self.catalog.photo_ids_matching(place_key=places.place_key(name))
        return [replace(h, weak=True) if weak and not h.text_match and h.photo_id not in in_place
                else h for h, weak in zip(hits, flags.tolist(), strict=True)]

    def plan_filters(self, plan: planner.QueryPlan) -> Filters:
        """The plan's filters with the people it names turned into their photos
        (a photo must show every person named)."""
        filters = plan.filters
        if not plan.person_groups:
            return filters
        photos = set.intersection(*(people.photo_ids_of(self.catalog, g)
                                    for g in plan.person_groups))
        if filters.photo_ids is not None:
            photos &= filters.photo_ids
        return replace(filters, photo_ids=frozenset(photos))

    def _word_hits(
        self, words: TextQuery | None, k: int, filters: Filters | None,
        spec: ModelSpec | None, vector: np.ndarray | None = None,
    ) -> list[list[SearchHit]]:
        """One ranking per word source that a signal declares (text in photos, ...)."""
        if words is None:
            return []
        allowed = None
        if filters is not None and filters.active:
            allowed = search.allowed_ids(self.catalog, filters)
        key = self.model_key(spec) if vector is not None else None
        from glimpse.core.search.words import word_hits

        return [word_hits(self.catalog, words, k, allowed, key, vector, source)
                for source in word_sources()]

    def _browse(self, k: int, filters: Filters) -> list[SearchHit]:
        """A query that was only a date ("june 2021"): the filtered photos, newest first."""
        ids = search.allowed_ids(self.catalog, filters)
        clips = self.catalog.videos_by_ids(ids)  # {id: (duration, first keyframe's time)}
        hits = [SearchHit(r.id, r.path, 0.0, r.taken_at, r.width, r.height, r.fingerprint,
                          *(("video", clips[r.id][1], clips[r.id][0]) if r.id in clips else ()))
                for r in self.catalog.photos_by_ids(ids).values()]
        from glimpse.core.search.fusion import sort_hits

        return sort_hits(hits, "newest")[:k]

    def photo_text(self, photo_id: int) -> str:
        """The text read in a photo ('' when none, or not read yet)."""
        return self.catalog.photo_text(photo_id)

    # -- places -------------------------------------------------------------

    def places(self) -> list[tuple[str, str, int]]:
        """(name, "city"/"region"/"country", photos) for the place filter, most photos first."""
        counts: dict[str, int] = {}
        kinds: dict[str, str] = {}
        for city, region, country, n in self.catalog.place_rows():
            # A name matches any field ("Lisbon" is a city and its region): count photos once.
            for name in {p for p in (city, region, country) if p}:
                counts[name] = counts.get(name, 0) + n
            for kind, field in (("country", country), ("region", region), ("city", city)):
                if field:
                    kinds[field] = kind  # the narrowest kind wins
        return sorted(((name, kinds[name], n) for name, n in counts.items()), key=lambda x: (-x[2], x[0]))

    def _boost_places(
        self, vector: np.ndarray, hits: list[SearchHit], named: list[str], k: int,
        filters: Filters | None, spec: ModelSpec | None,
        collapse: duplicates.Rules | None = None,
    ) -> list[SearchHit]:
        """Photos from the named places first; photos without GPS stay in the ranking, after."""
        base = filters or Filters()
        pool = {h.photo_id: h for h in hits}
        in_place: set[int] = set()
        for name in named:
            scoped = Filters(base.folder, base.after, base.before, name)
            for h in self._rank(vector, k, scoped, spec, collapse):
                pool.setdefault(h.photo_id, h)
                in_place.add(h.photo_id)
            key = places.place_key(name)
            in_place |= self.catalog.photo_ids_matching(place_key=key) & pool.keys()
        # The place's photos first (the query named it), each part by meaning.
        ranked = sorted(pool.values(), key=lambda h: (h.photo_id not in in_place, -h.score))
        return ranked[:k]

    def _rank(
        self,
        vector: np.ndarray,
        k: int,
        filters: Filters | None,
        spec: ModelSpec | None,
        collapse: duplicates.Rules | None = None,
    ) -> list[SearchHit]:
        index, key = self.index_for(spec), self.model_key(spec)
        if collapse is None:
            return search.run(self.catalog, index, key, vector, k, filters)
        # Fetch more than asked, so that k groups remain after folding.
        hits = search.run(self.catalog, index, key, vector, min(max(k * 4, k + 50), 5000), filters)
        ids, matrix = self.catalog.embeddings(key, [h.photo_id for h in hits])
        row_of = {int(i): n for n, i in enumerate(ids)}
        hits = [h for h in hits if h.photo_id in row_of]
        vectors = matrix[[row_of[h.photo_id] for h in hits]] if hits else matrix
        groups = duplicates.collapse(vectors, [h.taken_at for h in hits], collapse)
        return [
            replace(hits[g[0]], duplicates=tuple(hits[i] for i in g[1:])) for g in groups[:k]
        ]

    def default_collapse(self) -> duplicates.Rules | None:
        """Fold near-duplicates in results, except for random weights, whose
        vectors all look alike (collapsing would hide nearly everything)."""
        return None if self.spec.is_random else duplicates.Rules()

    def duplicate_groups(
        self, rules: duplicates.Rules | None = None, spec: ModelSpec | None = None
    ) -> list[duplicates.DuplicateGroup]:
        """Every group of near-duplicate photos, largest first (nothing is deleted)."""
        key = self.model_key(spec)
        ids, matrix = self.catalog.embeddings(key)
        rows = self.catalog.photos_by_ids(int(i) for i in ids)

        def quality(photo_id: int) -> tuple:
            row = rows[photo_id]
            return ((row.width or 0) * (row.height or 0), row.size, [-ord(c) for c in row.path])

        # A large library's neighbours come from the graph tier (minutes, not hours,
        # at 1M); all-pairs otherwise. Agreement: scripts/bench_duplicates_graph.py.
        batch = None
        if len(ids) >= self.graph_threshold:
            index = self.index_for(spec)
            job = self.graph_job(spec)
            if job is not None:
                job.wait()  # loads the saved graph, or builds it
            if index.tier == "graph":
                batch = index.neighbours_batch
        return duplicates.find_groups(
            ids, matrix, None, {i: r.taken_at for i, r in rows.items()}, quality,
            rules or duplicates.Rules(), neighbours_batch=batch,
        )

    def similar(
        self,
        image: str | Path | int,
        k: int = 20,
        filters: Filters | None = None,
        spec: ModelSpec | None = None,
        collapse: duplicates.Rules | None = None,
        region: Region | None = None,
    ) -> list[SearchHit]:
        """More like this: a catalog photo (itself ranks first) or any image file;
        with a `region` (core/search/region.py), more like that part of it."""
        vector = self.image_vector(image, spec) if region is None else self.region_vector(image, region, spec)
        return self._rank(vector, k, filters, spec, collapse)

    def region_vector(self, image: str | Path | int, region: Region, spec: ModelSpec | None = None
                      ) -> np.ndarray:
        """The vector of a part of a photo (a catalog photo by id or path, or any image file)."""
        row = self._photo_row(image)
        path = row.path if row is not None else str(image)
        encoder = self.encoder_for(spec)
        decoded = imaging.decode_for_model(path, region.decode_side(encoder.image_size))
        return encoder.encode_pil([region.cut(decoded.image)])[0]

    # -- evaluation support -------------------------------------------------

    def gallery(self, spec: ModelSpec | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(photo ids, unit vectors) of every indexed photo, for exact evaluation."""
        return self.catalog.embeddings(self.model_key(spec))

    # -- reporting ----------------------------------------------------------

    def status(self) -> LibraryStatus:
        """What is indexed, without loading the model (cheap: for `glimpse status`)."""
        models = self.catalog.known_models()
        model_id = _model_id_without_loading(self.spec)
        indexed = next((n for mid, _, n in models if mid == model_id), 0)
        return LibraryStatus(
            str(self.root), str(self.spec), model_id, self.catalog.folders(),
            self.catalog.counts(), indexed, models, self.signal_progress(),
        )

    def signal_progress(self) -> list[SignalProgress]:
        """Each declared signal's progress, in pipeline order (no model is loaded)."""
        out = []
        for s in signal_stages():
            done, total = s.progress_counts(self.catalog)
            found = s.summary(self.catalog) if s.summary is not None else ""
            out.append(SignalProgress(s.name, s.noun, s.did, done, total, found))
        return out

    def errors(self, limit: int | None = None) -> list[tuple[str, str]]:
        return [(r.path, r.error or "") for r in self.catalog.photos_with_status("error", limit)]

    def skipped_files(self) -> list[tuple[str, str]]:
        """Files in the online folders that look like photos but can't be indexed
        (undecodable names, FIFOs, symlink loops), with the reason."""
        from glimpse.core.indexing.scan import skipped_files

        return skipped_files(f.path for f in self.catalog.folders() if f.offline_since is None)

    def problem_files(self, limit: int | None = None) -> list[tuple[str, str, str]]:
        """(path, reason, kind) of every photo Glimpse could not use fully: kind
        "unreadable" (not indexed), "skipped" (looks like a photo, can't be read:
        a FIFO, a loop, a name that is not UTF-8), "signal" (indexed, but a signal
        could not read it) or "repaired" (damage found in its stored data)."""
        rows = ([(p, r, "unreadable") for p, r in self.errors(limit)]
                + [(p, r, "skipped") for p, r in self.skipped_files()]
                + [(p, f"{noun}: {r}", "signal") for noun, p, r in self.signal_errors()]
                + [(r.path, f"{r.what}; {r.action}" + (" (done)" if r.fixed else ""), "repaired")
                   for r in self.repairs(limit)])
        return rows[:limit] if limit is not None else rows

    def signal_errors(self) -> list[tuple[str, str, str]]:
        """(what the signal finds, path, reason) of photos a signal could not read."""
        return [(s.noun, path, why) for s in signal_stages() if s.make_pass is not None
                for path, why in self.catalog.pass_errors(s.name, s.version, s.by_path)]

    def repairs(self, limit: int | None = None) -> list[RepairRow]:
        """Damage found in the catalog (a stored vector cut short ...), and what was done."""
        return self.catalog.repairs(limit)

    def check(
        self, repair: bool = True, progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> CheckReport:
        """Verify the catalog (core/indexing/check.py); `repair`: remove what is damaged.
        What that leaves to redo (encode, read again) is done by `index()`, which
        the front end runs next when `report.needs_index`."""
        model_id = _model_id_without_loading(self.spec)
        if not repair:
            return check_catalog(self.catalog, model_id, signal_stages(), False, progress, cancel)
        with self.writer.hold():
            report = check_catalog(self.catalog, model_id, signal_stages(), True, progress, cancel)
            self._reconcile_all()  # the search index lets go of removed vectors
        return report

    def photo(self, photo_id: int) -> PhotoRow | None:
        return self.catalog.photo(photo_id)

    def indexed_photos(self) -> list[PhotoRow]:
        return self.catalog.photos_with_status(OK)

    def close(self) -> None:
        for job in self._graph_jobs.values():
            job.close()
        self.catalog.close()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _remove_old_index_files(folder: Path) -> None:
    """Earlier versions kept an hnswlib file per model beside the catalog (2 KB a
    vector); vectors are now read from the catalog alone, so those files only take space."""
    if not folder.is_dir():
        return
    for file in folder.iterdir():
        if file.name.endswith((".hnsw", ".hnsw.ids.npy", ".hnsw.b2", ".tmp")):
            file.unlink(missing_ok=True)
    try:
        folder.rmdir()
    except OSError:
        pass  # something of the user's is in there: leave it


def _model_id_without_loading(spec: ModelSpec) -> str:
    try:
        return spec.model_id
    except GlimpseError:
        return str(spec)
