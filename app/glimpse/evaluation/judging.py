"""Judging pooled results, and evaluating models against the judged set.

`glimpse judge SET` and the Label tab's judging mode: for each query of a
label set, the top ``POOL_DEPTH`` photos of every model are pooled (union),
shuffled per query with a seed, and shown without saying which model found
them, so the judge cannot favour one. Each grade is saved at once; photos
already graded for a query are never offered again, so a session resumes.

`glimpse eval SET --judged FILE` ranks the same queries with each model and
computes the measures of :mod:`glimpse.evaluation.judged`, overall and per
query category (the label set's optional ``category`` column).
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from glimpse.core.encoding.encoder import ModelSpec
from glimpse.core.errors import LabelSetError
from glimpse.core.jobs import CancelToken
from glimpse.core.storage.files import write_text_atomically
from glimpse.evaluation import judged as J
from glimpse.evaluation.labeling import relative_to_root
from glimpse.evaluation.labels import STATUS_LABELED, LabelSet
from glimpse.evaluation.prompts import AS_TYPED, encode_queries
from glimpse.evaluation.runner import (
    EvalProgress,
    ProgressFn,
    checked_specs,
    display_names,
    prepare_galleries,
    raise_if_cancelled,
)

if TYPE_CHECKING:
    from glimpse.core.library import Library

JUDGED_SUMMARY_JSON = "judged_summary.json"
ALL = "all"


def label_set_queries(
    label_set_path: str | os.PathLike[str], label_types: Sequence[str] = ("short",)
) -> dict[str, str]:
    """Distinct query texts of a label set, in file order -> their category ('' if none)."""
    out: dict[str, str] = {}
    for row in LabelSet.open(label_set_path).rows:
        if row.status != STATUS_LABELED:
            continue
        for lt in label_types:
            text = (row.short if lt == "short" else row.long).strip()
            if text and text not in out:
                out[text] = row.category
    if not out:
        raise LabelSetError(f"Label set {label_set_path} has no labeled query to judge.")
    return out


@dataclass(frozen=True)
class RankedGallery:
    """Each model's top results per query, as library-relative image paths (as judged sets store them)."""

    models: list[str]
    top: dict[str, dict[str, list[str]]]  # model -> query -> image paths, best first
    abs_path: dict[str, str]  # image path -> file on disk, for showing it
    gallery_size: int
    encode_s: float
    rank_s: float


def rank_queries(
    library: Library,
    queries: Sequence[str],
    model_specs: Sequence[ModelSpec | str],
    depth: int = J.POOL_DEPTH,
    templates: Sequence[str] = (AS_TYPED,),
    folder: str | os.PathLike[str] | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
    sync: bool = True,
) -> RankedGallery:
    """Top ``depth`` photos of every model for every query, by exact search over the common gallery."""
    specs = checked_specs(model_specs)
    names = display_names(specs)
    report = progress or (lambda p: None)
    t0 = time.perf_counter()
    ids, galleries = prepare_galleries(library, specs, names, report, cancel, sync, folder)
    encode_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    roots = sorted(library.folder_paths())
    rel_of: dict[int, str] = {}
    abs_of: dict[str, str] = {}
    wanted = {int(i) for i in ids.tolist()}
    for photo in library.indexed_photos():
        found = relative_to_root(photo.path, roots) if photo.id in wanted else None
        if found is not None:
            rel_of[photo.id] = found[1]
            abs_of.setdefault(found[1], photo.path)
    rel_rows = [rel_of.get(int(i), "") for i in ids.tolist()]
    top: dict[str, dict[str, list[str]]] = {}
    for i, (spec, name) in enumerate(zip(specs, names, strict=True)):
        report(EvalProgress(f"Ranking queries with {name} (exact search)", i, len(specs)))
        raise_if_cancelled(cancel)
        qv = encode_queries(library.encoder_for(spec), list(queries), templates)
        scores = qv @ galleries[name].T
        k = min(depth, scores.shape[1])
        # Stable sort on -score: ties keep gallery order, so results are reproducible.
        order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        top[name] = {
            q: [rel_rows[j] for j in row if rel_rows[j]]
            for q, row in zip(queries, order.tolist(), strict=True)
        }
    return RankedGallery(names, top, abs_of, int(ids.size), encode_s, time.perf_counter() - t0)


# --- judging -------------------------------------------------------------------


@dataclass(frozen=True)
class JudgeItem:
    """One (query, photo) pair to grade; which model found it is deliberately not here."""

    query: str
    image: str  # library-relative path, as stored
    abs_path: str | None


def pool(ranked: RankedGallery, queries: Sequence[str], seed: int = 0) -> list[JudgeItem]:
    """The union of every model's top results per query, shuffled per query (seeded)."""
    items: list[JudgeItem] = []
    for q in queries:
        images = sorted({img for name in ranked.models for img in ranked.top[name].get(q, [])})
        # Seeded per query, so the order is the same on resume whatever was judged since.
        random.Random(f"{seed}\0{q}").shuffle(images)
        items += [JudgeItem(q, img, ranked.abs_path.get(img)) for img in images]
    return items


