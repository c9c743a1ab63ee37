"""The in-memory vector index: every searchable vector once, in half precision;
an exact scan for small libraries, an HNSW graph tier above GRAPH_THRESHOLD.

Two tiers behind one interface (scripts/bench_scale.py --index {auto,exact,hnsw}
measures both; figures in README "A million photos"):

- exact: faiss's flat scalar-quantizer index keeps each vector as 2 bytes a
  dimension and scans them all with SIMD half-precision kernels. Recall 1.0 by
  construction; its time grows linearly (about 30 ms a query at 1M here). It is
  also the one store of the vectors: the graph tier re-ranks from it.
- graph (core/storage/graph_index.py): an hnswlib graph over PCA-reduced
  vectors proposes `rerank_depth` candidates; they are re-scored exactly from
  the float16 store, so scores are always the true ones. Used once a graph is
  attached (Library builds it in the background while the exact tier answers)
  and it passed its recall check (`attach_graph`): on data no graph can search
  well (uniform noise) the index stays exact rather than be wrong.

Filters: a narrow one (under WIDE_FILTER_FRACTION of the vectors) is searched
exactly over the allowed ids, inside the faiss scan; a wide one asks the graph for more candidates
(depth / fraction) and, if fewer than min(k, matches) survive the filter, falls
back to the exact scan, so a filter can never return fewer results than it
matches.

Labels are catalog photo ids (and FRAME_LABEL_BASE + frame id for video
keyframes). The exact store is never written to disk: the catalog's embeddings
are its one stored copy. The graph is saved beside the catalog with a checksum
and a fingerprint of the vectors (Library), and rebuilt when stale or damaged.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator

import numpy as np

from glimpse.core.jobs import CancelToken, ProgressCallback
from glimpse.core.storage import graph_index
from glimpse.core.storage.graph_index import Graph, GraphParams

log = logging.getLogger(__name__)

# Above this many vectors an exact scan passes ~100 ms a query on a 2-core
# laptop (it grows linearly: ~30 ms at 1M measured); Library logs a notice
# when no graph tier answers.
EXACT_COMFORT_LIMIT = 3_000_000

# Library builds a graph from this many vectors on (measured: README "A million photos").
GRAPH_THRESHOLD = 200_000
# A filter matching at least this share of the vectors asks the graph for
# depth / share candidates; a narrower one goes through the exact faiss scan,
# whose id selector skips the others before scoring (2,000 of 100k: 0.5 ms,
# where reading those 2,000 back from the store to score them took 4.7 ms).
WIDE_FILTER_FRACTION = 0.1
# Larger k (the collapse path asks up to 5,000) are answered exactly: a graph
# search that deep costs more than the scan.
MAX_GRAPH_K = 500

_faiss_configured = False


def _faiss():  # noqa: ANN202  (faiss has no type stubs)
    """Import faiss once, single-threaded: one query's scan is memory-bound (two
    threads measured no faster at 1M), and idle OpenMP threads would spin
    beside the indexing pipeline that needs the cores."""
    global _faiss_configured
    import faiss

    if not _faiss_configured:
        faiss.omp_set_num_threads(1)
        _faiss_configured = True
    return faiss


class VectorIndex:
    """Inner-product search over unit vectors stored as float16; thread-safe."""

    def __init__(self, dim: int, params: GraphParams | None = None) -> None:
        faiss = _faiss()
        self.dim = dim
        self.params = params or GraphParams()
        self._lock = threading.RLock()
        quantizer = faiss.IndexScalarQuantizer(
            dim, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT
        )
        # IDMap2: vectors can be read back by label (the graph's exact re-rank).
        self._index = faiss.IndexIDMap2(quantizer)
        self._quantizer = quantizer  # the IDMap does not own it: keep it alive
        self._live: set[int] = set()
        self._graph: Graph | None = None
        # Labels added or replaced while a graph is being built from a snapshot:
        # attach_graph brings the new graph up to date with them.
        self._changed_since_snapshot: set[int] | None = None
        # Counts changes, so that a saved graph is saved again only if it is behind.
        self.generation = 0

    # -- contents -----------------------------------------------------------

    def __len__(self) -> int:
        return len(self._live)

    @property
    def ids(self) -> set[int]:
        with self._lock:
            return set(self._live)

    def __contains__(self, label: int) -> bool:
        return int(label) in self._live

    @property
    def lock(self) -> threading.RLock:
        return self._lock

    @property
    def tier(self) -> str:
        """"graph" once a graph answers unfiltered searches, else "exact"."""
        return "graph" if self._graph is not None else "exact"

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add vectors; a label already present is replaced (a photo re-encoded)."""
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        if len(ids) == 0:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(ids), self.dim)
        with self._lock:
            present = [int(i) for i in ids if int(i) in self._live]
            if present:
                self._remove_from_store(present)
            self._index.add_with_ids(vectors, ids)
            self._live.update(int(i) for i in ids)
            self.generation += 1
            if self._graph is not None:
                self._graph.add(ids, vectors)  # a present label is updated in place
            if self._changed_since_snapshot is not None:
                self._changed_since_snapshot.update(int(i) for i in ids)

    def remove(self, ids: Iterable[int]) -> None:
        with self._lock:
            gone = self._remove_from_store(ids)
            if gone:
                self.generation += 1
            if self._graph is not None:
                self._graph.mark_deleted(gone)

    def _remove_from_store(self, ids: Iterable[int]) -> list[int]:
        gone = [int(i) for i in ids if int(i) in self._live]
        if gone:
            # One batch: faiss compacts the flat store once per call.
            self._index.remove_ids(_faiss().IDSelectorBatch(np.array(gone, dtype=np.int64)))
            self._live.difference_update(gone)
        return gone

    def vectors_of(self, labels: np.ndarray) -> np.ndarray:
        """The stored (float16, widened to float32) vectors of present labels."""
        labels = np.ascontiguousarray(labels, dtype=np.int64).reshape(-1)
        if len(labels) == 0:
            return np.empty((0, self.dim), dtype=np.float32)
        with self._lock:
            return np.asarray(self._index.reconstruct_batch(labels), dtype=np.float32)

    def sorted_chunks(self, chunk: int = 20_000) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(labels, vectors) of the whole store in label order, `chunk` at a time."""
        labels = np.array(sorted(self.ids), dtype=np.int64)
        for start in range(0, len(labels), chunk):
            part = labels[start : start + chunk]
            with self._lock:
                part = np.array([i for i in part if int(i) in self._live], dtype=np.int64)
                vectors = self.vectors_of(part)
            yield part, vectors

    # -- the graph tier ---------------------------------------------------------

    def snapshot_for_graph(self) -> np.ndarray:
        """The labels a graph build starts from; changes after this are recorded
        so that attach_graph can replay them."""
        with self._lock:
            self._changed_since_snapshot = set()
            return np.array(sorted(self._live), dtype=np.int64)

    def build_graph(
        self, progress: ProgressCallback | None = None, cancel: CancelToken | None = None,
        threads: int | None = None,
    ) -> Graph:
        """A graph over the current contents (searches keep using the exact tier
        meanwhile); attach it with attach_graph."""
        labels = self.snapshot_for_graph()
        return graph_index.build(labels, self.read_present, self.params, progress, cancel, threads)

    def read_present(self, labels: np.ndarray) -> np.ndarray:
        # A label removed since the snapshot reads as zeros (the graph marks it
        # deleted when attached); the lock is held one chunk at a time only.
        with self._lock:
            present = np.array([int(i) in self._live for i in labels], dtype=bool)
            out = np.zeros((len(labels), self.dim), dtype=np.float32)
            if present.any():
                out[present] = self.vectors_of(labels[present])
            return out

    def attach_graph(self, graph: Graph, check_queries: int = 50, min_recall: float = 0.99) -> float:
        """Bring `graph` up to date with changes since its snapshot, check its
        recall@10 on queries near stored vectors against the exact scan, and use
        it if it reaches `min_recall`. Returns the measured recall."""
        with self._lock:
            in_graph = set(graph.labels())
            changed = self._changed_since_snapshot or set()
            self._changed_since_snapshot = None
            graph.mark_deleted(in_graph - self._live)
            refresh = np.array(sorted((self._live - in_graph) | (changed & self._live)), dtype=np.int64)
            for start in range(0, len(refresh), 20_000):
                part = refresh[start : start + 20_000]
                graph.add(part, self.vectors_of(part))
            recall = self._check_recall(graph, check_queries)
            if recall >= min_recall:
                self._graph = graph
            else:
                self._graph = None
                log.warning("graph tier recall@10 %.3f < %.2f on these vectors: staying exact",
                            recall, min_recall)
            return recall

    def detach_graph(self) -> None:
        with self._lock:
            self._graph = None
            self._changed_since_snapshot = None

    @property
    def graph(self) -> Graph | None:
        return self._graph

    def _check_recall(self, graph: Graph, queries: int) -> float:
        """recall@10 of the graph tier on queries made from stored vectors plus
        noise (cosine about 0.7 to their origin: near the data, not on it)."""
        if len(self._live) < 10 or queries <= 0:
            return 1.0
        rng = np.random.default_rng(1)
        labels = np.array(sorted(self._live), dtype=np.int64)
        origin = self.vectors_of(rng.choice(labels, min(queries, len(labels)), replace=False))
        noise = rng.standard_normal(origin.shape).astype(np.float32)
        noise /= np.linalg.norm(noise, axis=1, keepdims=True)
        qs = origin + noise
        qs /= np.linalg.norm(qs, axis=1, keepdims=True)
        found = 0
        for q in qs:
            truth = {i for i, _ in self._exact(q, 10, None)}
            got = {i for i, _ in self._graph_search(graph, q, 10, None) or []}
            found += len(truth & got)
        return found / (10 * len(qs))

    # -- queries ------------------------------------------------------------

    def search(
        self, vector: np.ndarray, k: int, allowed: set[int] | np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """Top-k (label, cosine score), best first. `allowed` restricts the labels:
        every allowed label can be returned (narrow filters are searched exactly)."""
        query = np.ascontiguousarray(vector, dtype=np.float32).reshape(self.dim)
        with self._lock:
            graph = self._graph
            if graph is not None and k <= MAX_GRAPH_K:
                wanted = None if allowed is None else _as_set(allowed)
                if wanted is None or len(wanted) >= WIDE_FILTER_FRACTION * len(self._live):
                    hits = self._graph_search(graph, query, k, wanted)
                    if hits is not None:
                        return hits
            return self._exact(query, k, allowed)

    def _graph_search(
        self, graph: Graph, query: np.ndarray, k: int, wanted: set[int] | None
    ) -> list[tuple[int, float]] | None:
        """Graph candidates re-ranked exactly; None when fewer than k are found
        (a filter's matches may be fewer: the caller's exact scan then returns
        every one of them)."""
        depth = max(self.params.rerank_depth, 2 * k)
        if wanted is not None:
            # Oversample by the filter's share, so that about `depth` pass it.
            share = len(wanted) / max(1, len(self._live))
            depth = min(int(depth / max(share, WIDE_FILTER_FRACTION)), 20 * depth)
        candidates = graph.candidates(query, depth)
        if wanted is not None:
            candidates = np.array([c for c in candidates.tolist() if c in wanted], dtype=np.int64)
        hits = self._score_labels(query, k, candidates)
        return hits if len(hits) >= min(k, len(self._live)) else None

    def neighbours_batch(self, queries: np.ndarray, k: int) -> list[list[tuple[int, float]]]:
        """Top-k (label, cosine) for many queries at once from the graph tier, in its
        threads, re-ranked exactly from the store (duplicate finding over a whole
        library); the exact scan's answers when no graph is attached."""
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dim)
        with self._lock:
            graph = self._graph
            if graph is None:
                return [self._exact(q, k, None) for q in queries]
            depth = max(2 * k, k + 10)
            candidates = graph.candidates_batch(queries, depth)
            if candidates.shape[1] == 0:
                return [[] for _ in queries]
            flat = candidates.reshape(-1)
            live = np.array([int(i) in self._live for i in flat.tolist()], dtype=bool)
            vectors = np.zeros((len(flat), self.dim), dtype=np.float32)
            if live.any():
                vectors[live] = self.vectors_of(flat[live])
        scores = np.einsum("bcd,bd->bc", vectors.reshape(*candidates.shape, self.dim), queries)
        scores[~live.reshape(candidates.shape)] = -np.inf
        out = []
        for row, labels in zip(scores, candidates, strict=True):
            order = np.argsort(-row, kind="stable")[:k]
            out.append([(int(labels[j]), float(row[j])) for j in order if np.isfinite(row[j])])
        return out

    def _score_labels(self, query: np.ndarray, k: int, labels: np.ndarray) -> list[tuple[int, float]]:
        labels = np.array([i for i in labels if int(i) in self._live], dtype=np.int64)
        if len(labels) == 0 or k <= 0:
            return []
        scores = self.vectors_of(labels) @ query
        k = min(k, len(labels))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(labels[i]), float(scores[i])) for i in top]

    def _exact(
        self, query: np.ndarray, k: int, allowed: set[int] | np.ndarray | None
    ) -> list[tuple[int, float]]:
        query = query.reshape(1, self.dim)
        if allowed is None:
            k = min(k, len(self._live))
            params = None
        else:
            wanted = _labels(allowed)
            k = min(k, len(wanted))
            faiss = _faiss()
            selector = faiss.IDSelectorBatch(wanted)
            params = faiss.SearchParameters(sel=selector)
        if k <= 0:
            return []
        scores, labels = self._index.search(query, k, params=params)
        # faiss pads with -1 when fewer than k labels pass the selector.
        return [
            (int(i), float(s)) for i, s in zip(labels[0], scores[0], strict=True) if i >= 0
        ]

    # -- keeping it equal to the catalog --------------------------------------

    def sync_with(
        self, catalog_ids: np.ndarray, fetch: Callable[[list[int]], np.ndarray]
    ) -> tuple[int, int]:
        """Make the index hold exactly `catalog_ids`; returns (added, removed)."""
        wanted = {int(i) for i in catalog_ids}
        with self._lock:
            extra = self._live - wanted
            missing = sorted(wanted - self._live)
            self.remove(extra)
            for start in range(0, len(missing), 20_000):
                chunk = missing[start : start + 20_000]
                self.add(np.array(chunk, dtype=np.int64), fetch(chunk))
        return len(missing), len(extra)


def _as_set(allowed: set[int] | np.ndarray) -> set[int]:
    return allowed if isinstance(allowed, set) else {int(i) for i in np.asarray(allowed).reshape(-1)}


def _labels(allowed: set[int] | np.ndarray) -> np.ndarray:
    if isinstance(allowed, np.ndarray):
        return allowed.astype(np.int64).reshape(-1)
    return np.fromiter((int(i) for i in allowed), dtype=np.int64, count=len(allowed))


def exact_search(
    matrix: np.ndarray, ids: np.ndarray, vector: np.ndarray, k: int
) -> list[tuple[int, float]]:
    """Brute-force top-k by inner product in float32: the ground truth for tests and benchmarks."""
    if len(ids) == 0:
        return []
    scores = matrix @ np.asarray(vector, dtype=np.float32).reshape(-1)
    k = min(k, len(ids))
    top = np.argpartition(-scores, k - 1)[:k]
    top = top[np.argsort(-scores[top], kind="stable")]
    return [(int(ids[i]), float(scores[i])) for i in top]
