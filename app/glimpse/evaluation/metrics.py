"""Known-item evaluation: how far down the results is the one photo the user meant?

Each query (a label's short or long text) has exactly one target photo in the
gallery. The only thing measured is the target's *rank* under exact search,
so model quality is not mixed up with approximate-index recall. Every metric
below is a function of those ranks alone, which keeps them cheap to recompute
and easy to check by hand.

Rank convention (used everywhere here): ``rank = 1 + number of gallery items
scoring strictly higher than the target``. Ties therefore resolve in the
target's favour; with float embeddings exact ties are rare, and this rule
makes the result independent of gallery order.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from glimpse.core.errors import LabelSetError
from glimpse.core.storage.files import write_text_atomically
from glimpse.evaluation.labels import escape_cell

# hit@k cut-offs of the known-item measures. The judged-set measures (P/R/F1@k,
# graded nDCG@k) live in glimpse.evaluation.judged under their own names.
HIT_KS: tuple[int, ...] = (1, 5, 10, 20, 50, 100)
SEARCH_DESCRIPTION = "exact (brute-force inner product, no ANN)"
RRF_K = 60

# Working memory for one chunk of the [queries x gallery] score matrix. Keeps a
# 100k-photo gallery evaluation within a few hundred MB whatever Q is.
_CHUNK_BYTES = 64 * 1024 * 1024

FloatArray = npt.NDArray[np.floating[Any]]
IntArray = npt.NDArray[np.int64]


def _chunks(n_rows: int, n_cols: int, bytes_per_cell: int = 8) -> Iterator[slice]:
    """Row slices whose [rows x n_cols] working arrays stay within _CHUNK_BYTES."""
    step = max(1, _CHUNK_BYTES // max(1, n_cols * bytes_per_cell))
    for start in range(0, n_rows, step):
        yield slice(start, min(n_rows, start + step))


def _check_targets(target_rows: npt.ArrayLike, n_queries: int, n_gallery: int) -> IntArray:
    targets = np.asarray(target_rows)
    if targets.shape != (n_queries,):
        raise ValueError(f"target_rows must have shape ({n_queries},), got {targets.shape}")
    if not np.issubdtype(targets.dtype, np.integer):
        raise ValueError("target_rows must be integer row indices into the gallery")
    if n_queries and (targets.min() < 0 or targets.max() >= n_gallery):
        raise ValueError(f"target_rows must lie in [0, {n_gallery})")
    return targets.astype(np.int64)


def _check_matrix(name: str, a: npt.ArrayLike) -> FloatArray:
    arr = np.asarray(a)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        # NaN compares false with everything and would silently give rank 1.
        raise ValueError(f"{name} contains NaN or infinity")
    return arr


def _target_ranks_from_scores(scores: FloatArray, targets: IntArray) -> IntArray:
    """1 + count of strictly higher scores, per row (see module docstring)."""
    target_scores = scores[np.arange(scores.shape[0]), targets]
    return (scores > target_scores[:, None]).sum(axis=1).astype(np.int64) + 1


def exact_ranks(
    query_vecs: npt.ArrayLike,
    gallery_vecs: npt.ArrayLike,
    target_rows: npt.ArrayLike,
) -> IntArray:
    """Rank (1-based) of each query's target under exact inner-product search.

    Brute force on purpose: evaluation must measure the model, not the ANN
    index. Queries are processed in chunks so memory stays bounded for large
    galleries. Ties count in the target's favour (strictly-greater + 1).
    """
    q = _check_matrix("query_vecs", query_vecs)
    g = _check_matrix("gallery_vecs", gallery_vecs)
    if q.shape[1] != g.shape[1]:
        raise ValueError(f"dimension mismatch: queries {q.shape[1]}, gallery {g.shape[1]}")
    targets = _check_targets(target_rows, q.shape[0], g.shape[0])
    ranks = np.empty(q.shape[0], dtype=np.int64)
    for sl in _chunks(q.shape[0], g.shape[0]):
        ranks[sl] = _target_ranks_from_scores(q[sl] @ g.T, targets[sl])
    return ranks


def top_rows(query_vecs: npt.ArrayLike, gallery_vecs: npt.ArrayLike, k: int) -> IntArray:
    """Gallery rows of each query's ``k`` best scores, best first (ties: lower row first)."""
    q = _check_matrix("query_vecs", query_vecs)
    g = _check_matrix("gallery_vecs", gallery_vecs)
    k = min(k, g.shape[0])
    out = np.empty((q.shape[0], k), dtype=np.int64)
    for sl in _chunks(q.shape[0], g.shape[0]):
        out[sl] = np.argsort(-(q[sl] @ g.T), axis=1, kind="stable")[:, :k]
    return out


