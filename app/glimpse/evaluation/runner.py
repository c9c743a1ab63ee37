"""Run a known-item evaluation of one or more models on a label set, end to end.

This is the job behind ``glimpse eval`` and the GUI's Evaluate tab: it ties
the library (photos, encoders, stored vectors) to the pure metric code in
:mod:`glimpse.evaluation.metrics` and the plots in :mod:`glimpse.evaluation.plots`.

Choices that make the numbers comparable and honest:

- ranks come from exact (brute-force) search over the stored vectors, never
  from the HNSW index, so they measure the model and not the approximation;
- every model is ranked over the *same* gallery: the photos that every model
  has a vector for, so one model's failed encodes cannot flatter it;
- a query whose photo cannot be found in that gallery, or whose label text
  is empty for a label type, is counted as skipped with its reason, never
  silently dropped;
- fusion of two models is reciprocal rank fusion (k=60), and "beats" means a
  higher mean reciprocal rank than the better of the two models alone on the
  same queries.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from itertools import combinations
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from glimpse.core.encoding.encoder import ModelSpec
from glimpse.core.errors import GlimpseError, LabelSetError
from glimpse.core.jobs import CancelToken, Progress
from glimpse.core.search import relevance
from glimpse.core.storage.files import write_text_atomically
from glimpse.evaluation import metrics, plots
from glimpse.evaluation.breakdowns import (
    add_complementary,
    by_category,
    noise_drops,
    noisy_label_type,
)
from glimpse.evaluation.labeling import resolve_label_path
from glimpse.evaluation.labels import STATUS_LABELED, LabelSet
from glimpse.evaluation.metrics import Query, Summary
from glimpse.evaluation.noise import NOISE_KINDS, perturb
from glimpse.evaluation.prompts import AS_TYPED, check_templates, encode_queries

if TYPE_CHECKING:
    from glimpse.core.library import Library

LABEL_TYPES: tuple[str, ...] = ("short", "long")
FOUND_WITHIN_PNG = "found_within.png"
GRID_MODELS = 5
EXAMPLE_TOP = 5  # first results kept per query for the Evaluate tab's query list  # the known-item study's grid: the five best models


class EvaluationCancelled(GlimpseError):
    """The user stopped an evaluation; vectors encoded so far are kept for next time."""


@dataclass(frozen=True)
class EvalProgress:
    """Where the evaluation is: a step message, and the encoder's own progress if encoding."""

    step: str
    model_index: int  # 0-based; -1 when the step is not about one model
    n_models: int
    inner: Progress | None = None  # scanning or encoding progress, when in that step


ProgressFn = Callable[[EvalProgress], None]


@dataclass(frozen=True)
class SkippedQuery:
    label_type: str
    path: str
    reason: str


@dataclass(frozen=True)
class FusionVerdict:
    """Did fusing two models beat the better of them on one label type?"""

    label_type: str
    model_a: str
    model_b: str
    fused: str
    best_single: str
    fused_mrr: float
    best_single_mrr: float
    fused_hit_at_10: float
    best_single_hit_at_10: float

    @property
    def beats(self) -> bool:
        return self.fused_mrr > self.best_single_mrr

    def to_dict(self) -> dict[str, Any]:
        return {
            "label_type": self.label_type,
            "models": [self.model_a, self.model_b],
            "fused": self.fused,
            "best_single": self.best_single,
            "fused_mrr": self.fused_mrr,
            "best_single_mrr": self.best_single_mrr,
            "fused_hit_at_10": self.fused_hit_at_10,
            "best_single_hit_at_10": self.best_single_hit_at_10,
            "beats_best_single": self.beats,
        }

    def sentence(self) -> str:
        verdict = "beats" if self.beats else "does not beat"
        return (
            f"{self.label_type}: {self.fused} {verdict} the better single model "
            f"{self.best_single} (MRR {self.fused_mrr:.4f} vs {self.best_single_mrr:.4f}; "
            f"hit@10 {100 * self.fused_hit_at_10:.1f}% vs "
            f"{100 * self.best_single_hit_at_10:.1f}%)"
        )


