"""The graph tier of the vector index: recall against exact search, filters,
changes, the saved file (damaged, stale, killed mid-save) and the background build.

Sizes are small; a low threshold forces the graph tier. The speed and recall
at scale are measured by scripts/bench_scale.py --index (README "A million photos")."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from glimpse.core.jobs import CancelToken, Progress
from glimpse.core.storage import graph_index
from glimpse.core.storage.graph_index import BuildCancelled, Graph, GraphParams
from glimpse.core.storage.vector_index import VectorIndex, exact_search

DIM = 64
PARAMS = GraphParams(graph_dim=48, m=12, ef_construction=80, ef_search=64, rerank_depth=80)


def _clustered(rng: np.random.Generator, n: int, centres: np.ndarray) -> np.ndarray:
    x = centres[rng.integers(0, len(centres), n)] + rng.normal(scale=0.08, size=(n, centres.shape[1]))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _unit(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    x = rng.normal(size=(n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    centres = _unit(rng, 60, DIM)
    vectors = _clustered(rng, 4000, centres)
    return np.arange(1, 4001, dtype=np.int64), vectors, _clustered(rng, 60, centres)


def _graph_index(ids: np.ndarray, vectors: np.ndarray) -> VectorIndex:
    index = VectorIndex(DIM, PARAMS)
    index.add(ids, vectors)
    assert index.attach_graph(index.build_graph(threads=1)) >= 0.99
    assert index.tier == "graph"
    return index


def _recall(index: VectorIndex, ids: np.ndarray, vectors: np.ndarray, queries: np.ndarray) -> float:
    found = 0
    for q in queries:
        found += len({i for i, _ in index.search(q, 10)} & {i for i, _ in exact_search(vectors, ids, q, 10)})
    return found / (10 * len(queries))


def test_graph_tier_keeps_recall_and_exact_scores(data) -> None:
    ids, vectors, queries = data
    index = _graph_index(ids, vectors)
    assert _recall(index, ids, vectors, queries) >= 0.99
    # Re-ranked from the float16 store: every score is the true cosine, best first.
    hits = index.search(queries[0], 10)
    true = vectors[np.array([i for i, _ in hits]) - 1] @ queries[0]
    assert np.allclose([s for _, s in hits], true, atol=2e-3)
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)


def test_a_graph_that_cannot_reach_the_recall_is_not_used() -> None:
    """Uniform noise over a 4-direction graph: the check fails, searches stay exact."""
    rng = np.random.default_rng(3)
    vectors = _unit(rng, 3000, DIM)
    ids = np.arange(3000, dtype=np.int64)
    index = VectorIndex(DIM, GraphParams(graph_dim=4, m=4, ef_construction=10, ef_search=10, rerank_depth=10))
    index.add(ids, vectors)
    assert index.attach_graph(index.build_graph(threads=1)) < 0.99
    assert index.tier == "exact"
    q = _unit(rng, 1, DIM)[0]
    assert [i for i, _ in index.search(q, 10)] == [i for i, _ in exact_search(vectors, ids, q, 10)]


def test_filters_return_every_match(data) -> None:
    """Under 10% of the photos: the exact scan; more: the graph, oversampled."""
    ids, vectors, queries = data
    index = _graph_index(ids, vectors)
    q = queries[0]
    order = [int(i) for i in ids[np.argsort(vectors @ q)]]  # farthest first
    # Narrow: the three farthest photos, exactly, in score order.
    assert [i for i, _ in index.search(q, 10, allowed=set(order[:3]))] == sorted(
        order[:3], key=lambda i: -float(vectors[i - 1] @ q))
    # Wide (half the photos, all the far half: the graph, oversampled): k results,
    # all allowed, the true top-k.
    far_half = set(order[:2000])
    hits = index.search(q, 10, allowed=far_half)
    sub = np.array(sorted(far_half))
    truth = [i for i, _ in exact_search(vectors[sub - 1], sub, q, 10)]
    assert len(hits) == 10 and {i for i, _ in hits} <= far_half
    assert len({i for i, _ in hits} & set(truth)) >= 9
    # Wide by count, yet only 4 of its labels are indexed: the graph finds fewer
    # than k, the exact scan then returns all 4 (the farthest photos of all).
    few = set(order[:4]) | set(range(10_000, 11_000))
    assert sorted(i for i, _ in index.search(q, 10, allowed=few)) == sorted(order[:4])


def test_added_removed_and_replaced_photos_follow_in_the_graph(data) -> None:
    ids, vectors, queries = data
    index = _graph_index(ids, vectors)
    rng = np.random.default_rng(5)
    new = _unit(rng, 3, DIM)
    index.add(np.array([9001, 9002, 9003]), new)
    assert index.search(new[1], 1)[0][0] == 9002
    gone = [i for i, _ in index.search(queries[1], 5)]
    index.remove(gone)
    assert not {i for i, _ in index.search(queries[1], 50)} & set(gone)
    # Replace photo 7's vector: found at its new place, no longer at its old one.
    index.add(np.array([7]), new[2:3] * -1)
    assert index.search(-new[2], 1)[0][0] == 7
    assert 7 not in {i for i, _ in index.search(vectors[6], 10)}
    assert index.tier == "graph"
    # A removed label added again comes back (hnswlib unmarks it).
    index.add(np.array([gone[0]]), vectors[gone[0] - 1 : gone[0]])
    assert index.search(vectors[gone[0] - 1], 1)[0][0] == gone[0]


def test_changes_during_a_build_are_caught_up_when_attached(data) -> None:
    ids, vectors, _ = data
    index = VectorIndex(DIM, PARAMS)
    index.add(ids, vectors)
    graph = index.build_graph(threads=1)
    rng = np.random.default_rng(6)
    late = _unit(rng, 2, DIM)
    # After the snapshot: a new photo, a removed one, a re-encoded one.
    index.add(np.array([5000]), late[:1])
    index.remove([10])
    index.add(np.array([11]), late[1:])
    index.attach_graph(graph)
    assert index.tier == "graph"
    assert index.search(late[0], 1)[0][0] == 5000
    assert index.search(late[1], 1)[0][0] == 11
    assert 10 not in {i for i, _ in index.search(vectors[9], 20)}


def test_build_reports_progress_and_can_be_cancelled(data) -> None:
    ids, vectors, _ = data
    index = VectorIndex(DIM, PARAMS)
    index.add(ids, vectors)
    seen: list[Progress] = []
    graph_index.build(ids, index.read_present, PARAMS, seen.append, threads=1, chunk=1000)
    assert [(p.phase, p.done, p.total) for p in seen] == [("graph", d, 4000) for d in (1000, 2000, 3000, 4000)]
    token = CancelToken()
    token.cancel()
    with pytest.raises(BuildCancelled):
        graph_index.build(ids, index.read_present, PARAMS, None, token, threads=1)


def _saved(tmp_path: Path, data) -> tuple[VectorIndex, Path, str]:
    ids, vectors, _ = data
    index = _graph_index(ids, vectors)
    path = tmp_path / "graphs" / "model-1.hnsw"
    fp = graph_index.fingerprint("m", index.sorted_chunks())
    assert index.graph is not None
    index.graph.save(path, fp)
    return index, path, fp


def test_a_saved_graph_loads_and_a_damaged_or_stale_one_does_not(tmp_path: Path, data) -> None:
    ids, vectors, queries = data
    index, path, fp = _saved(tmp_path, data)
    loaded = Graph.load(path, fp, PARAMS)
    assert loaded is not None
    other = VectorIndex(DIM, PARAMS)
    other.add(ids, vectors)
    other.attach_graph(loaded)
    assert [i for i, _ in other.search(queries[2], 10)] == [i for i, _ in index.search(queries[2], 10)]
    # Stale: another model, one photo more, other parameters.
    assert Graph.load(path, graph_index.fingerprint("other", index.sorted_chunks()), PARAMS) is None
    index.add(np.array([7777]), vectors[:1])
    assert Graph.load(path, graph_index.fingerprint("m", index.sorted_chunks()), PARAMS) is None
    assert Graph.load(path, fp, GraphParams()) is None
    # Damaged: a byte flipped, then truncated.
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))
    assert Graph.load(path, fp, PARAMS) is None
    path.write_bytes(bytes(raw[: len(raw) // 3]))
    assert Graph.load(path, fp, PARAMS) is None
    path.unlink()
    assert Graph.load(path, fp, PARAMS) is None


@pytest.mark.parametrize("delay", [0.0, 0.3])  # in the first save, or after some
def test_a_save_killed_midway_leaves_a_whole_graph(tmp_path: Path, data, delay: float) -> None:
    _, path, fp = _saved(tmp_path, data)
    before = path.read_bytes()
    script = textwrap.dedent(f"""
        import sys, numpy as np
        sys.path.insert(0, {str(Path(__file__).resolve().parents[1] / "app")!r})
        from glimpse.core.storage.graph_index import Graph, GraphParams
        rng = np.random.default_rng(9)
        x = rng.normal(size=(60000, 64)).astype(np.float32)
        g = Graph.fitted(x[:2000], GraphParams(graph_dim=64, m=4, ef_construction=8))
        g.set_threads(2)
        g.add(np.arange(60000), x)
        print("saving", flush=True)
        while True:
            g.save({str(path)!r}, "other")
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "saving"
        time.sleep(delay)
    finally:
        proc.kill()
        proc.wait()
    # Whatever moment it died at, the graph at `path` is whole: the old one
    # (with its fingerprint), the new one (with "other"), or, killed between the
    # graph and its header, a pair whose checksum disagrees: rebuilt. Never half
    # a graph loaded.
    old = Graph.load(path, fp, PARAMS)
    new = Graph.load(path, "other", GraphParams(graph_dim=64, m=4, ef_construction=8))
    assert old is None or new is None
    if old is not None:
        assert path.read_bytes() == before
        assert len(old.candidates(np.ones(DIM, dtype=np.float32) / 8, 5)) == 5
    if new is not None:
        assert new.element_count == 60000


