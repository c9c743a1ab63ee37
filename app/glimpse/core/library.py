"""One photo library: its catalog, its model, its index, and everything a user does with them.

The CLI, the GUI and the tests all go through this facade. It is thread-safe
enough for the GUI's pattern: one background job that indexes while the GUI
thread's workers search (the catalog, index and encoder each hold a lock).
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from glimpse.core import fusion, imaging, passes, search, text_search
from glimpse.core.catalog import OK, Catalog, FolderRow, PhotoRow
from glimpse.core.errors import GlimpseError, QueryError
from glimpse.core.files import text_writer
from glimpse.core.index import VectorIndex, atomic_write
from glimpse.core.indexer import (
    CancelToken,
    EncodeReport,
    ProgressCallback,
    ScanReport,
    encode_pending,
    sync_catalog,
)
from glimpse.core.models import Encoder, ModelSpec
from glimpse.core.passes import PassReport
from glimpse.core.search import Filters, QueryTerm, SearchHit

if TYPE_CHECKING:
    from glimpse.core.faces import FaceEngine
    from glimpse.core.ocr import OcrEngine

log = logging.getLogger(__name__)

LIBRARY_ENV = "GLIMPSE_LIBRARY"
_SAVE_INDEX_EVERY_S = 60.0


def default_library_dir() -> Path:
    """Where the catalog lives unless --library or GLIMPSE_LIBRARY says otherwise."""
    env = os.environ.get(LIBRARY_ENV)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("Glimpse", appauthor=False))


@dataclass(frozen=True)
class IndexReport:
    scan: ScanReport
    encode: EncodeReport

    @property
    def cancelled(self) -> bool:
        return self.encode.cancelled


@dataclass(frozen=True)
class LibraryStatus:
    root: str
    model: str
    model_id: str
    folders: list[FolderRow]
    counts: dict[str, int]
    indexed_for_model: int
    known_models: list[tuple[str, int, int]]


class Library:
    def __init__(
        self,
        root: Path | str | None = None,
        model: str | ModelSpec | None = None,
        device: str | None = None,
        cache_dir: Path | None = None,
    ) -> None:
        self.root = Path(root).expanduser() if root else default_library_dir()
        self.root.mkdir(parents=True, exist_ok=True)
        self.catalog = Catalog(self.root / "catalog.sqlite")
        self.settings = self._load_settings()
        model = model or os.environ.get("GLIMPSE_MODEL") or self.settings.get("model")
        self.spec = model if isinstance(model, ModelSpec) else ModelSpec.parse(model)
        self.device = device or self.settings.get("device", "auto")
        self.cache_dir = cache_dir
        self._encoders: dict[str, Encoder] = {}
        self._indexes: dict[str, VectorIndex] = {}
        self._index_keys: dict[str, int] = {}
        self._model_keys: dict[str, int] = {}
        self._load_lock = threading.RLock()
        self._ocr: OcrEngine | None = None
        self._faces: FaceEngine | None = None

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
        """Load a model once per library; later calls reuse it."""
        spec = spec or self.spec
        key = str(spec)
        # Fast path without the lock: while another model loads (seconds, during
        # a model switch), searches with the loaded one must not wait for it.
        loaded = self._encoders.get(key)
        if loaded is not None:
            return loaded
        with self._load_lock:
            if key not in self._encoders:
                self._encoders[key] = Encoder(spec, self.device, self.cache_dir)
            return self._encoders[key]

    @property
    def encoder(self) -> Encoder:
        return self.encoder_for(self.spec)

    def model_key(self, spec: ModelSpec | None = None) -> int:
        """The catalog's small integer for a model (asked once: it never changes)."""
        encoder = self.encoder_for(spec)
        key = self._model_keys.get(encoder.model_id)
        if key is None:
            key = self.catalog.model_key(encoder.model_id, encoder.dim)
            self._model_keys[encoder.model_id] = key
        return key

    def _index_path(self, model_id: str) -> Path:
        return self.root / "indexes" / (re.sub(r"[^A-Za-z0-9._-]+", "_", model_id) + ".hnsw")

    def index_for(self, spec: ModelSpec | None = None) -> VectorIndex:
        """The HNSW index for a model, loaded and checked against the catalog."""
        encoder = self.encoder_for(spec)
        loaded = self._indexes.get(encoder.model_id)  # fast path, as in encoder_for
        if loaded is not None:
            return loaded
        with self._load_lock:
            if encoder.model_id in self._indexes:
                return self._indexes[encoder.model_id]
            key = self.model_key(spec)
            path = self._index_path(encoder.model_id)
            index = VectorIndex.load(path, encoder.dim) or VectorIndex(encoder.dim)
            self._indexes[encoder.model_id] = index
            self._index_keys[encoder.model_id] = key
            if self._reconcile(encoder.model_id):
                index.save(path)
            return index

    def _reconcile(self, model_id: str) -> bool:
        """Make a loaded index hold exactly the catalog's vectors for its model.

        Used on load (a crash may have left the file behind the catalog) and
        after every scan (removals, and copies that reused stored vectors)."""
        index, key = self._indexes[model_id], self._index_keys[model_id]
        added, removed = index.sync_with(
            self.catalog.embedding_ids(key), lambda chunk: self.catalog.embeddings(key, chunk)[1]
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
        self.catalog.add_folder(resolved)
        return resolved

    def remove_folder(self, path: str | Path) -> int:
        """Stop watching a folder and forget its photos (the files stay on disk)."""
        removed = self.catalog.remove_folder(str(Path(path).expanduser().resolve()))
        with self._load_lock:
            for model_id in list(self._indexes):
                self._reconcile(model_id)
        self._save_all_indexes()
        return len(removed)

    def folders(self) -> list[FolderRow]:
        return self.catalog.folders()

    def folder_paths(self) -> list[str]:
        return [f.path for f in self.catalog.folders()]

    # -- indexing -----------------------------------------------------------

    def sync(
        self, progress: ProgressCallback | None = None, cancel: CancelToken | None = None
    ) -> ScanReport:
        """Reflect new, changed, moved and deleted files in the catalog (no encoding)."""
        report = sync_catalog(self.catalog, self.folder_paths(), progress, cancel)
        with self._load_lock:
            for model_id in list(self._indexes):
                self._reconcile(model_id)
        return report

    def index(
        self,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        spec: ModelSpec | None = None,
        batch_size: int = 32,
        workers: int | None = None,
    ) -> IndexReport:
        """Scan every watched folder, then encode what is new with the model."""
        scan = self.sync(progress, cancel)
        if cancel is not None and cancel.cancelled:
            return IndexReport(scan, EncodeReport(cancelled=True))
        encode = self.encode(progress, cancel, spec, batch_size, workers)
        return IndexReport(scan, encode)

    def encode(
        self,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        spec: ModelSpec | None = None,
        batch_size: int = 32,
        workers: int | None = None,
    ) -> EncodeReport:
        """Encode every photo lacking a vector for the model (the current one by default)."""
        encoder = self.encoder_for(spec)
        index = self.index_for(spec)
        path = self._index_path(encoder.model_id)
        last_save = [time.monotonic()]

        def maybe_save() -> None:
            # Periodic saves keep the repair work after a crash small.
            if time.monotonic() - last_save[0] > _SAVE_INDEX_EVERY_S:
                index.save(path)
                last_save[0] = time.monotonic()

        try:
            report = encode_pending(
                self.catalog, encoder, self.model_key(spec), index, progress, cancel,
                batch_size=batch_size, workers=workers, on_batch=maybe_save,
            )
        finally:
            index.save(path)
        return report

    def read_text(
        self,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        spec: ModelSpec | None = None,
    ) -> PassReport:
        """The OCR pass (core/ocr.py) over photos that already have a vector: resumable,
        and lower priority than encoding, which makes photos findable first."""
        from glimpse.core.ocr import OcrEngine, OcrPass

        with self._load_lock:
            if self._ocr is None:
                self._ocr = OcrEngine()
        self.catalog.sweep_text()
        return passes.run_pass(
            self.catalog, OcrPass(self._ocr), progress, cancel, after_model_key=self.model_key(spec)
        )

    def find_faces(
        self,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        spec: ModelSpec | None = None,
    ) -> PassReport:
        """The face pass (core/faces.py) over photos that already have a vector, then
        the new faces are grouped into people (core/people.py); resumable like OCR."""
        from glimpse.core import people
        from glimpse.core.faces import FaceEngine, FacePass

        with self._load_lock:
            if self._faces is None:
                self._faces = FaceEngine()
        report = passes.run_pass(
            self.catalog, FacePass(self._faces), progress, cancel,
            after_model_key=self.model_key(spec),
        )
        people.group_faces(self.catalog)
        return report

    def _save_all_indexes(self) -> None:
        for model_id, index in self._indexes.items():
            index.save(self._index_path(model_id))

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
        return encoder.encode_pil([imaging.decode_for_model(image, encoder.image_size).image])[0]

    def _photo_row(self, image: str | Path | int) -> PhotoRow | None:
        if isinstance(image, int):
            return self.catalog.photo(image)
        try:
            return self.catalog.photo_by_path(str(Path(image).expanduser().resolve()))
        except OSError:
            return None

    def search(
        self,
        query: str | list[QueryTerm],
        k: int = 20,
        filters: Filters | None = None,
        image: str | Path | None = None,
        spec: ModelSpec | None = None,
        sort: str = "best",
    ) -> list[SearchHit]:
        """Text (optionally combined, optionally plus an image) query, by meaning and by
        the words read in photos (fused; a quoted phrase is words only). An empty query
        with a filter lists the filtered photos."""
        if k <= 0:
            raise QueryError("The number of results must be at least 1.")
        if isinstance(query, str) and not query.strip() and image is None and filters:
            order = "oldest" if sort == "oldest" else "newest"
            return fusion.sort_hits(self._browse(k, filters), order)
        words = text_search.plan(query) if isinstance(query, str) and image is None else None
        if words is not None and words.words_only:
            return fusion.sort_hits(self._word_hits(words, k, filters, spec), sort)
        if isinstance(query, str):  # an image alone may come with no words
            terms = search.parse_query(query) if query.strip() or image is None else []
        else:
            terms = list(query)
        if image is not None:
            terms.append(QueryTerm(1.0, image=str(image)))
        vector = self.query_vector(terms, spec)
        if words is None:
            return fusion.sort_hits(self._rank(vector, k, filters, spec), sort)
        meaning = self._rank(vector, max(k, 50), filters, spec)
        found = self._word_hits(words, max(k, 50), filters, spec, vector)
        return fusion.sort_hits(fusion.fuse(meaning, [(h, h.snippet or "") for h in found], k), sort)

    def _word_hits(
        self, words: text_search.TextQuery, k: int, filters: Filters | None,
        spec: ModelSpec | None, vector: np.ndarray | None = None,
    ) -> list[SearchHit]:
        """Photos whose text matches, best first; scored by meaning when a vector is given."""
        allowed = None
        if filters is not None and filters.active:
            allowed = search.allowed_ids(self.catalog, filters)
        found = text_search.find(self.catalog, words, k, allowed)
        rows = self.catalog.photos_by_ids(pid for pid, _ in found)
        hits = []
        for pid, snippet in found:
            row = rows.get(pid)
            if row is None:
                continue
            score = 0.0
            if vector is not None:
                stored = self.catalog.embedding_for(pid, self.model_key(spec))
                if stored is not None:
                    score = float(stored @ vector / max(float(np.linalg.norm(stored)), 1e-12))
            hits.append(SearchHit(pid, row.path, score, row.taken_at, row.width, row.height,
                                  row.fingerprint, True, snippet))
        return hits

    def _browse(self, k: int, filters: Filters) -> list[SearchHit]:
        """A query that was only a date ("june 2021"): the filtered photos, newest first."""
        ids = search.allowed_ids(self.catalog, filters)
        hits = [SearchHit(r.id, r.path, 0.0, r.taken_at, r.width, r.height, r.fingerprint)
                for r in self.catalog.photos_by_ids(ids).values()]
        return fusion.sort_hits(hits, "newest")[:k]

    def photo_text(self, photo_id: int) -> str:
        """The text read in a photo ('' when none, or not read yet)."""
        return self.catalog.photo_text(photo_id)

    def _rank(
        self, vector: np.ndarray, k: int, filters: Filters | None, spec: ModelSpec | None
    ) -> list[SearchHit]:
        return search.run(self.catalog, self.index_for(spec), self.model_key(spec), vector, k, filters)

    def similar(
        self,
        image: str | Path | int,
        k: int = 20,
        filters: Filters | None = None,
        spec: ModelSpec | None = None,
    ) -> list[SearchHit]:
        """More like this: a catalog photo (itself ranks first) or any image file."""
        vector = self.image_vector(image, spec)
        return self._rank(vector, k, filters, spec)

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
            self.catalog.counts(), indexed, models,
        )

    def errors(self, limit: int | None = None) -> list[tuple[str, str]]:
        return [(r.path, r.error or "") for r in self.catalog.photos_with_status("error", limit)]

    def photo(self, photo_id: int) -> PhotoRow | None:
        return self.catalog.photo(photo_id)

    def indexed_photos(self) -> list[PhotoRow]:
        return self.catalog.photos_with_status(OK)

    def close(self) -> None:
        self._save_all_indexes()
        self.catalog.close()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _model_id_without_loading(spec: ModelSpec) -> str:
    try:
        return spec.model_id
    except GlimpseError:
        return str(spec)