@dataclass(frozen=True)
class QueryExample:
    """One query's outcome, to see why it failed: the intended photo, its rank, what came first."""

    query: str
    target: str  # path of the intended photo on disk
    rank: int
    top: tuple[str, ...]  # paths of the first results, best first


@dataclass
class EvalResult:
    """What an evaluation produced: files on disk and the numbers in them."""

    out_dir: Path
    ranks_csv: Path
    summary_json: Path
    plots: list[Path]
    models: list[str]  # display names, in the order given
    label_types: list[str]  # those that had at least one query
    gallery_size: int
    n_queries: dict[str, int]
    summaries: dict[tuple[str, str], Summary]
    fusion: list[FusionVerdict] = field(default_factory=list)
    skipped: list[SkippedQuery] = field(default_factory=list)
    search: str = metrics.SEARCH_DESCRIPTION
    by_category: dict[tuple[str, str, str], Summary] = field(default_factory=dict)
    noise_drops: list[dict[str, Any]] = field(default_factory=list)
    timings_s: dict[str, float] = field(default_factory=dict)
    examples: dict[tuple[str, str], list[QueryExample]] = field(default_factory=dict)
    cutoffs: dict[str, float] = field(default_factory=dict)  # model -> relevance cut-off (a cosine)

    def skip_counts(self) -> dict[tuple[str, str], int]:
        """(label type, reason) -> how many queries were skipped for it."""
        return dict(Counter((s.label_type, s.reason) for s in self.skipped))


def raise_if_cancelled(cancel: CancelToken | None) -> None:
    if cancel is not None and cancel.cancelled:
        raise EvaluationCancelled(
            "Evaluation stopped; the vectors encoded so far are kept, so running it "
            "again continues where it left off."
        )


def display_names(specs: Sequence[ModelSpec]) -> list[str]:
    """Short, unique names for reports: a checkpoint is named by its file, not its full path."""
    names: list[str] = []
    for spec in specs:
        base = f"{spec.arch}:{spec.checkpoint.name}" if spec.checkpoint else str(spec)
        name, n = base, 2
        while name in names:
            name, n = f"{base}#{n}", n + 1
        names.append(name)
    return names


def checked_specs(model_specs: Sequence[ModelSpec | str]) -> list[ModelSpec]:
    """Parsed model specs, at least one, none listed twice."""
    specs = [s if isinstance(s, ModelSpec) else ModelSpec.parse(s) for s in model_specs]
    if not specs:
        raise GlimpseError("Name at least one model to evaluate.")
    ids_seen: dict[str, ModelSpec] = {}
    for spec in specs:
        if spec.model_id in ids_seen:
            raise GlimpseError(f"{spec} and {ids_seen[spec.model_id]} are the same model; list it once.")
        ids_seen[spec.model_id] = spec
    return specs


