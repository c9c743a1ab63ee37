"""hnswlib wrapper: a cache of the catalog's vectors for fast nearest-neighbour search.

Labels are catalog photo ids. The file is written atomically next to a
sidecar listing the ids it holds; on load the sidecar is compared with the
catalog and the index is repaired (missing ids added, stale ones deleted), or
rebuilt from scratch when it cannot be read.
"""

from __future__ import annotations

import errno
import hashlib
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from glimpse.core.errors import GlimpseError
from glimpse.core.faults import pause_point
from glimpse.core.files import replace_atomically, text_writer

# M=16, ef_construction=200 are hnswlib's recommended defaults for ~512-d
# vectors. ef_search=256 gives recall@10 >= 0.99 against exact search on
# clustered vectors like a photo archive's (scripts/bench_search.py measures
# it at 10k and 100k; tests/test_index.py checks it) at well under a
# millisecond a query. Uniformly random 512-d vectors, the worst case for any
# graph index, get far lower recall; the benchmark prints that case too.
M = 16
EF_CONSTRUCTION = 200
EF_SEARCH = 256
_GROW_STEP = 1024


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """files.replace_atomically, with a full disk and hnswlib's write failures
    turned into errors a user can act on."""
    try:
        replace_atomically(path, write)
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise GlimpseError(
                f"The disk holding {path.parent} is full; {path.name} was not updated. "
                "Free some space; the previous file is intact."
            ) from exc
        raise
    except RuntimeError as exc:  # hnswlib reports its write failures this way
        raise GlimpseError(f"Could not write {path}: {exc}. The previous file is intact.") from exc


class VectorIndex:
    """Inner-product HNSW over unit vectors; thread-safe."""

    def __init__(self, dim: int, capacity: int = _GROW_STEP) -> None:
        import hnswlib

        raw = hnswlib.Index(space="ip", dim=dim)
        raw.init_index(
            max_elements=max(capacity, 16), ef_construction=EF_CONSTRUCTION, M=M,
            allow_replace_deleted=False,
        )
        self._adopt(dim, raw, set())

    def _adopt(self, dim: int, raw: Any, live: set[int]) -> None:
        """The one place the fields are set, for a new index and a loaded one."""
        self.dim = dim
        self._lock = threading.RLock()
        self._index = raw
        self._index.set_ef(EF_SEARCH)
        self._live = live
        # Changed since loaded or saved? Lets a search's library close without
        # rewriting an index it only read.
        self.dirty = False

    # -- contents -----------------------------------------------------------

    def __len__(self) -> int:
        return len(self._live)

    @property
    def ids(self) -> set[int]:
        with self._lock:
            return set(self._live)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        ids = np.asarray(ids, dtype=np.int64)
        if len(ids) == 0:
            return
        vectors = np.asarray(vectors, dtype=np.float32).reshape(len(ids), self.dim)
        with self._lock:
            # A label deleted earlier is un-deleted and updated in place by
            # add_items, so it needs no slot of its own; counting it anyway
            # only grows the index a little early.
            needed = self._index.element_count + len(ids)
            if needed > self._index.get_max_elements():
                self._index.resize_index(max(needed, self._index.get_max_elements() * 2))
            self._index.add_items(vectors, ids)
            self._live.update(int(i) for i in ids)
            self.dirty = True

    def remove(self, ids: Iterable[int]) -> None:
        with self._lock:
            for i in ids:
                i = int(i)
                if i in self._live:
                    self._index.mark_deleted(i)
                    self._live.discard(i)
                    self.dirty = True

    # -- queries ------------------------------------------------------------

    def search(
        self, vector: np.ndarray, k: int, allowed: set[int] | None = None
    ) -> list[tuple[int, float]]:
        """Top-k (id, cosine score), best first. `allowed` restricts the ids."""
        with self._lock:
            n = len(self._live if allowed is None else self._live & allowed)
            k = min(k, n)
            if k <= 0:
                return []
            self._index.set_ef(max(EF_SEARCH, k))
            query = np.asarray(vector, dtype=np.float32).reshape(1, self.dim)
            if allowed is None:
                labels, distances = self._index.knn_query(query, k=k)
            else:
                labels, distances = self._index.knn_query(
                    query, k=k, filter=lambda label: label in allowed
                )
        # hnswlib's "ip" distance is 1 - dot product.
        return [(int(i), float(1.0 - d)) for i, d in zip(labels[0], distances[0], strict=True)]

    # -- persistence --------------------------------------------------------

    def save(self, path: Path) -> None:
        with self._lock:
            ids = np.array(sorted(self._live), dtype=np.int64)
            digest: list[str] = []
            atomic_write(path, lambda tmp: digest.append(self._save_raw(tmp)))
            atomic_write(_ids_path(path), lambda tmp: _save_ids(tmp, ids))
            atomic_write(_sum_path(path), text_writer(digest[0]))
            self.dirty = False

    def _save_raw(self, tmp: Path) -> str:
        self._index.save_index(str(tmp))
        pause_point("index-save")  # written, not yet renamed over the old file
        return _file_digest(tmp)

    @classmethod
    def load(cls, path: Path, dim: int) -> VectorIndex | None:
        """The saved index, or None if it is absent, unreadable or of another shape."""
        import hnswlib

        ids_file = _ids_path(path)
        if not path.is_file() or not ids_file.is_file():
            return None
        try:
            # hnswlib trusts its file: a flipped byte in a link list can crash the
            # process on the first search. A damaged file is rebuilt instead.
            if _sum_path(path).read_text("utf-8").strip() != _file_digest(path):
                return None
            live = np.load(ids_file, allow_pickle=False)
            raw = hnswlib.Index(space="ip", dim=dim)
            raw.load_index(str(path), max_elements=0)
        except (OSError, ValueError, RuntimeError):
            return None
        if raw.dim != dim:
            return None
        index = cls.__new__(cls)
        index._adopt(dim, raw, {int(i) for i in live})
        return index

    def sync_with(self, catalog_ids: np.ndarray, fetch: Callable[[list[int]], np.ndarray]) -> tuple[int, int]:
        """Make the index hold exactly `catalog_ids`; returns (added, removed)."""
        wanted = {int(i) for i in catalog_ids}
        with self._lock:
            extra = self._live - wanted
            missing = sorted(wanted - self._live)
            self.remove(extra)
            for start in range(0, len(missing), 4096):
                chunk = missing[start : start + 4096]
                self.add(np.array(chunk, dtype=np.int64), fetch(chunk))
        return len(missing), len(extra)


def _ids_path(path: Path) -> Path:
    return path.with_name(path.name + ".ids.npy")


def _sum_path(path: Path) -> Path:
    return path.with_name(path.name + ".b2")


def _file_digest(path: Path) -> str:
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _save_ids(tmp: Path, ids: np.ndarray) -> None:
    with open(tmp, "wb") as f:
        np.save(f, ids, allow_pickle=False)


def exact_search(
    matrix: np.ndarray, ids: np.ndarray, vector: np.ndarray, k: int
) -> list[tuple[int, float]]:
    """Brute-force top-k by inner product: the ground truth for tests and evaluation."""
    if len(ids) == 0:
        return []
    scores = matrix @ np.asarray(vector, dtype=np.float32).reshape(-1)
    k = min(k, len(ids))
    top = np.argpartition(-scores, k - 1)[:k]
    top = top[np.argsort(-scores[top], kind="stable")]
    return [(int(ids[i]), float(scores[i])) for i in top]
