"""The graph tier of the vector index: an hnswlib graph over PCA-reduced vectors.

It only proposes candidates: VectorIndex re-ranks them exactly against its
float16 store, so a score it returns is always the true one and recall depends
only on whether the true top-k are among the candidates (scripts/bench_scale.py
--index hnsw measures it; README "A million photos").

Why a reduced graph: hnswlib keeps every vector in float32 beside its links. At
the full 512 dimensions that is 2 KB a vector on top of the 1 KB float16 store;
over 256 principal directions (of the uncentred second moment, which best keeps
inner products) it is 1 KB, builds about twice as fast, and the exact re-rank
of the top `rerank_depth` candidates restores the ordering.

Saved beside the catalog as two files: the hnswlib graph, and a small JSON
header naming the graph's checksum and the fingerprint of the vectors it was
built from (see `fingerprint`). Each is replaced atomically; a crash between the
two leaves a header whose checksum does not match, so the graph is rebuilt,
never trusted half-written.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from glimpse.core.jobs import CancelToken, ProgressCallback, progress_at
from glimpse.core.storage.files import atomic_write

log = logging.getLogger(__name__)

FORMAT = 1


@dataclass(frozen=True)
class GraphParams:
    """Chosen by measurement (scripts/bench_scale.py --index hnsw; README "A million photos")."""

    graph_dim: int = 256  # principal directions the graph is built over (<= the vectors' dim)
    m: int = 16  # links a node keeps (2*M on the bottom layer)
    ef_construction: int = 100
    ef_search: int = 128
    rerank_depth: int = 100  # candidates re-scored exactly from the float16 store
    pca_sample: int = 50_000  # vectors the projection is fitted on


class BuildCancelled(Exception):
    """The graph build was cancelled (library closed, model switched)."""


class Graph:
    """An hnswlib inner-product graph over projected vectors; not thread-safe by
    itself (VectorIndex serialises changes under its lock)."""

    def __init__(self, dim: int, projection: np.ndarray | None, params: GraphParams) -> None:
        import hnswlib

        self.dim = dim
        self.params = params
        # None: the graph is over the vectors themselves (graph_dim >= dim).
        self.projection = projection
        self._hnsw = hnswlib.Index(space="ip", dim=self.graph_dim)
        self._threads = 1
        # hnswlib crashes (not raises) when an index is asked anything before
        # init_index or load_index: remember which happened.
        self._ready = False

    @property
    def graph_dim(self) -> int:
        return self.dim if self.projection is None else int(self.projection.shape[1])

    @classmethod
    def fitted(cls, sample: np.ndarray, params: GraphParams) -> Graph:
        """A graph with its projection fitted on `sample` (rows: unit vectors), empty."""
        dim = sample.shape[1]
        if params.graph_dim >= dim:
            return cls(dim, None, params)
        sample = np.asarray(sample, dtype=np.float32)
        _, vecs = np.linalg.eigh(sample.T @ sample)
        projection = np.ascontiguousarray(vecs[:, ::-1][:, : params.graph_dim], dtype=np.float32)
        return cls(dim, projection, params)

    def project(self, vectors: np.ndarray) -> np.ndarray:
        vectors = np.asarray(vectors, dtype=np.float32).reshape(-1, self.dim)
        return vectors if self.projection is None else vectors @ self.projection

    # -- contents -----------------------------------------------------------

    def reserve(self, count: int) -> None:
        if not self._initialised():
            self._hnsw.init_index(max(count, 16), M=self.params.m,
                                  ef_construction=self.params.ef_construction)
            self._hnsw.set_ef(self.params.ef_search)
            self._ready = True
        elif count > self._hnsw.get_max_elements():
            # Room for growth at once: each resize copies the graph.
            self._hnsw.resize_index(max(count, int(self._hnsw.get_max_elements() * 1.25)))

    def _initialised(self) -> bool:
        return self._ready

    def set_threads(self, threads: int) -> None:
        self._threads = max(1, threads)

    def add(self, labels: np.ndarray, vectors: np.ndarray) -> None:
        """Add (or, for a label present or marked deleted, replace) vectors."""
        labels = np.asarray(labels, dtype=np.int64).reshape(-1)
        if len(labels) == 0:
            return
        self.reserve(self._hnsw.element_count + len(labels))
        self._hnsw.add_items(self.project(vectors), labels.astype(np.uint64),
                             num_threads=self._threads)

    def mark_deleted(self, labels: Iterable[int]) -> None:
        for label in labels:
            try:
                self._hnsw.mark_deleted(int(label))
            except RuntimeError:
                pass  # not in the graph, or already deleted: nothing to hide

    def labels(self) -> np.ndarray:
        """Every label the graph has a node for, marked deleted or not."""
        if not self._initialised():
            return np.empty(0, dtype=np.int64)
        return np.asarray(self._hnsw.get_ids_list(), dtype=np.int64)

    @property
    def element_count(self) -> int:
        return int(self._hnsw.element_count) if self._initialised() else 0

    def candidates(self, query: np.ndarray, depth: int) -> np.ndarray:
        """Up to `depth` labels near `query` (the graph's order, not the true one)."""
        if not self._initialised():
            return np.empty(0, dtype=np.int64)
        depth = min(depth, self._hnsw.get_current_count())
        if depth <= 0:
            return np.empty(0, dtype=np.int64)
        self._hnsw.set_ef(max(self.params.ef_search, depth))
        try:
            labels, _ = self._hnsw.knn_query(self.project(query), k=depth, num_threads=1)
        except RuntimeError:
            # Fewer than `depth` live nodes reachable (many marked deleted):
            # the caller falls back to exact search.
            return np.empty(0, dtype=np.int64)
        return labels[0].astype(np.int64)

    def candidates_batch(self, queries: np.ndarray, depth: int) -> np.ndarray:
        """candidates() for many queries at once, in the graph's threads (rows of labels)."""
        depth = min(depth, self.element_count)
        if depth <= 0:
            return np.empty((len(queries), 0), dtype=np.int64)
        self._hnsw.set_ef(max(self.params.ef_search, depth))
        labels, _ = self._hnsw.knn_query(self.project(queries), k=depth, num_threads=self._threads)
        return labels.astype(np.int64)

    def memory_bytes(self) -> int:
        """What hnswlib holds: each slot's projected float32 vector, bottom-layer
        links and label, plus the upper layers (about 1/M of the nodes)."""
        if not self._initialised():
            return 0
        slot = 4 * self.graph_dim + 4 * (2 * self.params.m + 1) + 8
        upper = (4 * (self.params.m + 1)) / max(1, self.params.m - 1)
        return int(self._hnsw.get_max_elements() * (slot + upper))

    # -- files ----------------------------------------------------------------

    def save(self, path: Path, fingerprint: str) -> None:
        """The graph to `path`, its header to `path`.json (checksum and fingerprint)."""
        path = Path(path)
        digest: dict[str, str] = {}

        def write_graph(tmp: Path) -> None:
            self._hnsw.save_index(str(tmp))
            digest["sha256"] = _sha256(tmp)

        atomic_write(path, write_graph)
        header = {
            "format": FORMAT, "fingerprint": fingerprint, "sha256": digest["sha256"],
            "dim": self.dim, "params": asdict(self.params),
            "projection": None if self.projection is None else self.projection.tolist(),
        }
        text = json.dumps(header)

        def write_header(tmp: Path) -> None:
            tmp.write_text(text, encoding="utf-8")

        atomic_write(header_path(path), write_header)

    @classmethod
    def load(cls, path: Path, fingerprint: str, params: GraphParams) -> Graph | None:
        """The saved graph if it is intact and built from exactly these vectors with
        these parameters; None (to be rebuilt) if absent, stale or damaged."""
        path = Path(path)
        try:
            header = json.loads(header_path(path).read_text(encoding="utf-8"))
            if (header.get("format") != FORMAT or header.get("fingerprint") != fingerprint
                    or header.get("params") != asdict(params)):
                log.info("graph %s is stale: rebuilding", path.name)
                return None
            if _sha256(path) != header["sha256"]:
                log.warning("graph %s is damaged (checksum): rebuilding", path.name)
                return None
            projection = (None if header["projection"] is None
                          else np.asarray(header["projection"], dtype=np.float32))
            graph = cls(int(header["dim"]), projection, params)
            graph._hnsw.load_index(str(path))
            graph._ready = True
            graph._hnsw.set_ef(params.ef_search)
            return graph
        except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
            if not isinstance(exc, FileNotFoundError):
                log.warning("graph %s unreadable (%s): rebuilding", path.name, exc)
            return None


def header_path(path: Path) -> Path:
    return Path(path).with_name(Path(path).name + ".json")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(8 << 20):
            h.update(chunk)
    return h.hexdigest()


def fingerprint(model_id: str, chunks: Iterable[tuple[np.ndarray, np.ndarray]]) -> str:
    """What a saved graph must have been built from: the model and every
    (label, float16 vector) in label order, so that a photo added, removed or
    re-encoded since makes the file stale."""
    h = hashlib.sha256(model_id.encode("utf-8"))
    count = 0
    for ids, vectors in chunks:
        h.update(np.ascontiguousarray(ids, dtype=np.int64).tobytes())
        h.update(np.ascontiguousarray(vectors, dtype=np.float16).tobytes())
        count += len(ids)
    return f"{count}:{h.hexdigest()}"


def build(
    labels: np.ndarray,
    read: Callable[[np.ndarray], np.ndarray],
    params: GraphParams,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    threads: int | None = None,
    chunk: int = 10_000,
) -> Graph:
    """A graph over `labels`, their vectors read `chunk` at a time (`read(labels)`
    answers float32 rows), with progress between chunks; raises BuildCancelled."""
    import time

    labels = np.asarray(labels, dtype=np.int64)
    rng = np.random.default_rng(0)
    pick = np.sort(rng.choice(len(labels), min(len(labels), params.pca_sample), replace=False))
    graph = Graph.fitted(read(labels[pick]), params)
    graph.set_threads(threads or os.cpu_count() or 1)
    graph.reserve(len(labels))
    start = time.monotonic()
    for done in range(0, len(labels), chunk):
        if cancel is not None and cancel.checkpoint():
            raise BuildCancelled()
        part = labels[done : done + chunk]
        graph.add(part, read(part))
        if progress is not None:
            progress(progress_at("graph", done + len(part), len(labels), start, None))
    return graph