def run_evaluation(
    library: Library,
    label_set_path: str | os.PathLike[str],
    model_specs: Sequence[ModelSpec | str],
    out_dir: str | os.PathLike[str],
    label_types: Sequence[str] = LABEL_TYPES,
    fuse: bool = True,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
    sync: bool = True,
    folder: str | os.PathLike[str] | None = None,
    templates: Sequence[str] | None = None,
    ensemble: bool = False,
    noise: str | None = None,
    noise_seed: int = 0,
) -> EvalResult:
    """Evaluate every model on every label type; write ranks, summary and plots to ``out_dir``.

    ``sync`` scans the library folders first so photos added since the last
    index run (e.g. by a caption import) are encoded too. ``folder`` ranks
    within the photos under that folder only.

    ``templates`` ranks every model once per prompt template ("{}" = as typed),
    and ``ensemble`` adds the mean of the template embeddings; each wording is
    a row named ``MODEL "TEMPLATE"``. ``noise`` (``typos`` or ``junk``) adds a
    label type ``LT+NOISE`` with every query perturbed (seeded by
    ``noise_seed``) and reports the drop. Model pairs are compared (fusion,
    better-of-two, plots) on each model's first wording.
    """
    specs = checked_specs(model_specs)
    wordings = _wordings(templates, ensemble)
    if noise is not None and noise not in NOISE_KINDS:
        raise GlimpseError(f"Noise must be one of {list(NOISE_KINDS)}, not {noise!r}.")
    bad = [t for t in label_types if t not in LABEL_TYPES]
    if bad or not label_types:
        raise GlimpseError(f"Label types must be among {list(LABEL_TYPES)}, not {list(label_types)}.")
    names = display_names(specs)
    label_set = LabelSet.open(label_set_path)
    report = progress or (lambda p: None)
    n = len(specs)

    def check_cancel() -> None:
        raise_if_cancelled(cancel)

    t0 = time.perf_counter()
    ids, galleries = prepare_galleries(library, specs, names, report, cancel, sync, folder)
    t_encode = time.perf_counter() - t0
    row_of = {int(pid): r for r, pid in enumerate(ids.tolist())}
    queries, targets, skipped = _queries(library, label_set, label_types, row_of)
    if noise is not None:
        for lt in list(queries):
            noisy = noisy_label_type(lt, noise)
            queries[noisy] = [replace(q, text=perturb(noise, q.text, noise_seed)) for q in queries[lt]]
            targets[noisy] = targets[lt]

    results: dict[tuple[str, str], np.ndarray] = {}
    query_vecs: dict[tuple[str, str], np.ndarray] = {}
    first: dict[str, str] = {}  # model -> the row name of its first wording
    top: dict[tuple[str, str], np.ndarray] = {}
    t_queries = t_rank = 0.0
    for i, (spec, name) in enumerate(zip(specs, names, strict=True)):
        report(EvalProgress(f"Ranking queries with {name} (exact search)", i, n))
        encoder = library.encoder_for(spec)
        for label, wording in wordings:
            row = name if label is None else f"{name} {label}"
            first.setdefault(name, row)
            for lt, qs in queries.items():
                check_cancel()
                t0 = time.perf_counter()
                vecs = encode_queries(encoder, [q.text for q in qs], wording)
                t1 = time.perf_counter()
                query_vecs[(row, lt)] = vecs
                results[(row, lt)] = metrics.exact_ranks(vecs, galleries[name], targets[lt])
                t_queries, t_rank = t_queries + t1 - t0, t_rank + time.perf_counter() - t1
                top[(row, lt)] = metrics.top_rows(vecs, galleries[name], EXAMPLE_TOP)

    cutoffs = _calibrate_cutoffs(library, specs, names, first, queries, query_vecs, galleries,
                                 targets, results)

    fusion: list[FusionVerdict] = []
    if fuse and n >= 2:
        for ma, mb in combinations(names, 2):
            a, b = first[ma], first[mb]
            fused = f"rrf({a},{b})"
            for lt in queries:
                check_cancel()
                report(EvalProgress(f"Fusing {a} and {b} ({lt})", -1, n))
                results[(fused, lt)] = metrics.rrf_ranks_from_vectors(
                    [(query_vecs[(a, lt)], galleries[ma]), (query_vecs[(b, lt)], galleries[mb])],
                    targets[lt],
                )
                fusion.append(_verdict(lt, a, b, fused, results))
    pair_models = [first[m] for m in names]
    complementary = add_complementary(results, pair_models, list(queries))

    report(EvalProgress("Writing report and plots", -1, n))
    out = Path(out_dir)
    metadata = _metadata(library, label_set.path, specs, names, queries, skipped, fusion, fuse)
    # Wall-clock seconds of this run, for comparing models' cost (encoding is
    # only what was not cached from earlier runs).
    metadata["timings"] = {
        "scan_and_encode_photos_s": round(t_encode, 3),
        "encode_queries_s": round(t_queries, 3),
        "rank_queries_s": round(t_rank, 3),
    }
    metadata["relevance_cutoffs"] = {
        "means": f"per model, the cosine (core/search/relevance.py) keeping {relevance.KEEP:.0%} of the "
                 f"sought photos ranked in the top {relevance.FIRST_SCREEN}; saved for search",
        "models": cutoffs,
    }
    if templates is not None:
        metadata["templates"] = {"templates": list(templates), "ensemble": ensemble}
    metadata["complementary"] = {
        "means": "per query, the better (lower) rank of the two models: the ceiling of any combination",
        "rows": complementary,
    }
    categories = by_category(results, queries)
    metadata["by_category"] = [
        {"model": m, "label_type": lt, "category": c, **s.to_dict()} for (m, lt, c), s in categories.items()
    ]
    files = metrics.write_report(out, results, queries, len(ids), metadata)
    drops = noise_drops(files.summaries, noise) if noise is not None else []
    if drops:
        _add_to_summary(files.summary_json, "noise", {"kind": noise, "seed": noise_seed, "drops": drops})
    plotted = {k: v for k, v in results.items() if k[0] not in set(complementary)}
    plot_paths = _plots(out, pair_models, [lt for lt in queries if lt in LABEL_TYPES], plotted, len(ids))
    return EvalResult(
        out_dir=out,
        ranks_csv=files.ranks_csv,
        summary_json=files.summary_json,
        plots=plot_paths,
        models=names,
        label_types=list(queries),
        gallery_size=len(ids),
        n_queries={lt: len(qs) for lt, qs in queries.items()},
        summaries=files.summaries,
        fusion=fusion,
        skipped=skipped,
        by_category=categories,
        noise_drops=drops,
        timings_s=metadata["timings"],
        examples=_examples(library, ids, queries, targets, results, top),
        cutoffs=cutoffs,
    )