def test_library_builds_the_graph_in_the_background_and_reuses_its_file(tmp_path: Path, data) -> None:
    from glimpse.core.encoding.encoder import ModelSpec
    from glimpse.core.library import Library
    from glimpse.diagnostics import synthetic

    ids, vectors, queries = data
    model = "GlimpseTiny:random"
    synthetic.build_catalog(tmp_path / "lib" / "catalog.sqlite", vectors, model_id=ModelSpec.parse(model).model_id)
    lib = Library(tmp_path / "lib", model=model)
    lib.graph_threshold = 1000
    try:
        index = lib.index_for()
        job = lib.graph_job()
        assert job is not None
        assert index.search(queries[0], 3)  # answered meanwhile (exact until attached)
        assert job.wait(120) and job.error is None
        assert (job.source, index.tier) == ("built", "graph")
        assert job.describe() == "Fast search index in use"
        assert job.progress is not None and job.progress.done == job.progress.total == len(ids)
        assert job.path.is_file()
        truth = exact_search(vectors, np.array(sorted(index.ids)), queries[0], 10)
        assert len({i for i, _ in index.search(queries[0], 10)} & {i for i, _ in truth}) >= 9
        # A photo removed while open: close saves the graph again, so the next
        # start loads it rather than rebuilding.
        index.remove([int(ids[0])])
    finally:
        lib.close()
    lib = Library(tmp_path / "lib", model=model)
    lib.graph_threshold = 1000
    try:
        lib.catalog._db.execute("DELETE FROM embeddings WHERE photo_id = ?", (int(ids[0]),))
        index = lib.index_for()
        job = lib.graph_job()
        assert job is not None and job.wait(120)
        assert (job.source, index.tier) == ("file", "graph")
    finally:
        lib.close()
    # Damaged on disk: rebuilt.
    job.path.write_bytes(job.path.read_bytes()[:1000])
    lib = Library(tmp_path / "lib", model=model)
    lib.graph_threshold = 1000
    try:
        index = lib.index_for()
        job = lib.graph_job()
        assert job is not None and job.wait(120)
        assert (job.source, index.tier) == ("built", "graph")
    finally:
        lib.close()


