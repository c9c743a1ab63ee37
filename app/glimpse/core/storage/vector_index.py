"""The in-memory vector index: every searchable vector once, in half precision, searched exactly.

Why exact, and why faiss (scripts/bench_scale.py measures all of it; figures in
README "A million photos"): a graph index (hnswlib, M=16, ef=256) kept
recall@10 at 1.000 at 100k vectors but fell to 0.832 at 1M, took 1,012 s to
build at 1M and held every vector in float32 beside its links. faiss's flat
scalar-quantizer index keeps each vector as 2 bytes a dimension and scans them
all with SIMD half-precision kernels: recall 1.0 at every size by construction
(half precision moves no true top-10 photo out on any distribution measured),
about 30 ms a query at 1M on this 2-core machine, 1 GB at 1M, and a build that
is a copy (about 2 s at 1M). Filters are applied inside the scan (an id
selector), so a narrow filter can never return fewer results than it matches.

Labels are catalog photo ids (and FRAME_LABEL_BASE + frame id for video
keyframes). The index is never written to disk: the catalog's embeddings are
the one stored copy, read back in chunks when a library opens, so there is no
second file to fall behind the catalog or be damaged by a crash.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

import numpy as np

# Above this many vectors an exact scan passes ~100 ms a query on a 2-core
# laptop (it grows linearly: ~30 ms at 1M measured); Library logs a notice.
EXACT_COMFORT_LIMIT = 3_000_000

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
    """Exact inner-product search over unit vectors stored as float16; thread-safe."""

    def __init__(self, dim: int) -> None:
        faiss = _faiss()
        self.dim = dim
        self._lock = threading.RLock()
        quantizer = faiss.IndexScalarQuantizer(
            dim, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT
        )
        self._index = faiss.IndexIDMap(quantizer)
        self._quantizer = quantizer  # the IDMap does not own it: keep it alive
        self._live: set[int] = set()

    # -- contents -----------------------------------------------------------

    def __len__(self) -> int:
        return len(self._live)

    @property
    def ids(self) -> set[int]:
        with self._lock:
            return set(self._live)

    def __contains__(self, label: int) -> bool:
        return int(label) in self._live

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add vectors; a label already present is replaced (a photo re-encoded)."""
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        if len(ids) == 0:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(ids), self.dim)
        with self._lock:
            present = [int(i) for i in ids if int(i) in self._live]
            if present:
                self.remove(present)
            self._index.add_with_ids(vectors, ids)
            self._live.update(int(i) for i in ids)

    def remove(self, ids: Iterable[int]) -> None:
        with self._lock:
            gone = np.array([int(i) for i in ids if int(i) in self._live], dtype=np.int64)
            if len(gone) == 0:
                return
            # One batch: faiss compacts the flat store once per call.
            self._index.remove_ids(_faiss().IDSelectorBatch(gone))
            self._live.difference_update(int(i) for i in gone)

    # -- queries ------------------------------------------------------------

    def search(
        self, vector: np.ndarray, k: int, allowed: set[int] | np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """Top-k (label, cosine score), best first. `allowed` restricts the labels,
        inside the scan: every allowed label is scored."""
        query = np.ascontiguousarray(vector, dtype=np.float32).reshape(1, self.dim)
        with self._lock:
            if allowed is None:
                k = min(k, len(self._live))
                params = None
            else:
                wanted = np.fromiter((int(i) for i in allowed), dtype=np.int64, count=len(allowed))
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
