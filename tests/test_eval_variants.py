"""Prompt templates, ensembles, noisy queries, categories, per-folder galleries, caption import modes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from glimpse.core.encoding.encoder import ModelSpec
from glimpse.core.errors import GlimpseError, LabelSetError
from glimpse.evaluation.breakdowns import by_category, noise_drops
from glimpse.evaluation.labels import HEADER, LabelRow, LabelSet, _caption_queries, utc_now_iso
from glimpse.evaluation.metrics import Query, summarize
from glimpse.evaluation.noise import add_junk, add_typos, perturb
from glimpse.evaluation.prompts import apply_template, check_templates, encode_queries
from glimpse.evaluation.runner import run_evaluation

TINY = "GlimpseTiny:random"
ROWS = [(f"img_0{i}.jpg", f"photo number {i}", "") for i in range(6)]


def write_set(path: Path, rows, categories=None) -> Path:
    label_set = LabelSet.open(path)
    for i, (rel, short, long) in enumerate(rows):
        cat = categories[i] if categories else ""
        label_set.append(LabelRow(rel, "", short, long, "t", utc_now_iso(), category=cat))
    return path


@pytest.fixture
def indexed(library, photo_dir):
    library.add_folder(photo_dir)
    library.index()
    return library


def _expected_ranks(lib, vecs: np.ndarray, rows) -> list[int]:
    ids, gallery = lib.gallery(ModelSpec.parse(TINY))
    gallery = gallery.astype(np.float32)
    gallery /= np.linalg.norm(gallery, axis=1, keepdims=True)
    out = []
    for (rel, _, _), q in zip(rows, vecs, strict=True):
        target = lib.catalog.photo_by_path(str(Path(lib.folder_paths()[0]) / rel)).id
        scores = gallery @ q
        out.append(1 + int(np.sum(scores > scores[list(ids).index(target)])))
    return out


def test_templates_and_ensemble_rank_each_wording(indexed, tmp_path: Path) -> None:
    set_path = write_set(tmp_path / "set.csv", ROWS)
    templates = ["{}", "a photo of {}"]
    result = run_evaluation(indexed, set_path, [TINY], tmp_path / "out", label_types=["short"],
                            templates=templates, ensemble=True)
    rows = [m for m, _ in result.summaries]
    assert rows == [f'{TINY} "{{}}"', f'{TINY} "a photo of {{}}"', f"{TINY} ensemble(2 templates)"]
    enc = indexed.encoder_for(ModelSpec.parse(TINY))
    texts = [r[1] for r in ROWS]
    plain = enc.encode_texts(texts)
    wrapped = enc.encode_texts([f"a photo of {t}" for t in texts])
    mean = plain + wrapped
    mean /= np.linalg.norm(mean, axis=1, keepdims=True)  # ensemble: renormalised mean
    for row, vecs in zip(rows, (plain, wrapped, mean), strict=True):
        want = summarize(np.array(_expected_ranks(indexed, vecs, ROWS)))
        assert result.summaries[(row, "short")].mrr == pytest.approx(want.mrr, abs=1e-6), row


def test_template_errors_are_clear() -> None:
    with pytest.raises(GlimpseError, match="exactly one"):
        check_templates(["a photo of"])
    with pytest.raises(GlimpseError, match="twice"):
        check_templates(["{}", "{}"])
    assert apply_template("a photo of {}", "a {weird} query") == "a photo of a {weird} query"


def test_encode_queries_ensemble_is_unit_mean() -> None:
    class Fake:
        def encode_texts(self, texts):
            return np.array([[1.0, 0.0] if t.startswith("x") else [0.0, 1.0] for t in texts])

    v = encode_queries(Fake(), ["q"], ["x {}", "{}"])
    assert v[0].tolist() == pytest.approx([2**-0.5, 2**-0.5])


def test_noise_is_seeded_and_small() -> None:
    q = "a brown dog running on the beach"
    typo = add_typos(q, seed=1)
    assert typo != q and typo == add_typos(q, seed=1)
    assert len(typo.split(" ")) == len(q.split(" "))
    assert abs(len(typo) - len(q)) <= 2  # two edits for 7 words, each +-1 letter at most
    assert {add_typos(q, seed=s) for s in range(5)} != {typo}
    junk = add_junk(q, seed=1)
    assert junk.startswith(q + " ") and 1 <= len(junk[len(q):].split()) <= 3
    assert perturb("junk", q, 1) == junk
    with pytest.raises(GlimpseError):
        perturb("shout", q)


def test_noise_rows_and_their_drop(indexed, tmp_path: Path) -> None:
    set_path = write_set(tmp_path / "set.csv", ROWS)
    result = run_evaluation(indexed, set_path, [TINY], tmp_path / "out", label_types=["short"],
                            noise="junk", noise_seed=3)
    assert result.label_types == ["short", "short+junk"]
    enc = indexed.encoder_for(ModelSpec.parse(TINY))
    noisy = enc.encode_texts([add_junk(r[1], 3) for r in ROWS])
    want = summarize(np.array(_expected_ranks(indexed, noisy, ROWS)))
    got = result.summaries[(TINY, "short+junk")]
    assert got.hit_at == pytest.approx(want.hit_at)
    (drop,) = result.noise_drops
    clean = result.summaries[(TINY, "short")]
    assert drop["hit_at_drop"]["5"] == pytest.approx(clean.hit_at[5] - want.hit_at[5])


def test_noise_drops_by_hand() -> None:
    s = {("m", "short"): summarize([1, 2, 30]), ("m", "short+typos"): summarize([4, 9, 30])}
    (d,) = noise_drops(s, "typos", ks=(1, 5))
    # hit@1: 1/3 -> 0; hit@5: 2/3 (ranks 1, 2) -> 1/3 (rank 4)
    assert d["hit_at_drop"] == pytest.approx({"1": 1 / 3, "5": 1 / 3})


def test_categories_round_trip_and_break_down(tmp_path: Path) -> None:
    path = tmp_path / "set.csv"
    ls = LabelSet.open(path)
    ls.append(LabelRow("a.jpg", "", "dog", "", "t", "x"))
    assert path.read_text("utf-8").splitlines()[0] == ",".join(HEADER)  # no category yet: 7 columns
    ls.append(LabelRow("b.jpg", "", "joy", "", "t", "x", category="abstract"))
    assert path.read_text("utf-8").splitlines()[0] == ",".join(HEADER) + ",category"
    back = LabelSet.open(path)
    assert [r.category for r in back.rows] == ["", "abstract"]
    queries = {"short": [Query("a", "x", "objects"), Query("b", "y", "abstract"), Query("c", "z", "objects")]}
    cats = by_category({("m", "short"): np.array([1, 4, 10])}, queries)
    assert set(cats) == {("m", "short", "objects"), ("m", "short", "abstract")}
    assert cats[("m", "short", "objects")].mrr == pytest.approx((1 + 1 / 10) / 2)
    assert cats[("m", "short", "abstract")].hit_at[5] == 1.0


def test_per_category_results_in_a_run(indexed, tmp_path: Path) -> None:
    cats = ["objects", "objects", "abstract", "", "abstract", "objects"]
    set_path = write_set(tmp_path / "set.csv", ROWS, cats)
    result = run_evaluation(indexed, set_path, [TINY], tmp_path / "out", label_types=["short"])
    enc = indexed.encoder_for(ModelSpec.parse(TINY))
    ranks = np.array(_expected_ranks(indexed, enc.encode_texts([r[1] for r in ROWS]), ROWS))
    objects = summarize(ranks[[0, 1, 5]])
    assert result.by_category[(TINY, "short", "objects")].mrr == pytest.approx(objects.mrr)
    assert result.by_category[(TINY, "short", "abstract")].n_queries == 2


def test_folder_limits_the_gallery(indexed, photo_dir: Path, tmp_path: Path) -> None:
    rows = [("trip/img_06.jpg", "a trip photo", ""), ("img_00.jpg", "not in the trip", "")]
    set_path = write_set(tmp_path / "set.csv", rows)
    result = run_evaluation(indexed, set_path, [TINY], tmp_path / "out", label_types=["short"],
                            folder=photo_dir / "trip")
    assert result.gallery_size == 2
    assert result.n_queries == {"short": 1}
    assert result.summaries[(TINY, "short")].median_rank <= 2
    assert [s.reason for s in result.skipped] == [
        "photo has no vector for every model (could not be encoded?)"]
    with pytest.raises(GlimpseError, match="No indexed photo"):
        run_evaluation(indexed, set_path, [TINY], tmp_path / "o2", folder=tmp_path / "elsewhere")


def test_caption_import_modes_by_hand() -> None:
    pairs = [("a.jpg", "a dog"), ("a.jpg", "a brown dog on sand"), ("a.jpg", "dog at the sea"),
             ("b.jpg", "cat")]
    assert _caption_queries(pairs, "each")[1] == ("a.jpg", "a brown dog on sand", "")
    assert _caption_queries(pairs, "longest") == [
        ("a.jpg", "a dog", "a brown dog on sand"), ("b.jpg", "cat", "")]
    assert _caption_queries(pairs, "joined")[0] == ("a.jpg", "a dog", "a brown dog on sand dog at the sea")
    assert _caption_queries(pairs, "none") == [("a.jpg", "a dog", ""), ("b.jpg", "cat", "")]
    with pytest.raises(LabelSetError):
        _caption_queries(pairs, "all")


def test_three_models_get_a_grid_plot(indexed, tmp_path: Path) -> None:
    from test_eval_runner import perturbed_checkpoint

    models = [TINY] + [f"GlimpseTiny:{perturbed_checkpoint(tmp_path / f'p{s}.pt', seed=s)}" for s in (1, 2)]
    set_path = write_set(tmp_path / "set.csv", ROWS)
    result = run_evaluation(indexed, set_path, models, tmp_path / "out", label_types=["short"], fuse=False)
    grids = [p for p in result.plots if p.name.startswith("grid_top3_")]
    assert [p.name for p in grids] == ["grid_top3_short.png"]
    assert grids[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # 3 pairs of better-of-two rows, in the table and JSON.
    assert sum(m.startswith("min(") for m, _ in result.summaries) == 3
