"""Known-item results broken down: per query category, under noise, and for the better of two models.

Pure functions of the target ranks the runner computed, so each can be
checked by hand: a category's summary is :func:`metrics.summarize` over its
queries' ranks; the noise drop is clean hit@k minus noisy hit@k of the same
queries; the complementary ranks are the per-query minimum of two models.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import combinations
from typing import Any

import numpy as np

from glimpse.evaluation.metrics import HIT_KS, Query, Summary, complementary_ranks, summarize


def noisy_label_type(label_type: str, kind: str) -> str:
    """Name of the label type holding the perturbed copies, e.g. ``short+typos``."""
    return f"{label_type}+{kind}"


def complementary_name(a: str, b: str) -> str:
    return f"min({a},{b})"


def add_complementary(
    results: dict[tuple[str, str], np.ndarray], models: Sequence[str], label_types: Sequence[str]
) -> list[str]:
    """Add the better-of-two ranks of every model pair to ``results``; return their names."""
    added: list[str] = []
    for a, b in combinations(models, 2):
        name = complementary_name(a, b)
        for lt in label_types:
            results[(name, lt)] = complementary_ranks(results[(a, lt)], results[(b, lt)])
        added.append(name)
    return added


def by_category(
    results: Mapping[tuple[str, str], np.ndarray], queries: Mapping[str, Sequence[Query]]
) -> dict[tuple[str, str, str], Summary]:
    """(model, label type, category) -> summary over that category's queries; uncategorised left out."""
    out: dict[tuple[str, str, str], Summary] = {}
    for (model, lt), ranks in results.items():
        cats = np.array([q.category for q in queries[lt]], dtype=object)
        for c in sorted({str(x) for x in cats if x}):
            out[(model, lt, c)] = summarize(np.asarray(ranks)[cats == c])
    return out


def noise_drops(
    summaries: Mapping[tuple[str, str], Summary], kind: str, ks: Sequence[int] = HIT_KS
) -> list[dict[str, Any]]:
    """For each model and clean label type with a noisy twin: hit@k and MRR before and after."""
    out: list[dict[str, Any]] = []
    for (model, lt), clean in summaries.items():
        noisy = summaries.get((model, noisy_label_type(lt, kind)))
        if noisy is None:
            continue
        out.append({
            "model": model,
            "label_type": lt,
            "noise": kind,
            "hit_at_clean": {str(k): clean.hit_at[k] for k in ks},
            "hit_at_noisy": {str(k): noisy.hit_at[k] for k in ks},
            "hit_at_drop": {str(k): clean.hit_at[k] - noisy.hit_at[k] for k in ks},
            "mrr_clean": clean.mrr,
            "mrr_noisy": noisy.mrr,
        })
    return out