def test_duplicates_from_the_graph_match_all_pairs(tmp_path: Path) -> None:
    """Planted near-copies among clustered photos: the graph's neighbours give
    the same groups as the exact all-pairs pass."""
    from glimpse.core.search import duplicates

    rng = np.random.default_rng(8)
    centres = _unit(rng, 60, DIM)
    base = _clustered(rng, 3000, centres)
    copies = base[:200] + rng.normal(scale=0.02, size=(200, DIM)).astype(np.float32)
    copies /= np.linalg.norm(copies, axis=1, keepdims=True)
    vectors = np.concatenate([base, copies]).astype(np.float32)
    ids = np.arange(1, len(vectors) + 1, dtype=np.int64)
    index = _graph_index(ids, vectors)
    rules = duplicates.Rules()
    exact = duplicates.find_groups(ids, vectors, None, {}, lambda i: (i,), rules)
    graph = duplicates.find_groups(ids, vectors, None, {}, lambda i: (i,), rules,
                                   neighbours_batch=index.neighbours_batch)
    assert len(exact) >= 200  # every planted pair is found
    assert [g.photo_ids for g in graph] == [g.photo_ids for g in exact]


def test_a_graph_job_says_where_it_stands(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from glimpse.core.storage.graph_job import GraphJob

    job = GraphJob(VectorIndex(DIM), tmp_path / "g.hnsw", "m")  # not started
    assert job.describe() == "Searches are exact"
    monkeypatch.setattr(GraphJob, "running", property(lambda self: True))
    assert job.describe().startswith("Fast search index: preparing")
    job.progress = Progress("graph", 40, 100, 10.0, 6.0)
    assert job.describe() == "Fast search index: building 40% (searches are exact meanwhile)"
    monkeypatch.setattr(GraphJob, "running", property(lambda self: False))
    job.recall = 0.878
    assert "found 87.8% of the exact results" in job.describe()
    job.error = "MemoryError: "
    assert job.describe() == "Searches are exact: the fast search index could not be built"
