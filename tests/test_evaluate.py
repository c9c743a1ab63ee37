"""Known-item metrics checked against values worked out by hand."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from glimpse.core.errors import LabelSetError
from glimpse.evaluation import metrics as evaluate
from glimpse.evaluation.metrics import (
    Query,
    all_item_ranks,
    complementary_ranks,
    exact_ranks,
    found_within_curve,
    reciprocal_rank_fusion,
    rrf_ranks_from_vectors,
    rrf_target_ranks,
    summarize,
    visible_hit_ks,
    write_report,
)
from glimpse.evaluation.plots import plot_found_within, plot_pair

RANKS = np.array([1, 2, 5, 11, 100])


def test_summary_matches_hand_computed_values() -> None:
    s = summarize(RANKS)
    assert s.n_queries == 5
    # hits: rank<=1 {1}; <=5,<=10 {1,2,5}; <=20,50 {+11}; <=100 all
    assert s.hit_at == pytest.approx({1: 1 / 5, 5: 3 / 5, 10: 3 / 5, 20: 4 / 5, 50: 4 / 5, 100: 1.0})
    assert s.median_rank == 5
    assert s.mean_rank == pytest.approx((1 + 2 + 5 + 11 + 100) / 5)
    assert s.mrr == pytest.approx((1 + 1 / 2 + 1 / 5 + 1 / 11 + 1 / 100) / 5)


def test_summary_to_dict_is_json_ready() -> None:
    d = summarize(RANKS).to_dict()
    back = json.loads(json.dumps(d))
    assert back["hit_at"]["10"] == pytest.approx(0.6)
    assert back["n_queries"] == 5
    # The judged-set names (precision, recall, F1, nDCG) never label a known-item measure.
    assert set(back) == {"n_queries", "hit_at", "mrr", "median_rank", "mean_rank"}


def test_visible_hit_ks_hide_cut_offs_beyond_the_gallery() -> None:
    assert visible_hit_ks(1000) == (1, 5, 10, 20, 50, 100)
    assert visible_hit_ks(50) == (1, 5, 10, 20, 50)
    assert visible_hit_ks(12) == (1, 5, 10)
    assert visible_hit_ks(1) == (1,)


def test_summarize_without_queries_is_a_user_error() -> None:
    with pytest.raises(LabelSetError):
        summarize(np.array([], dtype=np.int64))


def test_summarize_rejects_rank_zero() -> None:
    with pytest.raises(ValueError):
        summarize(np.array([0, 1]))


def test_exact_ranks_on_hand_built_vectors() -> None:
    gallery = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8], [-1.0, 0.0]])
    queries = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    targets = np.array([0, 2, 3, 0])
    # q0 scores [1, 0, .6, -1]: target 1 is best -> 1
    # q1 same scores, target .6: only 1 is higher -> 2
    # q2 scores [0, 1, .8, 0]: target 0 (tied with row 0, tie not counted), 1 and .8 higher -> 3
    # q3 same scores, target row 0 also 0 -> 3 (ties resolve in the target's favour)
    assert exact_ranks(queries, gallery, targets).tolist() == [1, 2, 3, 3]


def test_exact_ranks_chunked_matches_naive(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    q = rng.standard_normal((37, 8)).astype(np.float32)
    g = rng.standard_normal((53, 8)).astype(np.float32)
    t = rng.integers(0, 53, size=37)
    scores = q @ g.T
    naive = np.array([1 + np.sum(scores[i] > scores[i, t[i]]) for i in range(37)])
    monkeypatch.setattr(evaluate, "_CHUNK_BYTES", 53 * 8 * 5)  # 5 queries per chunk
    assert exact_ranks(q, g, t).tolist() == naive.tolist()


def test_exact_ranks_rejects_nan_and_bad_targets() -> None:
    g = np.eye(3)
    with pytest.raises(ValueError):
        exact_ranks(np.array([[np.nan, 0, 0]]), g, np.array([0]))
    with pytest.raises(ValueError):
        exact_ranks(np.eye(3)[:1], g, np.array([3]))
    with pytest.raises(ValueError):
        exact_ranks(np.eye(2), g, np.array([0, 1]))


def test_found_within_curve() -> None:
    x, y = found_within_curve(RANKS, 10)
    assert x.tolist() == list(range(1, 11))
    # found within 1: {1}=20%; 2..4: {1,2}=40%; 5..10: {1,2,5}=60%
    assert y.tolist() == pytest.approx([20, 40, 40, 40, 60, 60, 60, 60, 60, 60])
    assert found_within_curve(RANKS, 100)[1][-1] == pytest.approx(100)


def test_complementary_ranks_is_per_query_minimum() -> None:
    assert complementary_ranks([1, 7, 30], [4, 2, 30]).tolist() == [1, 2, 30]
    with pytest.raises(ValueError):
        complementary_ranks([1, 2], [1])


def test_all_item_ranks_uses_the_same_tie_rule() -> None:
    # scores .9 .5 .5 .1: the two .5s both have one item above them -> rank 2
    assert all_item_ranks(np.array([[0.9, 0.5, 0.5, 0.1]])).tolist() == [[1, 2, 2, 4]]


def test_rrf_hand_computed() -> None:
    # model A ranks the 3 photos [1, 2, 3]; model B ranks them [3, 1, 2]
    a = np.tile([0.9, 0.5, 0.1], (3, 1))
    b = np.tile([0.2, 0.8, 0.7], (3, 1))
    targets = np.array([0, 1, 2])
    # k=0 keeps the arithmetic readable: fused = 1/ra + 1/rb
    fused = [1 / 1 + 1 / 3, 1 / 2 + 1 / 1, 1 / 3 + 1 / 2]  # 1.33, 1.5, 0.83
    assert fused[1] > fused[0] > fused[2]
    assert rrf_target_ranks(a, b, targets, k=0).tolist() == [2, 1, 3]
    # k=60: 1/61+1/63 vs 1/62+1/61 vs 1/63+1/62, same order
    assert rrf_target_ranks(a, b, targets).tolist() == [2, 1, 3]


def test_rrf_from_vectors_matches_score_matrices(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(1)
    qa, ga = rng.standard_normal((20, 4)), rng.standard_normal((30, 4))
    qb, gb = rng.standard_normal((20, 6)), rng.standard_normal((30, 6))
    t = rng.integers(0, 30, size=20)
    whole = reciprocal_rank_fusion([qa @ ga.T, qb @ gb.T], t)
    monkeypatch.setattr(evaluate, "_CHUNK_BYTES", 30 * 8 * 4 * 3)  # 3 queries per chunk
    assert rrf_ranks_from_vectors([(qa, ga), (qb, gb)], t).tolist() == whole.tolist()
    assert reciprocal_rank_fusion([qa @ ga.T, qb @ gb.T], t).tolist() == whole.tolist()


def test_rrf_of_one_model_is_that_model() -> None:
    rng = np.random.default_rng(2)
    s = rng.standard_normal((10, 25))
    t = rng.integers(0, 25, size=10)
    direct = np.array([1 + np.sum(s[i] > s[i, t[i]]) for i in range(10)])
    assert reciprocal_rank_fusion([s], t).tolist() == direct.tolist()


def test_write_report(tmp_path: Path) -> None:
    short = [Query("a/1.jpg", "=cmd"), Query("b/2.jpg", "dog, on a beach")]
    long = [Query("a/1.jpg", "long text")]
    results = {
        ("clip-a", "short"): np.array([1, 12]),
        ("clip-b", "short"): np.array([3, 2]),
        ("clip-a", "long"): np.array([4]),
    }
    files = write_report(
        tmp_path / "rep", results, {"short": short, "long": long}, 500, {"seed": 7}
    )
    doc = json.loads(files.summary_json.read_text(encoding="utf-8"))
    assert doc["search"] == "exact (brute-force inner product, no ANN)"
    assert doc["gallery_size"] == 500
    assert doc["metadata"] == {"seed": 7}
    by_key = {(r["model"], r["label_type"]): r for r in doc["results"]}
    assert by_key[("clip-a", "short")]["hit_at"]["1"] == pytest.approx(0.5)
    assert by_key[("clip-a", "long")]["median_rank"] == 4
    with open(files.ranks_csv, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["model", "label_type", "query_index", "path", "query", "rank"]
    assert len(rows) == 1 + 2 + 2 + 1
    assert rows[1] == ["clip-a", "short", "0", "a/1.jpg", "'=cmd", "1"]  # escaped
    assert rows[2][4] == "dog, on a beach"
    assert files.summaries[("clip-b", "short")].mrr == pytest.approx((1 / 3 + 1 / 2) / 2)


def test_write_report_rejects_misaligned_ranks(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_report(tmp_path, {("m", "short"): np.array([1, 2])}, {"short": [Query("x", "y")]}, 10)


def _png_size(path: Path) -> tuple[int, int]:
    with Image.open(path) as im:
        assert im.format == "PNG"
        return im.size


def test_plot_found_within(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    curves = {
        "clip-a": {"short": rng.integers(1, 1000, 200), "long": rng.integers(1, 300, 200)},
        "clip-b": {"short": rng.integers(1, 1000, 200)},  # no long labels for this one
    }
    out = plot_found_within(curves, 1000, tmp_path / "plots" / "found.png")
    assert out == tmp_path / "plots" / "found.png"
    assert out.stat().st_size > 20_000
    assert _png_size(out) == (1200, 600)


def test_plot_found_within_with_an_empty_panel(tmp_path: Path) -> None:
    out = plot_found_within({"m": {"short": np.array([1, 5, 9])}}, 10, tmp_path / "f.png")
    assert out.stat().st_size > 10_000


def test_plot_pair(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    a = rng.integers(1, 5000, 300)
    b = np.maximum(1, a + rng.integers(-200, 200, 300))
    out = plot_pair(a, b, "clip-a", "clip-b", 5000, tmp_path / "pair.png")
    assert out.stat().st_size > 20_000
    assert _png_size(out) == (1200, 550)


def test_curve_carries_its_last_step_past_the_frame() -> None:
    from glimpse.evaluation.plots import curve_points

    x, y = curve_points(np.array([1, 3, 10]), 10)
    assert x[-2] == 10 and y[-2] == pytest.approx(100.0)  # the last query, found at rank = gallery
    assert x[-1] > 10 and y[-1] == y[-2]  # drawn on past the gallery size, inside the axes


def test_found_within_axes_show_the_last_step_and_legends_do_not_cover_curves() -> None:
    from glimpse.evaluation.plots import found_within_figure

    long_name = "ViT-H-14-quickgelu:dfn5b-with-a-very-long-checkpoint-name.safetensors"
    fig = found_within_figure({long_name: {"short": np.array([1, 2, 50]), "long": np.array([3, 50])}}, 50)
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    for ax in fig.axes:
        assert ax.get_xlim()[1] > 50 and ax.get_ylim()[1] > 100
        legend = ax.get_legend()
        assert legend is not None
        box, frame = legend.get_window_extent(renderer), ax.get_window_extent(renderer)
        assert box.y1 <= frame.y0  # entirely below the plotting area


def test_plot_grid_of_five(tmp_path: Path) -> None:
    from glimpse.evaluation.plots import plot_grid

    rng = np.random.default_rng(0)
    ranks = {f"m{i}": rng.integers(1, 200, size=40) for i in range(5)}
    out = plot_grid(ranks, 200, tmp_path / "grid.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 20000
    with pytest.raises(ValueError):
        plot_grid({"a": np.array([1])}, 5, tmp_path / "g1.png")


def test_top_rows_by_hand() -> None:
    from glimpse.evaluation.metrics import top_rows

    gallery = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8], [-1.0, 0.0]])
    queries = np.array([[1.0, 0.0], [0.0, 1.0]])
    # q0 scores [1, 0, .6, -1] -> rows 0, 2, 1; q1 scores [0, 1, .8, 0] -> 1, 2, then 0 before 3 (tie)
    assert top_rows(queries, gallery, 3).tolist() == [[0, 2, 1], [1, 2, 0]]
    assert top_rows(queries, gallery, 10).shape == (2, 4)
