"""The vector index: exact in half precision, filters inside the scan, built from the catalog."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from glimpse.core.storage.vector_index import VectorIndex, exact_search


def _unit(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    x = rng.normal(size=(n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _clustered(rng: np.random.Generator, n: int, dim: int, centres: np.ndarray) -> np.ndarray:
    """Points around shared centres: how a photo archive's embeddings sit
    (bursts of similar shots), unlike uniform noise, HNSW's worst case."""
    pick = rng.integers(0, len(centres), n)
    x = centres[pick] + rng.normal(scale=0.06, size=(n, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_half_precision_index_finds_the_exact_float32_top_10() -> None:
    rng = np.random.default_rng(0)
    dim = 512
    centres = _unit(rng, 200, dim)
    for data in (_clustered(rng, 6000, dim, centres), _unit(rng, 6000, dim)):
        ids = np.arange(1, 6001, dtype=np.int64)
        index = VectorIndex(dim)
        for start in range(0, 6000, 1000):
            index.add(ids[start : start + 1000], data[start : start + 1000])
        queries = np.concatenate([_clustered(rng, 100, dim, centres), _unit(rng, 100, dim)])
        hits = 0
        for q in queries:
            approx = {i for i, _ in index.search(q, 10)}
            exact = {i for i, _ in exact_search(data, ids, q, 10)}
            hits += len(approx & exact)
        # Only a float16 rounding tie at the 10th place could differ.
        assert hits / (10 * len(queries)) >= 0.998


def test_a_narrow_filter_returns_everything_it_matches() -> None:
    """The filter is applied inside the scan: the three allowed vectors are the
    farthest from the query, yet all three come back, in score order."""
    rng = np.random.default_rng(4)
    data = _unit(rng, 2000, 32)
    index = VectorIndex(32)
    index.add(np.arange(2000), data)
    query = data[0]
    farthest = [int(i) for i in np.argsort(data @ query)[:3]]
    hits = index.search(query, 10, allowed=set(farthest))
    assert [i for i, _ in hits] == sorted(farthest, key=lambda i: -float(data[i] @ query))


def test_adding_a_present_label_replaces_its_vector() -> None:
    index = VectorIndex(4)
    eye = np.eye(4, dtype=np.float32)
    index.add(np.array([7, 8]), eye[:2])
    index.add(np.array([7]), eye[2:3])  # photo 7 re-encoded
    assert len(index) == 2
    assert index.search(eye[2], 4) == [(7, 1.0), (8, 0.0)]
    assert index.search(eye[1], 1) == [(8, 1.0)]
    assert all(score == 0.0 for _, score in index.search(eye[0], 2))  # e0 is gone


def test_scores_are_cosine_and_sorted() -> None:
    rng = np.random.default_rng(1)
    data = _unit(rng, 50, 16)
    index = VectorIndex(16)
    index.add(np.arange(50), data)
    hits = index.search(data[7], 5)
    # Vectors are kept in float16: scores are cosines to about 1e-4.
    assert hits[0][0] == 7 and abs(hits[0][1] - 1.0) < 5e-4
    scores = [s for _, s in hits]
    assert scores == sorted(scores, reverse=True)
    assert abs(hits[1][1] - float(data[hits[1][0]] @ data[7])) < 5e-4


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


def test_index_is_built_from_the_catalog_and_follows_it(library, photo_dir: Path, monkeypatch) -> None:
    from glimpse.core.library import Library

    library.add_folder(photo_dir)
    library.index()
    ids = set(library.catalog.embedding_ids(library.model_key()).tolist())
    assert library.index_for().ids == ids
    root = library.root
    library.close()
    reopened = Library(root, model="GlimpseTiny:random")
    try:
        import glimpse.core.library as library_module

        seen = []
        monkeypatch.setattr(library_module, "_REPORT_INDEX_READ_FROM", 0)  # even for a few photos
        assert reopened.index_for(progress=seen.append).ids == ids
        assert (seen[-1].done, seen[-1].total) == (len(ids), len(ids))
        gone = sorted(ids)[:2]
        for photo in reopened.catalog.photos_by_ids(gone).values():
            Path(photo.path).unlink()
        reopened.sync()
        assert reopened.index_for().ids == ids - set(gone)
    finally:
        reopened.close()