def _calibrate_cutoffs(
    library: Library, specs: Sequence[ModelSpec], names: Sequence[str], first: dict[str, str],
    queries: dict[str, list[Any]], query_vecs: dict[tuple[str, str], np.ndarray],
    galleries: dict[str, np.ndarray], targets: dict[str, np.ndarray],
    results: dict[tuple[str, str], np.ndarray],
) -> dict[str, float]:
    """Each model's relevance cut-off from this set's queries (every label type, the
    model's first wording), remembered by the library for its searches; a model with
    random weights, or too few sought photos on the first screen, gets none."""
    cutoffs: dict[str, float] = {}
    for spec, name in zip(specs, names, strict=True):
        row = first[name]
        kinds = [lt for lt in queries if lt in LABEL_TYPES and (row, lt) in query_vecs]
        if spec.is_random or not kinds:
            continue
        cut = relevance.calibrate(
            np.concatenate([query_vecs[(row, lt)] for lt in kinds]), galleries[name],
            np.concatenate([targets[lt] for lt in kinds]),
            np.concatenate([results[(row, lt)] for lt in kinds]))
        if cut is not None:
            cutoffs[name] = cut
            library.save_relevance_cutoff(spec, cut)
    return cutoffs


def _examples(
    library: Library,
    ids: np.ndarray,
    queries: dict[str, list[Query]],
    targets: dict[str, np.ndarray],
    results: dict[tuple[str, str], np.ndarray],
    top: dict[tuple[str, str], np.ndarray],
) -> dict[tuple[str, str], list[QueryExample]]:
    """Per model row and label type: every query's intended photo, rank and first results."""
    path_of = {p.id: p.path for p in library.indexed_photos()}
    paths = [path_of.get(int(i), f"photo {int(i)}") for i in ids.tolist()]
    out: dict[tuple[str, str], list[QueryExample]] = {}
    for (row, lt), rows in top.items():
        out[(row, lt)] = [
            QueryExample(q.text, paths[int(t)], int(r), tuple(paths[j] for j in best))
            for q, t, r, best in zip(queries[lt], targets[lt].tolist(), results[(row, lt)].tolist(),
                                     rows.tolist(), strict=True)
        ]
    return out


def _wordings(templates: Sequence[str] | None, ensemble: bool) -> list[tuple[str | None, list[str]]]:
    """(row label, templates to average) per wording to rank; label None = the plain model row."""
    if templates is None:
        if ensemble:
            raise GlimpseError("--ensemble needs --templates (the templates to average).")
        return [(None, [AS_TYPED])]
    checked = check_templates(templates)
    out: list[tuple[str | None, list[str]]] = [(f'"{t}"', [t]) for t in checked]
    if ensemble:
        if len(checked) < 2:
            raise GlimpseError("--ensemble averages several templates; give at least two.")
        out.append((f"ensemble({len(checked)} templates)", checked))
    return out