def _check_ranks(ranks: npt.ArrayLike) -> IntArray:
    r = np.asarray(ranks)
    if r.ndim != 1:
        raise ValueError(f"ranks must be 1-D, got shape {r.shape}")
    if r.size and (not np.issubdtype(r.dtype, np.integer) or r.min() < 1):
        raise ValueError("ranks must be integers >= 1")
    return r.astype(np.int64)


@dataclass(frozen=True)
class Summary:
    """Known-item measures over a set of queries, each with exactly one intended photo.

    Functions of the target rank ``r`` alone; named for what they are, so
    they are never mistaken for the judged-set measures of the photo-search
    thesis (P/R/F1@k and graded nDCG over many relevant photos, see
    :mod:`glimpse.evaluation.judged`):

    - ``hit_at[k]`` = share of queries with ``r <= k`` ("found within k");
    - ``mrr`` = mean of 1/r over all ranks (not cut off);
    - ``median_rank``, ``mean_rank`` over the raw ranks.
    """

    n_queries: int
    hit_at: dict[int, float]
    median_rank: float
    mean_rank: float
    mrr: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: plain floats, and the k of each measure as a string key."""
        return {
            "n_queries": self.n_queries,
            "hit_at": {str(k): float(v) for k, v in sorted(self.hit_at.items())},
            "mrr": float(self.mrr),
            "median_rank": float(self.median_rank),
            "mean_rank": float(self.mean_rank),
        }


def visible_hit_ks(gallery_size: int) -> tuple[int, ...]:
    """The hit@k cut-offs worth showing: for k above the gallery size hit@k is 100% by construction."""
    return tuple(k for k in HIT_KS if k <= gallery_size) or HIT_KS[:1]


def summarize(ranks: npt.ArrayLike) -> Summary:
    """All measures of :class:`Summary` from target ranks (see its docstring)."""
    r = _check_ranks(ranks)
    if r.size == 0:
        raise LabelSetError("There are no labeled queries to evaluate; label some photos first.")
    rf = r.astype(np.float64)
    return Summary(
        n_queries=int(r.size),
        hit_at={k: float((r <= k).mean()) for k in HIT_KS},
        median_rank=float(np.median(rf)),
        mean_rank=float(rf.mean()),
        mrr=float((1.0 / rf).mean()),
    )


def found_within_curve(
    ranks: npt.ArrayLike, max_rank: int
) -> tuple[IntArray, npt.NDArray[np.float64]]:
    """Cumulative curve: x = 1..max_rank, y = % of queries whose target rank <= x.

    The whole curve, not a few recall@k points, is what shows how far a user
    would have to scroll.
    """
    r = np.sort(_check_ranks(ranks))
    if max_rank < 1:
        raise ValueError("max_rank must be >= 1")
    x = np.arange(1, max_rank + 1, dtype=np.int64)
    if r.size == 0:
        return x, np.zeros(max_rank, dtype=np.float64)
    y = np.searchsorted(r, x, side="right") * (100.0 / r.size)
    return x, y.astype(np.float64)


def complementary_ranks(ranks_a: npt.ArrayLike, ranks_b: npt.ArrayLike) -> IntArray:
    """Per-query best of two models: the ceiling for any way of combining them."""
    a, b = _check_ranks(ranks_a), _check_ranks(ranks_b)
    if a.shape != b.shape:
        raise ValueError(f"rank arrays differ in length: {a.shape} vs {b.shape}")
    return np.minimum(a, b)


def all_item_ranks(scores: FloatArray) -> IntArray:
    """Rank of every gallery item per query row, same tie rule as target ranks.

    ``rank[i, j] = 1 + #{j' : scores[i, j'] > scores[i, j]}``.
    """
    s = np.asarray(scores)
    n = s.shape[1]
    out = np.empty(s.shape, dtype=np.int64)
    for i in range(s.shape[0]):
        ascending = np.sort(s[i])
        out[i] = n - np.searchsorted(ascending, s[i], side="right") + 1
    return out


def _rrf_chunk(score_chunks: Sequence[FloatArray], targets: IntArray, k: int) -> IntArray:
    fused = np.zeros(score_chunks[0].shape, dtype=np.float64)
    for scores in score_chunks:
        fused += 1.0 / (k + all_item_ranks(scores))
    return _target_ranks_from_scores(fused, targets)


def reciprocal_rank_fusion(
    score_matrices: Sequence[npt.ArrayLike],
    target_rows: npt.ArrayLike,
    k: int = RRF_K,
) -> IntArray:
    """Target ranks after fusing several models with reciprocal rank fusion.

    Each model ranks the whole gallery per query; an item's fused score is
    ``sum over models of 1 / (k + rank)``, and the target's fused rank follows
    the same strictly-greater + 1 rule. RRF needs no score calibration between
    models, which is why it is the first fusion to try. ``k=60`` is the
    constant of Cormack et al. (2009). Queries are processed in chunks.
    """
    mats = [_check_matrix(f"score_matrices[{i}]", m) for i, m in enumerate(score_matrices)]
    if not mats:
        raise ValueError("need at least one score matrix")
    if any(m.shape != mats[0].shape for m in mats):
        raise ValueError(f"score matrices differ in shape: {[m.shape for m in mats]}")
    if k < 0:
        raise ValueError("k must be >= 0")
    n_q, n_g = mats[0].shape
    targets = _check_targets(target_rows, n_q, n_g)
    ranks = np.empty(n_q, dtype=np.int64)
    for sl in _chunks(n_q, n_g, bytes_per_cell=8 * (len(mats) + 2)):
        ranks[sl] = _rrf_chunk([m[sl] for m in mats], targets[sl], k)
    return ranks


def rrf_target_ranks(
    scores_a: npt.ArrayLike,
    scores_b: npt.ArrayLike,
    target_rows: npt.ArrayLike,
    k: int = RRF_K,
) -> IntArray:
    """Two-model :func:`reciprocal_rank_fusion` (the usual comparison case)."""
    return reciprocal_rank_fusion([scores_a, scores_b], target_rows, k=k)


def rrf_ranks_from_vectors(
    models: Sequence[tuple[npt.ArrayLike, npt.ArrayLike]],
    target_rows: npt.ArrayLike,
    k: int = RRF_K,
) -> IntArray:
    """RRF target ranks from ``(query_vecs, gallery_vecs)`` per model.

    Same result as :func:`reciprocal_rank_fusion` on the inner-product score
    matrices, but the full [Q x N] matrices are never held at once.
    """
    pairs = [
        (_check_matrix(f"models[{i}] queries", q), _check_matrix(f"models[{i}] gallery", g))
        for i, (q, g) in enumerate(models)
    ]
    if not pairs:
        raise ValueError("need at least one model")
    n_q, n_g = pairs[0][0].shape[0], pairs[0][1].shape[0]
    for q, g in pairs:
        if q.shape[0] != n_q or g.shape[0] != n_g or q.shape[1] != g.shape[1]:
            raise ValueError("every model needs the same queries and gallery, in the same order")
    targets = _check_targets(target_rows, n_q, n_g)
    ranks = np.empty(n_q, dtype=np.int64)
    for sl in _chunks(n_q, n_g, bytes_per_cell=8 * (len(pairs) + 2)):
        ranks[sl] = _rrf_chunk([q[sl] @ g.T for q, g in pairs], targets[sl], k)
    return ranks


# --- reports -----------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    """What a row of the per-query CSV says about one query besides its rank."""

    path: str
    text: str
    category: str = ""  # the label set's optional category column


@dataclass(frozen=True)
class ReportFiles:
    """Where :func:`write_report` put things, and the summaries it computed."""

    ranks_csv: Path
    summary_json: Path
    summaries: dict[tuple[str, str], Summary]


RANKS_CSV = "ranks.csv"
SUMMARY_JSON = "summary.json"
RANKS_HEADER = ("model", "label_type", "query_index", "path", "query", "rank")


def write_report(
    out_dir: str | os.PathLike[str],
    results: Mapping[tuple[str, str], npt.ArrayLike],
    queries: Mapping[str, Sequence[Query]],
    gallery_size: int,
    metadata: Mapping[str, Any] | None = None,
) -> ReportFiles:
    """Write ``ranks.csv`` (one line per model x query) and ``summary.json``.

    ``results[(model, label_type)]`` holds the target ranks for the queries
    ``queries[label_type]``, in the same order. ``model`` may name a
    combination too (e.g. ``"min(a,b)"`` from :func:`complementary_ranks` or
    ``"rrf(a,b)"``). The CSV is in long form so a spreadsheet can pivot it;
    query text is escaped against formula injection like label sets are.
    ``metadata`` (model versions, label set path, seed...) is copied into the
    JSON as given and must be JSON-serialisable.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    checked = _check_results(results, queries)
    summaries = {key: summarize(r) for key, r in checked.items()}
    ranks_csv = out / RANKS_CSV
    summary_json = out / SUMMARY_JSON
    write_text_atomically(ranks_csv, _ranks_csv_text(checked, queries))
    doc = _summary_doc(summaries, gallery_size, metadata)
    write_text_atomically(summary_json, json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    return ReportFiles(ranks_csv, summary_json, summaries)


def _check_results(
    results: Mapping[tuple[str, str], npt.ArrayLike],
    queries: Mapping[str, Sequence[Query]],
) -> dict[tuple[str, str], IntArray]:
    checked: dict[tuple[str, str], IntArray] = {}
    for (model, label_type), ranks in results.items():
        if label_type not in queries:
            raise ValueError(f"no queries given for label type {label_type!r}")
        r = _check_ranks(ranks)
        if r.size != len(queries[label_type]):
            raise ValueError(
                f"{model}/{label_type}: {r.size} ranks for {len(queries[label_type])} queries"
            )
        checked[(model, label_type)] = r
    return checked


def _ranks_csv_text(
    results: Mapping[tuple[str, str], IntArray], queries: Mapping[str, Sequence[Query]]
) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")  # CRLF: see labels._encode_rows
    writer.writerow(RANKS_HEADER)
    for (model, label_type), ranks in results.items():
        for i, (q, rank) in enumerate(zip(queries[label_type], ranks.tolist(), strict=True)):
            cells = [model, label_type, str(i), q.path, q.text, str(rank)]
            writer.writerow([escape_cell(c) for c in cells])
    return buf.getvalue()


def _summary_doc(
    summaries: Mapping[tuple[str, str], Summary],
    gallery_size: int,
    metadata: Mapping[str, Any] | None,
) -> dict[str, Any]:
    return {
        "search": SEARCH_DESCRIPTION,
        "rank_rule": "1 + number of gallery items scoring strictly higher than the target",
        "gallery_size": int(gallery_size),
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "metadata": dict(metadata or {}),
        "results": [
            {"model": model, "label_type": label_type, **s.to_dict()}
            for (model, label_type), s in summaries.items()
        ],
    }
