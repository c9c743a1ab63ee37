"""Evaluation plots as PNG files, drawn off-screen.

Figures are built from ``matplotlib.figure.Figure`` with an explicit Agg
canvas instead of ``pyplot``: no global figure registry, no backend chosen by
import order, so this works the same from the CLI, from a GUI worker thread
(where a Qt backend must not be touched) and in headless tests.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from glimpse.evaluation.metrics import complementary_ranks, found_within_curve, summarize

LABEL_TYPES: tuple[str, ...] = ("short", "long")
_DPI = 100


def _save(fig: Figure, path: str | os.PathLike[str]) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)  # attaches itself to fig; savefig then renders with Agg
    fig.savefig(out, format="png", dpi=_DPI)
    return out


def _legend_label(name: str, ranks: npt.NDArray[Any]) -> str:
    """Model name plus the two numbers people ask for first."""
    s = summarize(ranks)
    return f"{name}  (hit@1 {100 * s.hit_at[1]:.1f}%, hit@10 {100 * s.hit_at[10]:.1f}%)"


# Room beyond the gallery size (log axis) and above 100%, so the curve's last
# step (every query found by rank = gallery size) is not drawn on the frame.
_X_MARGIN = 1.3
_Y_TOP = 103.0


def curve_points(ranks: npt.ArrayLike, gallery_size: int) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
    """The found-within curve, carried on past the gallery size so its last step shows."""
    x, y = found_within_curve(ranks, gallery_size)
    end = max(2, gallery_size) * _X_MARGIN
    return np.append(x.astype(np.float64), end), np.append(y, y[-1] if y.size else 0.0)


def _draw_curve(ax: Axes, ranks: npt.ArrayLike, gallery_size: int, **style: Any) -> None:
    x, y = curve_points(ranks, gallery_size)
    ax.step(x, y, where="post", **style)


def _legend_below(ax: Axes) -> None:
    """Legend under the axes: long model names never cover the curves."""
    ax.legend(loc="upper left", bbox_to_anchor=(0.0, -0.14), fontsize="small", frameon=False)


def _style_curve_axes(ax: Axes, gallery_size: int, title: str) -> None:
    ax.set_xscale("log")
    ax.set_xlim(1, max(2, gallery_size) * _X_MARGIN)
    ax.set_ylim(0, _Y_TOP)
    ax.axvline(gallery_size, color="grey", linewidth=0.8, linestyle=":")
    ax.set_xlabel(f"rank (gallery of {gallery_size} photos, dotted line)")
    ax.set_ylabel("% of queries found within rank")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)


def plot_found_within(
    curves: Mapping[str, Mapping[str, npt.ArrayLike]],
    gallery_size: int,
    path: str | os.PathLike[str],
) -> Path:
    """Save :func:`found_within_figure` as PNG."""
    return _save(found_within_figure(curves, gallery_size), path)


def found_within_figure(
    curves: Mapping[str, Mapping[str, npt.ArrayLike]], gallery_size: int
) -> Figure:
    """Cumulative "found within rank" curves, one panel per label type.

    ``curves[model][label_type]`` holds target ranks; panels are "short" and
    "long" side by side, one line per model. A panel with no queries says so
    rather than disappearing, so the layout of reports stays comparable.
    """
    fig = Figure(figsize=(12, 6), layout="constrained")
    axes = fig.subplots(1, len(LABEL_TYPES), sharey=True)
    for ax, label_type in zip(axes, LABEL_TYPES, strict=True):
        drawn = 0
        for model, per_type in curves.items():
            ranks = np.asarray(per_type.get(label_type, []))
            if ranks.size == 0:
                continue
            _draw_curve(ax, ranks, gallery_size, label=_legend_label(model, ranks))
            drawn += 1
        _style_curve_axes(ax, gallery_size, f"{label_type} descriptions")
        if drawn:
            _legend_below(ax)
        else:
            ax.text(0.5, 0.5, "no queries", ha="center", va="center", transform=ax.transAxes)
    fig.suptitle("Known-item search: where does the intended photo appear?")
    return fig


def plot_pair(
    ranks_a: npt.ArrayLike,
    ranks_b: npt.ArrayLike,
    name_a: str,
    name_b: str,
    gallery_size: int,
    path: str | os.PathLike[str],
) -> Path:
    """Compare two models on the same queries: do they fail on the same photos?

    Left: each query's rank under A against its rank under B (log-log, with
    the diagonal); points far from the diagonal are where one model rescues
    the other. Right: both models' curves and the per-query best of the two,
    the ceiling any combination of them could reach.
    """
    a, b = np.asarray(ranks_a), np.asarray(ranks_b)
    best = complementary_ranks(a, b)
    fig = Figure(figsize=(12, 5.5), layout="constrained")
    left, right = fig.subplots(1, 2)
    _draw_scatter(left, a, b, name_a, name_b, gallery_size)
    _draw_curve(right, a, gallery_size, label=_legend_label(name_a, a))
    _draw_curve(right, b, gallery_size, label=_legend_label(name_b, b))
    _draw_curve(
        right, best, gallery_size, label=_legend_label("best of both", best), linestyle="--"
    )
    _style_curve_axes(right, gallery_size, "found within rank")
    _legend_below(right)
    fig.suptitle(f"{name_a} vs {name_b} ({a.size} queries)")
    return _save(fig, path)


def _draw_scatter(
    ax: Axes,
    a: npt.NDArray[Any],
    b: npt.NDArray[Any],
    name_a: str,
    name_b: str,
    gallery_size: int,
) -> None:
    top = max(2, gallery_size)
    ax.scatter(a, b, s=8, alpha=0.35, linewidths=0)
    ax.plot([1, top], [1, top], color="grey", linewidth=1, label="equal rank")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(0.8, top * 1.25)
    ax.set_ylim(0.8, top * 1.25)
    ax.set_aspect("equal")
    ax.set_xlabel(f"rank with {name_a}")
    ax.set_ylabel(f"rank with {name_b}")
    a_better = int(np.sum(a < b))
    b_better = int(np.sum(b < a))
    ax.set_title(
        f"{name_a} better: {a_better}, {name_b} better: {b_better}, tied: {a.size - a_better - b_better}"
    )
    ax.grid(True, which="both", alpha=0.3)


def plot_grid(
    ranks: Mapping[str, npt.ArrayLike],
    gallery_size: int,
    path: str | os.PathLike[str],
    title: str = "",
) -> Path:
    """Every pair of (up to five) models at a glance, as in the known-item study.

    Above the diagonal: rank under the row model (y) against the column model
    (x), with the diagonal line; below it: both models' found-within curves
    and their better-of-two (dashed); on the diagonal: the model's name and
    hit@1/hit@10.
    """
    names = list(ranks)
    n = len(names)
    if not 2 <= n <= 5:
        raise ValueError(f"a grid compares 2-5 models, got {n}")
    fig = Figure(figsize=(3.2 * n, 3.2 * n), layout="constrained")
    axes = np.asarray(fig.subplots(n, n)).reshape(n, n)
    top = max(2, gallery_size)
    for i, row in enumerate(names):
        for j, col in enumerate(names):
            ax = axes[i, j]
            a, b = np.asarray(ranks[row]), np.asarray(ranks[col])
            if i == j:
                ax.axis("off")
                s = summarize(a)
                ax.text(0.5, 0.5, f"{row}\nhit@1 {100 * s.hit_at[1]:.1f}%\nhit@10 {100 * s.hit_at[10]:.1f}%",
                        ha="center", va="center", transform=ax.transAxes, fontsize="small", wrap=True)
            elif i < j:
                ax.scatter(b, a, s=5, alpha=0.35, linewidths=0)
                ax.plot([1, top], [1, top], color="grey", linewidth=1)
                ax.set_xscale("log")
                ax.set_yscale("log")
                ax.set_xlim(0.8, top * 1.25)
                ax.set_ylim(0.8, top * 1.25)
                ax.set_xlabel(col, fontsize="x-small")
                ax.set_ylabel(row, fontsize="x-small")
            else:
                _draw_curve(ax, a, gallery_size, linewidth=1, color="tab:blue")
                _draw_curve(ax, b, gallery_size, linewidth=1, color="tab:orange")
                _draw_curve(ax, complementary_ranks(a, b), gallery_size, linewidth=1, linestyle="--",
                            color="tab:green")
                ax.set_xscale("log")
                ax.set_xlim(1, top * _X_MARGIN)
                ax.set_ylim(0, _Y_TOP)
                ax.set_title(f"blue {row}\norange {col}, dashed: better of two", fontsize="x-small")
            ax.tick_params(labelsize="x-small")
    fig.suptitle(title or "Models compared in pairs: ranks (above), found-within curves (below)")
    return _save(fig, path)
