"""Queries: text, image, and their weighted combinations, with filters.

A combined query is a sum of unit vectors, `"beach" + "sunset" - "people"`,
renormalised: CLIP's embedding space is roughly linear in concepts, so adding
moves toward a concept and subtracting moves away from it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np

from glimpse.core.catalog import Catalog
from glimpse.core.errors import QueryError
from glimpse.core.index import VectorIndex, exact_search

# Below this many allowed photos, a filtered query scans their vectors exactly:
# it is faster than a filtered graph walk and never misses a match.
EXACT_FILTER_LIMIT = 5000

_TERM = re.compile(r'\s*([+-])?\s*"([^"]*)"\s*')


@dataclass(frozen=True)
class QueryTerm:
    weight: float
    text: str | None = None
    image: str | None = None  # a file path, or "photo:<id>" for a catalog photo


@dataclass(frozen=True)
class Filters:
    folder: str | None = None
    after: str | None = None  # ISO date, inclusive
    before: str | None = None  # ISO date, exclusive
    photo_ids: frozenset[int] | None = None  # only these photos (e.g. a person's, core/people.py)

    @property
    def active(self) -> bool:
        return any((self.folder, self.after, self.before)) or self.photo_ids is not None


def allowed_ids(catalog: Catalog, filters: Filters) -> set[int]:
    """Indexed photos passing every filter."""
    allowed = catalog.photo_ids_matching(filters.folder, filters.after, filters.before)
    if filters.photo_ids is not None:
        allowed &= filters.photo_ids
    return allowed


@dataclass(frozen=True)
class SearchHit:
    photo_id: int
    path: str
    score: float
    taken_at: str | None
    width: int | None
    height: int | None
    fingerprint: str | None
    text_match: bool = False  # found by the text read in the photo (core/fusion.py)
    snippet: str | None = None  # that text around the matched words (catalog.SNIPPET_OPEN/CLOSE)


def parse_query(text: str) -> list[QueryTerm]:
    """`two dogs in snow` is one term; `"beach" + "sunset" - "people"` is three."""
    text = text.strip()
    if not text:
        raise QueryError("The query is empty: describe the photo you are looking for.")
    if '"' not in text:
        return [QueryTerm(1.0, text=text)]
    terms: list[QueryTerm] = []
    pos = 0
    while pos < len(text):
        m = _TERM.match(text, pos)
        if m is None:
            raise QueryError(
                f'Cannot read the query near "{text[pos:pos + 20]}": write terms in double '
                'quotes joined by + or -, e.g. "beach" + "sunset" - "people".'
            )
        sign, phrase = m.group(1), m.group(2).strip()
        if terms and sign is None:
            raise QueryError(f'Put + or - before "{phrase}" to say how to combine it.')
        if not phrase:
            raise QueryError("The query has an empty quoted term.")
        terms.append(QueryTerm(-1.0 if sign == "-" else 1.0, text=phrase))
        pos = m.end()
    return terms


def parse_date(text: str | None, what: str) -> str | None:
    """Accept YYYY, YYYY-MM or YYYY-MM-DD; return an ISO date for comparison."""
    if not text:
        return None
    for fmt, fill in (("%Y-%m-%d", ""), ("%Y-%m", "-01"), ("%Y", "-01-01")):
        try:
            datetime.strptime(text, fmt)
        except ValueError:
            continue
        return date.fromisoformat(text + fill).isoformat()
    raise QueryError(f"The {what} date '{text}' is not a date; use YYYY-MM-DD.")


def combine(vectors: np.ndarray, weights: list[float]) -> np.ndarray:
    vec = (np.asarray(weights, dtype=np.float32)[:, None] * vectors).sum(axis=0)
    norm = float(np.linalg.norm(vec))
    if norm < 1e-6:
        raise QueryError("The query's terms cancel each other out; nothing is left to search for.")
    return (vec / norm).astype(np.float32)


def run(
    catalog: Catalog,
    index: VectorIndex,
    model_key: int,
    vector: np.ndarray,
    k: int,
    filters: Filters | None = None,
) -> list[SearchHit]:
    """Top-k photos for a query vector, best first, with the filters applied."""
    if k <= 0:
        raise QueryError("The number of results must be at least 1.")
    filters = filters or Filters()
    if not filters.active:
        ranked = index.search(vector, k)
    else:
        allowed = allowed_ids(catalog, filters)
        if len(allowed) <= EXACT_FILTER_LIMIT:
            ids, matrix = catalog.embeddings(model_key, sorted(allowed))
            ranked = exact_search(matrix, ids, vector, k)
        else:
            ranked = index.search(vector, k, allowed=allowed)
    rows = catalog.photos_by_ids(i for i, _ in ranked)
    hits = []
    for photo_id, score in ranked:
        row = rows.get(photo_id)
        if row is None:  # removed while we searched
            continue
        hits.append(
            SearchHit(
                photo_id, row.path, score, row.taken_at, row.width, row.height, row.fingerprint
            )
        )
    return hits
