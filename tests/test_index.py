"""HNSW index: agreement with exact search, atomic persistence, repair against the catalog."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from glimpse.core.index import VectorIndex, exact_search


def _unit(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    x = rng.normal(size=(n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _clustered(rng: np.random.Generator, n: int, dim: int, centres: np.ndarray) -> np.ndarray:
    """Points around shared centres: how a photo archive's embeddings sit
    (bursts of similar shots), unlike uniform noise, HNSW's worst case."""
    pick = rng.integers(0, len(centres), n)
    x = centres[pick] + rng.normal(scale=0.06, size=(n, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_hnsw_recall_at_10_against_exact_search() -> None:
    rng = np.random.default_rng(0)
    dim = 512
    centres = _unit(rng, 200, dim)
    data = _clustered(rng, 6000, dim, centres)
    ids = np.arange(1, 6001, dtype=np.int64)
    index = VectorIndex(dim, capacity=100)  # grows by resizing as it fills
    for start in range(0, 6000, 1000):
        index.add(ids[start : start + 1000], data[start : start + 1000])
    queries = _clustered(rng, 200, dim, centres)
    hits = 0
    for q in queries:
        approx = {i for i, _ in index.search(q, 10)}
        exact = {i for i, _ in exact_search(data, ids, q, 10)}
        hits += len(approx & exact)
    recall = hits / (10 * len(queries))
    assert recall >= 0.99, recall


def test_scores_are_cosine_and_sorted() -> None:
    rng = np.random.default_rng(1)
    data = _unit(rng, 50, 16)
    index = VectorIndex(16)
    index.add(np.arange(50), data)
    hits = index.search(data[7], 5)
    assert hits[0][0] == 7 and abs(hits[0][1] - 1.0) < 1e-5
    scores = [s for _, s in hits]
    assert scores == sorted(scores, reverse=True)
    assert abs(hits[1][1] - float(data[hits[1][0]] @ data[7])) < 1e-5


def test_delete_readd_and_filter() -> None:
    rng = np.random.default_rng(2)
    data = _unit(rng, 30, 8)
    index = VectorIndex(8)
    index.add(np.arange(30), data)
    index.remove([3])
    assert 3 not in {i for i, _ in index.search(data[3], 30)}
    index.add(np.array([3]), data[3:4])
    assert index.search(data[3], 1)[0][0] == 3
    allowed = {10, 11, 12}
    assert {i for i, _ in index.search(data[3], 10, allowed=allowed)} == allowed
    assert len(index) == 30


def test_save_load_roundtrip_and_unreadable_file(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    data = _unit(rng, 40, 8)
    index = VectorIndex(8)
    index.add(np.arange(40), data)
    index.remove([5])
    path = tmp_path / "x.hnsw"
    index.save(path)
    loaded = VectorIndex.load(path, 8)
    assert loaded is not None and loaded.ids == index.ids
    assert loaded.search(data[9], 1)[0][0] == 9
    assert not list(tmp_path.glob("*.tmp"))  # atomic write leaves no temp files
    path.write_bytes(b"garbage")
    assert VectorIndex.load(path, 8) is None
    assert VectorIndex.load(tmp_path / "absent.hnsw", 8) is None


def test_index_catalog_mismatch_is_repaired(library, photo_dir: Path) -> None:
    from glimpse.core.library import Library

    library.add_folder(photo_dir)
    library.index()
    ids = set(library.catalog.embedding_ids(library.model_key()).tolist())
    path = library._index_path(library.encoder.model_id)
    # Simulate a crash that left a stale index: drop two ids and save.
    stale = library.index_for()
    stale.remove(sorted(ids)[:2])
    stale.save(path)
    root = library.root
    library.catalog.close()

    reopened = Library(root, model="GlimpseTiny:random")
    try:
        assert reopened.index_for().ids == ids
        # And a corrupt file is rebuilt from the catalog.
        reopened.catalog.close()
        path.write_bytes(b"not an index")
        again = Library(root, model="GlimpseTiny:random")
        assert again.index_for().ids == ids
        again.close()
    finally:
        pass
