"""Relevance feedback and near-duplicate folding: the geometry, the library, the CLI."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import TINY_MODEL, make_photo
from glimpse.core.errors import QueryError
from glimpse.core.search import duplicates, feedback


def _unit(*xs: float) -> np.ndarray:
    v = np.array(xs, dtype=np.float32)
    return v / np.linalg.norm(v)


def test_refine_moves_toward_liked_and_away_from_unliked() -> None:
    q, liked, unliked = _unit(1, 0, 0), _unit(0, 1, 0), _unit(0, 0, 1)
    r = feedback.refine(q, [liked], [unliked])
    assert np.isclose(np.linalg.norm(r), 1.0)
    assert r @ liked > q @ liked and r @ unliked < q @ unliked and r @ q > 0.7
    assert np.allclose(feedback.refine(q), q)  # no marks, no change
    with pytest.raises(QueryError, match="cancels"):
        feedback.refine(q, unliked=[q], weights=feedback.FeedbackWeights(1, 0, 1))


def test_collapse_folds_near_duplicates_and_bursts_keeping_rank_order() -> None:
    a, b, c = _unit(1, 0, 0), _unit(0, 1, 0), _unit(0, 0, 1)
    a2 = _unit(1, 0.05, 0)  # the same scene, resized: cosine 0.9988
    b_burst = _unit(0.5, 1, 0)  # a burst shot: alike (0.89), not a duplicate
    vectors = np.stack([a, b, a2, c, b_burst])
    times = [None, "2024-06-01T10:00:00", None, None, "2024-06-01T10:00:04"]
    assert duplicates.collapse(vectors, times) == [[0, 2], [1, 4], [3]]
    later = times[:4] + ["2024-06-01T11:00:00"]  # an hour later it is another photo
    assert duplicates.collapse(vectors, later) == [[0, 2], [1], [3], [4]]


def test_find_groups_keeps_the_best_copy_and_lists_the_rest() -> None:
    ids = np.array([1, 2, 3, 4])
    matrix = np.stack([_unit(1, 0), _unit(1, 0.01), _unit(0, 1), _unit(1, 0.02)])

    def neighbours(vec: np.ndarray, k: int) -> list[tuple[int, float]]:
        scores = matrix @ vec
        return [(int(ids[i]), float(scores[i])) for i in np.argsort(-scores)[:k]]

    pixels = {1: 100, 2: 400, 3: 50, 4: 200}
    groups = duplicates.find_groups(ids, matrix, neighbours, {}, lambda i: (pixels[i],))
    assert len(groups) == 1
    g = groups[0]
    assert g.photo_ids == [1, 2, 4] and g.keep == 2 and g.others == [1, 4]
    assert 0.999 < g.similarity <= 1.0


def test_block_neighbours_find_the_same_groups_as_a_scan_per_photo() -> None:
    """Exact neighbours a block of photos at a time (the library's way) must group
    exactly as one exact search per photo does, across block boundaries."""
    rng = np.random.default_rng(5)
    centres = rng.normal(size=(40, 32))
    matrix = centres[rng.integers(0, 40, 500)] + rng.normal(scale=0.03, size=(500, 32))
    matrix = (matrix / np.linalg.norm(matrix, axis=1, keepdims=True)).astype(np.float32)
    ids = np.arange(10, 510)

    def neighbours(vec: np.ndarray, k: int) -> list[tuple[int, float]]:
        scores = matrix @ vec
        return [(int(ids[i]), float(scores[i])) for i in np.argsort(-scores)[:k]]

    per_photo = duplicates.find_groups(ids, matrix, neighbours, {}, lambda i: (i,))
    blocks = list(duplicates.nearest_in_blocks(ids, matrix, 10, block_bytes=4 * 500 * 37))
    assert len(blocks) == 500 and [i for i, _ in blocks[3]][0] == 13  # itself first
    by_blocks = duplicates.find_groups(ids, matrix, None, {}, lambda i: (i,))
    assert len(per_photo) > 5
    assert [g.photo_ids for g in by_blocks] == [g.photo_ids for g in per_photo]


@pytest.fixture
def copies(photo_dir: Path) -> Path:
    """Two exact copies of one photo (same content: the same stored vector)."""
    shutil.copy(photo_dir / "img_00.jpg", photo_dir / "copy_a.jpg")
    shutil.copy(photo_dir / "img_00.jpg", photo_dir / "trip" / "copy_b.jpg")
    return photo_dir


# Only copies: the tiny random model puts distinct photos up to 0.993 apart.
EXACT = duplicates.Rules(cosine=0.999, burst_cosine=2.0)


def test_library_folds_copies_into_one_result_and_lists_the_group(library, copies) -> None:
    library.add_folder(copies)
    library.index()
    plain = library.similar(copies / "img_00.jpg", k=20)
    folded = library.similar(copies / "img_00.jpg", k=20, collapse=EXACT)
    assert len(plain) == 10 and len(folded) == 8
    first = folded[0]
    names = sorted(Path(h.path).name for h in (first, *first.duplicates))
    assert names == ["copy_a.jpg", "copy_b.jpg", "img_00.jpg"]
    groups = library.duplicate_groups(EXACT)
    assert len(groups) == 1 and len(groups[0].photo_ids) == 3 and len(groups[0].others) == 2
    assert library.default_collapse() is None  # random weights: vectors all look alike


def test_liking_a_result_raises_it(library, photo_dir) -> None:
    library.add_folder(photo_dir)
    library.index()
    before = library.search("a photo", k=8)
    liked = before[-1]
    after = library.search("a photo", k=8, like=[liked.path])
    rank = {h.photo_id: n for n, h in enumerate(after)}
    score = {h.photo_id: h.score for h in after}
    assert score[liked.photo_id] > liked.score
    assert rank[liked.photo_id] <= len(before) - 1
    unliked = library.search("a photo", k=8, unlike=[before[0].path])
    assert {h.photo_id: h.score for h in unliked}[before[0].photo_id] < before[0].score


def _cli(*args: str, lib: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "glimpse", *args, "--library", str(lib), "--model", TINY_MODEL],
        capture_output=True, text=True, timeout=300,
    )


def test_cli_duplicates_and_feedback(tmp_path: Path, copies: Path) -> None:
    lib = tmp_path / "lib"
    assert _cli("index", str(copies), lib=lib).returncode == 0
    proc = _cli("duplicates", "--threshold", "0.999", lib=lib)
    assert proc.returncode == 0, proc.stderr
    assert "1 groups of near-duplicates; 2 photos are extra copies" in proc.stdout
    assert "Nothing is deleted" in proc.stdout and proc.stdout.count("   other  ") == 2
    assert all(p.exists() for p in copies.rglob("*.jpg"))  # it never deletes
    proc = _cli("search", "a photo", "--like", str(copies / "img_03.jpg"),
                "--unlike", str(copies / "img_04.jpg"), "-k", "3", lib=lib)
    assert proc.returncode == 0, proc.stderr
    assert len([line for line in proc.stdout.splitlines() if line.strip()[:1].isdigit()]) == 3
    make_photo(tmp_path / "elsewhere.jpg", seed=99)  # not in the library: encoded on the fly
    proc = _cli("search", "a photo", "--like", str(tmp_path / "elsewhere.jpg"), lib=lib)
    assert proc.returncode == 0, proc.stderr