def _add_to_summary(path: Path, key: str, value: Any) -> None:
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc[key] = value
    write_text_atomically(path, json.dumps(doc, indent=2, ensure_ascii=False) + "\n")


def prepare_galleries(
    library: Library,
    specs: Sequence[ModelSpec],
    names: Sequence[str],
    report: ProgressFn,
    cancel: CancelToken | None,
    sync: bool = True,
    folder: str | os.PathLike[str] | None = None,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Scan (if ``sync``), encode the library with every model, and gather the common gallery.

    ``folder`` limits the gallery to the photos under that folder (one data set
    among several in a library); every model is still ranked over the same photos.
    """
    n = len(specs)
    if sync:
        report(EvalProgress("Scanning library folders", -1, n))
        library.sync(lambda p: report(EvalProgress("Scanning library folders", -1, n, p)), cancel)
        raise_if_cancelled(cancel)
    for i, (spec, name) in enumerate(zip(specs, names, strict=True)):
        step = f"Encoding photos with {name} ({i + 1}/{n})"
        report(EvalProgress(step, i, n))

        def encode_progress(p: Progress, step: str = step, i: int = i) -> None:
            report(EvalProgress(step, i, n, p))

        library.encode(encode_progress, cancel, spec)
        raise_if_cancelled(cancel)
    report(EvalProgress("Ranking queries (exact search)", -1, n))
    ids, galleries = _common_gallery(library, specs, names)
    if folder is not None:
        ids, galleries = _within_folder(library, ids, galleries, folder)
    return ids, galleries


def _within_folder(
    library: Library, ids: np.ndarray, galleries: dict[str, np.ndarray], folder: str | os.PathLike[str]
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    root = os.path.abspath(os.fspath(folder)).rstrip(os.sep) + os.sep
    inside = {p.id for p in library.indexed_photos() if p.path.startswith(root)}
    keep = np.fromiter((int(i) in inside for i in ids.tolist()), dtype=bool, count=ids.size)
    if not keep.any():
        raise GlimpseError(f"No indexed photo of the gallery lies under {folder}.")
    return ids[keep], {name: g[keep] for name, g in galleries.items()}


def _common_gallery(
    library: Library, specs: Sequence[ModelSpec], names: Sequence[str]
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Photo ids every model has a vector for, and each model's unit vectors in that order."""
    per_model = {name: library.gallery(spec) for spec, name in zip(specs, names, strict=True)}
    common: np.ndarray | None = None
    for ids, _ in per_model.values():
        common = ids if common is None else np.intersect1d(common, ids)
    assert common is not None
    if common.size == 0:
        raise GlimpseError(
            "No photo has vectors for every model; add and index a folder with the photos "
            "of the label set (e.g. `glimpse labels import ... --images DIR`)."
        )
    galleries: dict[str, np.ndarray] = {}
    for name, (ids, mat) in per_model.items():
        rows = np.searchsorted(ids, common)  # catalog returns ids sorted ascending
        g = mat[rows].astype(np.float32)
        # Stored as float16: renormalise so inner product is cosine again.
        g /= np.maximum(np.linalg.norm(g, axis=1, keepdims=True), 1e-12)
        galleries[name] = g
    return common, galleries


def _queries(
    library: Library,
    label_set: LabelSet,
    label_types: Sequence[str],
    row_of: dict[int, int],
) -> tuple[dict[str, list[Query]], dict[str, np.ndarray], list[SkippedQuery]]:
    """Turn labeled rows into queries with gallery target rows; record every skip and why."""
    queries: dict[str, list[Query]] = {lt: [] for lt in label_types}
    targets: dict[str, list[int]] = {lt: [] for lt in label_types}
    skipped: list[SkippedQuery] = []
    resolved: dict[tuple[str, str], int | None | str] = {}
    for row in label_set.rows:
        if row.status != STATUS_LABELED:
            continue
        key = (row.path, row.fingerprint)
        if key not in resolved:
            photo = resolve_label_path(library, row.path, row.fingerprint)
            if photo is None:
                resolved[key] = "photo not found in the library"
            elif photo.id not in row_of:
                resolved[key] = "photo has no vector for every model (could not be encoded?)"
            else:
                resolved[key] = row_of[photo.id]
        target = resolved[key]
        for lt in label_types:
            text = row.short if lt == "short" else row.long
            if isinstance(target, str):
                skipped.append(SkippedQuery(lt, row.path, target))
            elif not text.strip():
                skipped.append(SkippedQuery(lt, row.path, f"empty {lt} label"))
            else:
                assert isinstance(target, int)
                queries[lt].append(Query(row.path, text, row.category))
                targets[lt].append(target)
    kept = {lt: qs for lt, qs in queries.items() if qs}
    if not kept:
        reasons = Counter(s.reason for s in skipped)
        detail = "; ".join(f"{r} ({c})" for r, c in reasons.most_common()) or "it has no labeled rows"
        raise LabelSetError(f"Label set {label_set.path} gives no query to evaluate: {detail}.")
    return kept, {lt: np.asarray(targets[lt], dtype=np.int64) for lt in kept}, skipped


def _verdict(
    lt: str, a: str, b: str, fused: str, results: dict[tuple[str, str], np.ndarray]
) -> FusionVerdict:
    sa, sb, sf = (metrics.summarize(results[(m, lt)]) for m in (a, b, fused))
    best, sbest = (a, sa) if sa.mrr >= sb.mrr else (b, sb)
    return FusionVerdict(
        lt, a, b, fused, best, sf.mrr, sbest.mrr, sf.hit_at[10], sbest.hit_at[10]
    )


def _metadata(
    library: Library,
    label_set_path: Path,
    specs: Sequence[ModelSpec],
    names: Sequence[str],
    queries: dict[str, list[Query]],
    skipped: Sequence[SkippedQuery],
    fusion: Sequence[FusionVerdict],
    fuse: bool,
) -> dict[str, Any]:
    return {
        "label_set": str(label_set_path),
        "library": str(library.root),
        "models": [
            {"name": name, "spec": str(spec), "model_id": spec.model_id, "random_weights": spec.is_random}
            for spec, name in zip(specs, names, strict=True)
        ],
        "gallery": "indexed photos that every listed model has a vector for",
        "n_queries": {lt: len(qs) for lt, qs in queries.items()},
        "skipped": [
            {"label_type": lt, "reason": reason, "count": count}
            for (lt, reason), count in sorted(Counter((s.label_type, s.reason) for s in skipped).items())
        ],
        "fusion": {
            "method": f"reciprocal rank fusion, k={metrics.RRF_K}" if fuse else "off",
            "beats_means": "higher MRR than the better of the two models alone",
            "pairs": [v.to_dict() for v in fusion],
        },
    }


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "model"


def _plots(
    out: Path,
    names: Sequence[str],
    label_types: Sequence[str],
    results: dict[tuple[str, str], np.ndarray],
    gallery_size: int,
) -> list[Path]:
    """One cumulative-curve figure for all models (and fusions), one pair figure per pair and label type."""
    curves: dict[str, dict[str, np.ndarray]] = {}
    for (model, lt), ranks in results.items():
        curves.setdefault(model, {})[lt] = ranks
    paths = [plots.plot_found_within(curves, gallery_size, out / FOUND_WITHIN_PNG)]
    for i, j in combinations(range(len(names)), 2):
        a, b = names[i], names[j]
        for lt in label_types:
            path = out / f"pair_{i + 1}-{j + 1}_{_safe(a)}_vs_{_safe(b)}_{lt}.png"
            paths.append(
                plots.plot_pair(results[(a, lt)], results[(b, lt)], a, b, gallery_size, path)
            )
    if len(names) >= 3:  # two models are already one pair figure
        for lt in label_types:
            best = sorted(names, key=lambda m: -metrics.summarize(results[(m, lt)]).mrr)[:GRID_MODELS]
            paths.append(plots.plot_grid({m: results[(m, lt)] for m in best}, gallery_size,
                                         out / f"grid_top{len(best)}_{lt}.png",
                                         f"Best {len(best)} models by MRR, {lt} labels"))
    return paths
