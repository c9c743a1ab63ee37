"""Weaker matches: the relevance cut-off (core/search/relevance.py) and where it applies."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import SHARED
from glimpse.core.search import fusion, relevance
from glimpse.core.search.ranking import SearchHit

ASSET = Path(__file__).resolve().parent / "assets" / "flickr-small-clip"
LEARNED = f"GlimpseFlickrSmall:{ASSET / 'GlimpseFlickrSmall.pt'}"
FLICKR = SHARED / "data" / "flickr8k-1k"


def _unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_the_spread_gives_each_score_its_z_over_the_whole_library_without_scanning_it() -> None:
    rng = np.random.default_rng(3)
    library = _unit(rng.normal(size=(400, 16)) + rng.normal(size=16))  # not centred, like CLIP's
    spread = relevance.Spread.of(library)
    query = _unit(rng.normal(size=(1, 16)))[0]
    scores = library @ query
    expected = (scores - scores.mean()) / scores.std(ddof=1)
    np.testing.assert_allclose(spread.z(query, scores), expected, rtol=1e-9, atol=1e-9)
    many = _unit(rng.normal(size=(3, 16)))
    grid = many @ library.T
    np.testing.assert_allclose(spread.z(many, grid)[1], spread.z(many[1], grid[1]), rtol=1e-9)


def test_a_spread_is_measured_again_once_the_library_changed_by_a_tenth() -> None:
    spread = relevance.Spread.of(np.eye(4), count=1000)
    assert not spread.stale(1000) and not spread.stale(1099) and not spread.stale(901)
    assert spread.stale(1101) and spread.stale(899)
    assert len(relevance.sample_rows(50, sample=100)) == 50
    rows = relevance.sample_rows(10_000, sample=100)
    assert len(set(rows.tolist())) == 100 and rows.max() < 10_000
    assert (rows == relevance.sample_rows(10_000, sample=100)).all()  # seeded: the same cut each time


def test_calibration_keeps_the_share_of_first_screen_targets_asked_for() -> None:
    rng = np.random.default_rng(0)
    gallery = _unit(rng.normal(size=(300, 24)))
    targets = rng.integers(0, 300, size=200)
    queries = _unit(gallery[targets] + rng.normal(scale=0.6, size=(200, 24)))
    scores = queries @ gallery.T
    own = scores[np.arange(200), targets]
    ranks = (scores > own[:, None]).sum(axis=1) + 1
    shown = ranks <= relevance.FIRST_SCREEN
    z = relevance.Spread.of(gallery).z(queries[shown], own[shown][:, None])[:, 0]
    for kind, values in ((relevance.COSINE, own[shown]), (relevance.Z, z)):
        cut = relevance.calibrate(queries, gallery, targets, ranks, kind=kind)
        assert cut is not None
        kept = float(np.mean(values >= cut))
        assert 0.93 <= kept <= 0.97, (kind, kept)
    # Too few sought photos on the first screen: no cut-off rather than a guess.
    assert relevance.calibrate(queries[:10], gallery, targets[:10], ranks[:10]) is None


def test_a_cut_off_is_a_cosine_or_a_z_over_the_library() -> None:
    rng = np.random.default_rng(1)
    library = _unit(rng.normal(size=(200, 8)))
    spread = relevance.Spread.of(library)
    query = library[0]
    scores = library[:5] @ query
    cosine = relevance.weak_flags(relevance.Cutoff(relevance.COSINE, 0.3), query, scores)
    assert cosine.tolist() == (scores < 0.3).tolist()
    by_z = relevance.weak_flags(relevance.Cutoff(relevance.Z, 1.0), query, scores, spread)
    assert by_z.tolist() == (spread.z(query, scores) < 1.0).tolist()
    assert not relevance.weak_flags(relevance.Cutoff(relevance.Z, 1.0), query, scores).any()  # no spread: none


def _hit(photo_id: int, weak: bool = False, taken: str | None = None) -> SearchHit:
    return SearchHit(photo_id, f"/p/{photo_id}.jpg", 0.0, taken, None, None, None, weak=weak)


def test_weaker_matches_come_after_the_others_in_every_order() -> None:
    hits = [_hit(1, taken="2020"), _hit(2, weak=True, taken="2024"), _hit(3, taken="2010"),
            _hit(4, weak=True, taken="2001")]
    assert [h.photo_id for h in fusion.sort_hits(hits, "best")] == [1, 3, 2, 4]
    assert [h.photo_id for h in fusion.sort_hits(hits, "newest")] == [1, 3, 2, 4]
    assert [h.photo_id for h in fusion.sort_hits(hits, "oldest")] == [3, 1, 4, 2]


def test_random_weights_fold_nothing(library, photo_dir: Path) -> None:  # type: ignore[no-untyped-def]
    assert library.relevance_cutoff() is None
    library.add_folder(photo_dir)
    library.index(only={"scan", "encode"})
    hits = library.search("a red square", k=5)
    assert hits and not any(h.weak for h in hits)


needs_flickr = pytest.mark.skipif(not (FLICKR / "captions.csv").is_file(), reason=f"{FLICKR} is absent")


@pytest.fixture(scope="module")
def learned_library(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from glimpse.core.library import Library

    photos = tmp_path_factory.mktemp("photos")
    for name in sorted(p.name for p in (FLICKR / "images").iterdir())[:120]:
        shutil.copy(FLICKR / "images" / name, photos / name)
    lib = Library(tmp_path_factory.mktemp("lib"), model=LEARNED)
    lib.add_folder(photos)
    lib.index(only={"scan", "encode"})
    yield lib, photos
    lib.close()


@needs_flickr
def test_results_under_the_cut_off_are_marked_weaker_by_their_z(learned_library, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    lib, _ = learned_library
    monkeypatch.delenv("GLIMPSE_RELEVANCE_CUTOFF", raising=False)
    lib.settings.pop("relevance_cutoffs", None)  # not calibrated here yet: the z rule
    assert lib.relevance_cutoff() == relevance.Cutoff(relevance.Z, relevance.DEFAULT_Z)
    hits = lib.search("a dog running on the grass", k=60)
    weak = [h for h in hits if h.weak]
    strong = [h for h in hits if not h.weak]
    assert weak and strong, "a 60-result list of 120 photos holds both"
    assert hits == strong + weak
    spread = lib.spread()
    vector = lib.query_vector(list(lib.plan("a dog running on the grass").meaning))
    z = {h.photo_id: float(spread.z(vector, np.array([h.score]))[0]) for h in hits}
    assert all(z[h.photo_id] < relevance.DEFAULT_Z for h in weak)
    assert all(z[h.photo_id] >= relevance.DEFAULT_Z for h in strong)
    # A cosine calibrated for the model by `glimpse eval` takes over from the z.
    lib.settings["relevance_cutoffs"] = {lib.spec.model_id: 0.55}
    assert lib.relevance_cutoff() == relevance.Cutoff(relevance.COSINE, 0.55)
    hits = lib.search("a dog running on the grass", k=60)
    assert {h.photo_id for h in hits if h.weak} == {h.photo_id for h in hits if h.score < 0.55}
    lib.settings.pop("relevance_cutoffs")
    # The setting moves the line; -inf folds nothing.
    monkeypatch.setenv("GLIMPSE_RELEVANCE_CUTOFF", "-inf")
    assert not any(h.weak for h in lib.search("a dog running on the grass", k=60))


@needs_flickr
def test_eval_calibrates_and_saves_the_models_cut_off(learned_library, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from glimpse.evaluation.runner import run_evaluation

    monkeypatch.delenv("GLIMPSE_RELEVANCE_CUTOFF", raising=False)
    lib, photos = learned_library
    from glimpse.evaluation.labels import import_captions

    names = {p.name for p in photos.iterdir()}
    csv_path = tmp_path / "captions.csv"
    with open(FLICKR / "captions.csv", newline="", encoding="utf-8") as f, \
            open(csv_path, "w", newline="", encoding="utf-8") as out:
        w = csv.writer(out)
        w.writerow(["image", "caption"])
        w.writerows((r["image"], r["caption"]) for r in csv.DictReader(f) if r["image"] in names)
    labels = import_captions(csv_path, tmp_path / "set.csv", photos)
    result = run_evaluation(lib, labels.path, [LEARNED], tmp_path / "out", fuse=False, sync=False)
    assert len(result.cutoffs) == 1
    cut = next(iter(result.cutoffs.values()))
    assert lib.relevance_cutoff() == relevance.Cutoff(relevance.COSINE, pytest.approx(cut))
    saved = json.loads((lib.root / "settings.json").read_text("utf-8"))
    assert saved["relevance_cutoffs"][lib.spec.model_id] == pytest.approx(cut)
    summary = json.loads(result.summary_json.read_text("utf-8"))
    assert summary["metadata"]["relevance_cutoffs"]["models"] == result.cutoffs


def test_the_cli_lists_weaker_matches_after_a_divider(capsys: pytest.CaptureFixture[str]) -> None:
    from glimpse.cli import searching

    def row(n: int, weak: bool) -> dict:
        return {"path": f"/p/{n}.jpg", "score": 0.5 - n / 100, "weak": weak}

    searching._print({"hits": [row(1, False), row(2, False), row(3, True)]}, as_json=False)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith("/p/1.jpg") and lines[1].endswith("/p/2.jpg")
    assert lines[2] == "--- 1 weaker match (under this model's relevance cut-off) ---"
    assert lines[3].endswith("/p/3.jpg")
    searching._print({"hits": [row(1, True)]}, as_json=False)
    assert capsys.readouterr().out.splitlines()[0] == "No close matches; the nearest ones:"
