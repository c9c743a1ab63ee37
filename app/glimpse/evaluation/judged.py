"""Judged sets: graded relevance of pooled results, and the measures of the photo-search thesis.

Unlike a label set (one intended photo per query), a judged set says for each
query how relevant each of many photos is, on five levels:

    0 not relevant, 1 slightly relevant, 2 relevant, 3 highly relevant, 4 very relevant

The photos judged for a query are the *pool*: the top ``POOL_DEPTH`` results
of every model compared, so every model's top 20 is judged. The file is plain
CSV, header exactly ``query,image,grade``; ``image`` is the photo's path
relative to its library folder (as in label sets); cells are escaped against
spreadsheet formulas like label sets are. Each grade is appended and fsynced
at once, so judging can stop and resume anywhere; grading a pair again
replaces the earlier grade (the last row wins).

Measures, per query, over a model's ranked list ``d_1, d_2, ...`` (photos the
set has no grade for count as grade 0, i.e. not relevant):

- ``Rel`` = judged photos with grade >= ``relevant_grade`` (default 2);
- P@k = |Rel among d_1..d_k| / k;
- R@k = |Rel among d_1..d_k| / |Rel|;
- F1@k = 2 P@k R@k / (P@k + R@k), 0 when both are 0;
- DCG@k = sum over i = 1..k of (2^grade(d_i) - 1) / log2(i + 1);
  IDCG@k = the same over the query's judged grades sorted best first;
  nDCG@k = DCG@k / IDCG@k.

Each measure is averaged over queries. A query without any relevant judged
photo has no recall and no ideal ranking; it is left out of every average and
counted (``n_without_relevant``) so it never hides.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from glimpse.core.errors import LabelSetError
from glimpse.core.storage.files import write_text_atomically
from glimpse.evaluation.labels import escape_cell, unescape_cell

JUDGED_HEADER: tuple[str, ...] = ("query", "image", "grade")
GRADE_NAMES: tuple[str, ...] = (
    "not relevant",
    "slightly relevant",
    "relevant",
    "highly relevant",
    "very relevant",
)
MAX_GRADE = len(GRADE_NAMES) - 1
DEFAULT_RELEVANT_GRADE = 2
PRF_KS: tuple[int, ...] = (3, 5, 10, 15, 20)
NDCG_KS: tuple[int, ...] = (1, 3, 5, 10)
POOL_DEPTH = 20

FORMULAS = (
    "Judged-set measures (per query, averaged over queries that have a relevant photo): "
    "Rel = judged photos with grade >= the relevant grade (unjudged photos count as grade 0); "
    "P@k = |Rel in top k| / k; R@k = |Rel in top k| / |Rel|; F1@k = 2PR/(P+R); "
    "nDCG@k = DCG@k / IDCG@k with DCG@k = sum_{i<=k} (2^grade_i - 1) / log2(i + 1) and IDCG@k "
    "the DCG of the query's judged grades sorted best first."
)


def check_grade(grade: int, what: str = "grade") -> int:
    """A grade on the five-level scale, or a clear error."""
    if isinstance(grade, bool) or not isinstance(grade, int) or not 0 <= grade <= MAX_GRADE:
        raise LabelSetError(f"A {what} must be a whole number 0-{MAX_GRADE}, not {grade!r}.")
    return grade


def check_relevant_grade(grade: int) -> int:
    """The relevance threshold: 1-4 (0 would make every judged photo relevant)."""
    check_grade(grade, "relevant grade")
    if grade == 0:
        raise LabelSetError(f"The relevant grade must be 1-{MAX_GRADE}; 0 makes every photo relevant.")
    return grade


class JudgedSet:
    """A ``query,image,grade`` file and its grades, kept in step: every grade hits disk first."""

    def __init__(self, path: Path, grades: dict[tuple[str, str], int]) -> None:
        # Use JudgedSet.open().
        self.path = path
        self.grades = grades

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> JudgedSet:
        """Open a judged set, creating it with just the header if it does not exist."""
        p = Path(path)
        try:
            if not p.exists():
                p.parent.mkdir(parents=True, exist_ok=True)
                write_text_atomically(p, ",".join(JUDGED_HEADER) + "\r\n")
            text = p.read_bytes().decode("utf-8-sig")
        except OSError as exc:
            raise LabelSetError(f"Cannot open judged set {p}: {exc.strerror or exc}.") from exc
        except UnicodeDecodeError as exc:
            raise LabelSetError(f"Judged set {p} is not UTF-8 text: {exc}.") from exc
        judged = cls(p, _parse(text, p))
        if text and not text.endswith(("\n", "\r")):
            judged._rewrite()  # a torn last row was dropped; the next append must not glue on
        return judged

    def add(self, query: str, image: str, grade: int) -> None:
        """Record one grade durably: when this returns, it survives a power cut."""
        check_grade(grade)
        if not query.strip() or not image:
            raise LabelSetError("A judgement needs a query and an image path.")
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\r\n").writerow(
            [escape_cell(query), escape_cell(image), str(grade)]
        )
        try:
            with open(self.path, "a", encoding="utf-8", newline="") as fh:
                fh.write(buf.getvalue())
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            raise LabelSetError(f"Cannot write to judged set {self.path}: {exc.strerror or exc}.") from exc
        self.grades[(query, image)] = grade

    def by_query(self) -> dict[str, dict[str, int]]:
        """query -> {image: grade}, queries in the order first judged."""
        out: dict[str, dict[str, int]] = {}
        for (query, image), grade in self.grades.items():
            out.setdefault(query, {})[image] = grade
        return out

    def _rewrite(self) -> None:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\r\n")
        writer.writerow(JUDGED_HEADER)
        for (query, image), grade in self.grades.items():
            writer.writerow([escape_cell(query), escape_cell(image), str(grade)])
        write_text_atomically(self.path, buf.getvalue())


def _parse(text: str, path: Path) -> dict[tuple[str, str], int]:
    try:
        records = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise LabelSetError(f"Judged set {path} is not valid CSV: {exc}.") from exc
    if not records or tuple(records[0]) != JUDGED_HEADER:
        got = ",".join(records[0]) if records else "nothing"
        raise LabelSetError(
            f"Judged set {path} has header {got!r}; expected exactly {','.join(JUDGED_HEADER)!r}."
        )
    grades: dict[tuple[str, str], int] = {}
    body = records[1:]
    torn_ok = not text.endswith(("\n", "\r"))
    for i, record in enumerate(body):
        try:
            if len(record) != 3 or not record[2].strip().isdigit():
                raise LabelSetError(f"Judged set {path}: bad row {record!r} (want query,image,grade 0-4).")
            grade = check_grade(int(record[2]))
        except LabelSetError:
            if torn_ok and i == len(body) - 1:
                break  # cut short by a crash mid-append
            raise
        key = (unescape_cell(record[0]), unescape_cell(record[1]))
        grades.pop(key, None)  # re-graded: the last row wins, in its new position
        grades[key] = grade
    return grades


# --- measures -----------------------------------------------------------------


def _dcg(gains: Sequence[int], k: int) -> float:
    return sum((2.0**g - 1.0) / math.log2(i + 2.0) for i, g in enumerate(gains[:k]))


@dataclass(frozen=True)
class QueryMeasures:
    precision_at: dict[int, float]
    recall_at: dict[int, float]
    f1_at: dict[int, float]
    ndcg_at: dict[int, float]


def query_measures(
    ranked: Sequence[str],
    grades: Mapping[str, int],
    relevant_grade: int = DEFAULT_RELEVANT_GRADE,
) -> QueryMeasures | None:
    """The measures of one query (module docstring), or None if it has no relevant photo.

    ``ranked`` is the model's result list, best first (at least as deep as the
    largest k wanted; a shorter list counts the missing places as not relevant).
    """
    check_relevant_grade(relevant_grade)
    relevant = {img for img, g in grades.items() if g >= relevant_grade}
    if not relevant:
        return None
    gains = [grades.get(img, 0) for img in ranked]
    ideal = sorted(grades.values(), reverse=True)
    p, r, f = {}, {}, {}
    for k in PRF_KS:
        hits = sum(1 for img in ranked[:k] if img in relevant)
        p[k], r[k] = hits / k, hits / len(relevant)
        f[k] = 0.0 if hits == 0 else 2 * p[k] * r[k] / (p[k] + r[k])
    ndcg = {k: _dcg(gains, k) / _dcg(ideal, k) for k in NDCG_KS}
    return QueryMeasures(p, r, f, ndcg)


@dataclass(frozen=True)
class JudgedSummary:
    """Judged-set measures of one model (on one category of queries), averaged over queries."""

    n_queries: int  # queries with at least one relevant photo: the ones averaged
    n_without_relevant: int
    precision_at: dict[int, float]
    recall_at: dict[int, float]
    f1_at: dict[int, float]
    ndcg_at: dict[int, float]
    unjudged_in_top: float  # share of top-POOL_DEPTH places holding a photo nobody graded

    def to_dict(self) -> dict[str, Any]:
        def keyed(d: dict[int, float]) -> dict[str, float]:
            return {str(k): float(v) for k, v in sorted(d.items())}

        return {
            "n_queries": self.n_queries,
            "n_without_relevant": self.n_without_relevant,
            "precision_at": keyed(self.precision_at),
            "recall_at": keyed(self.recall_at),
            "f1_at": keyed(self.f1_at),
            "ndcg_at": keyed(self.ndcg_at),
            "unjudged_in_top_20": float(self.unjudged_in_top),
        }


def summarize_judged(
    rankings: Mapping[str, Sequence[str]],
    judgments: Mapping[str, Mapping[str, int]],
    relevant_grade: int = DEFAULT_RELEVANT_GRADE,
) -> JudgedSummary:
    """Average :func:`query_measures` over the queries of ``rankings`` that have judgments."""
    check_relevant_grade(relevant_grade)
    per_query: list[QueryMeasures] = []
    without = 0
    places = unjudged = 0
    for query, ranked in rankings.items():
        grades = judgments.get(query, {})
        top = list(ranked[:POOL_DEPTH])
        places += len(top)
        unjudged += sum(1 for img in top if img not in grades)
        m = query_measures(ranked, grades, relevant_grade)
        if m is None:
            without += 1
        else:
            per_query.append(m)
    if not per_query:
        raise LabelSetError(
            f"No judged query has a photo graded {relevant_grade} or higher; "
            "judge some results first (glimpse judge) or lower --relevant-grade."
        )

    def mean(get: Any, ks: Sequence[int]) -> dict[int, float]:
        return {k: sum(get(m)[k] for m in per_query) / len(per_query) for k in ks}

    return JudgedSummary(
        n_queries=len(per_query),
        n_without_relevant=without,
        precision_at=mean(lambda m: m.precision_at, PRF_KS),
        recall_at=mean(lambda m: m.recall_at, PRF_KS),
        f1_at=mean(lambda m: m.f1_at, PRF_KS),
        ndcg_at=mean(lambda m: m.ndcg_at, NDCG_KS),
        unjudged_in_top=unjudged / places if places else 0.0,
    )