class JudgingSession:
    """Grades pooled pairs one at a time into a judged set; already graded pairs are skipped."""

    def __init__(self, judged: J.JudgedSet, items: Sequence[JudgeItem]) -> None:
        self.judged = judged
        self.total = len(items)
        self._pending = [it for it in items if (it.query, it.image) not in judged.grades]
        self._skipped: list[JudgeItem] = []

    @property
    def current(self) -> JudgeItem | None:
        return self._pending[0] if self._pending else None

    @property
    def done(self) -> int:
        return self.total - len(self._pending) - len(self._skipped)

    def grade(self, grade: int) -> JudgeItem:
        item = self._require_current()
        self.judged.add(item.query, item.image, J.check_grade(grade))
        self._pending.pop(0)
        return item

    def skip(self) -> None:
        """Leave this pair ungraded for now (it is offered again next session)."""
        self._skipped.append(self._require_current())
        self._pending.pop(0)

    def _require_current(self) -> JudgeItem:
        if not self._pending:
            raise LabelSetError("Every pooled photo has been judged; nothing is shown.")
        return self._pending[0]


def start_judging(
    library: Library,
    label_set_path: str | os.PathLike[str],
    judged_path: str | os.PathLike[str],
    model_specs: Sequence[ModelSpec | str],
    label_types: Sequence[str] = ("short",),
    depth: int = J.POOL_DEPTH,
    seed: int = 0,
    folder: str | os.PathLike[str] | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> JudgingSession:
    """Rank the label set's queries with every model, pool the results and open the judged set."""
    queries = list(label_set_queries(label_set_path, label_types))
    ranked = rank_queries(library, queries, model_specs, depth, folder=folder, progress=progress, cancel=cancel)
    return JudgingSession(J.JudgedSet.open(judged_path), pool(ranked, queries, seed))


# --- evaluation against a judged set ---------------------------------------------


@dataclass
class JudgedResult:
    summary_json: Path
    models: list[str]
    relevant_grade: int
    gallery_size: int
    summaries: dict[tuple[str, str], J.JudgedSummary]  # (model, category or "all")
    categories: list[str] = field(default_factory=list)
    timings_s: dict[str, float] = field(default_factory=dict)


def judged_measures(
    ranked: RankedGallery,
    judgments: Mapping[str, Mapping[str, int]],
    categories: Mapping[str, str],
    relevant_grade: int,
) -> dict[tuple[str, str], J.JudgedSummary]:
    """Per model: the summary over all judged queries and over each category's queries."""
    cats = sorted({c for q, c in categories.items() if c and q in judgments})
    out: dict[tuple[str, str], J.JudgedSummary] = {}
    for name in ranked.models:
        tops = {q: ranked.top[name][q] for q in judgments if q in ranked.top[name]}
        out[(name, ALL)] = J.summarize_judged(tops, judgments, relevant_grade)
        for c in cats:
            sub = {q: t for q, t in tops.items() if categories.get(q) == c}
            try:
                out[(name, c)] = J.summarize_judged(sub, judgments, relevant_grade)
            except LabelSetError:
                continue  # no relevant photo in this category: nothing to average
    return out


def run_judged_evaluation(
    library: Library,
    judged_path: str | os.PathLike[str],
    model_specs: Sequence[ModelSpec | str],
    out_dir: str | os.PathLike[str],
    relevant_grade: int = J.DEFAULT_RELEVANT_GRADE,
    categories: Mapping[str, str] | None = None,
    templates: Sequence[str] = (AS_TYPED,),
    folder: str | os.PathLike[str] | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
    sync: bool = True,
) -> JudgedResult:
    """Rank every judged query with each model; write and return the judged-set measures."""
    J.check_relevant_grade(relevant_grade)
    path = Path(judged_path)
    if not path.is_file():
        raise LabelSetError(f"Judged set {path} does not exist; make one with `glimpse judge`.")
    judgments = J.JudgedSet.open(path).by_query()
    if not judgments:
        raise LabelSetError(f"Judged set {path} has no grades yet; judge with `glimpse judge`.")
    cats = dict(categories or {})
    depth = max(max(J.PRF_KS), max(J.NDCG_KS))
    ranked = rank_queries(library, list(judgments), model_specs, depth, templates, folder,
                          progress, cancel, sync)
    summaries = judged_measures(ranked, judgments, cats, relevant_grade)
    timings = {"encode_photos_s": round(ranked.encode_s, 3), "rank_queries_s": round(ranked.rank_s, 3)}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    doc: dict[str, Any] = {
        "judged_set": str(path),
        "formulas": J.FORMULAS,
        "relevant_grade": relevant_grade,
        "gallery_size": ranked.gallery_size,
        "templates": list(templates),
        "timings": timings,
        "results": [
            {"model": m, "category": c, **s.to_dict()} for (m, c), s in summaries.items()
        ],
    }
    summary_json = out / JUDGED_SUMMARY_JSON
    write_text_atomically(summary_json, json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    used = sorted({c for _, c in summaries if c != ALL})
    return JudgedResult(summary_json, ranked.models, relevant_grade, ranked.gallery_size,
                        summaries, used, timings)
