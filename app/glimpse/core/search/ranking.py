"""Queries: text, image, and their weighted combinations, with filters.

A combined query is a sum of unit vectors, `"beach" + "sunset" - "people"`,
renormalised: CLIP's embedding space is roughly linear in concepts, so adding
moves toward a concept and subtracting moves away from it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np

from glimpse.core.errors import QueryError
from glimpse.core.signals import places
from glimpse.core.storage.catalog import FRAME_LABEL_BASE, Catalog
from glimpse.core.storage.vector_index import VectorIndex

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
    place: str | None = None  # a city, region or country name (any case and accents)
    photo_ids: frozenset[int] | None = None  # only these photos (e.g. a person's, core/signals/people.py)

    @property
    def active(self) -> bool:
        return any((self.folder, self.after, self.before, self.place)) or self.photo_ids is not None


def allowed_ids(catalog: Catalog, filters: Filters) -> set[int]:
    """Indexed photos passing every filter."""
    place_key = places.filter_key(catalog, filters.place) if filters.place else None
    allowed = catalog.photo_ids_matching(filters.folder, filters.after, filters.before, place_key)
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
    kind: str = "photo"  # or "video"
    t_seconds: float | None = None  # a video: the time of its best-matching keyframe
    duration: float | None = None  # a video's length in seconds
    place: str | None = None  # "Lisbon, Portugal", when the photo has GPS
    # Near-duplicates of this photo that ranked below it (collapsed results only).
    duplicates: tuple[SearchHit, ...] = ()
    text_match: bool = False  # found by its words: text in it, its own words (search/fusion.py)
    snippet: str | None = None  # those words around the matches (catalog.SNIPPET_OPEN/CLOSE)
    word_source: str | None = None  # where they were found: "text in the photo", ...
    weak: bool = False  # under the model's relevance cut-off: a weaker match (search/relevance.py)


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
    with_frames = catalog.has_frames(model_key)
    if not filters.active:
        ranked = _best_per_item(catalog, lambda n: index.search(vector, n), k, with_frames)
    else:
        # The filter goes inside the scan: every allowed photo is scored, so a
        # narrow filter returns all it matches, never a few survivors of a top-k.
        allowed = allowed_ids(catalog, filters)
        if with_frames:
            allowed = allowed | {int(i) for i in catalog.frame_labels(model_key, allowed)}
        ranked = _best_per_item(
            catalog, lambda n: index.search(vector, n, allowed=allowed), k, with_frames
        )
    ids_ranked = [i for i, _, _ in ranked]
    rows = catalog.photos_by_ids(ids_ranked)
    videos = catalog.videos_by_ids(ids_ranked)
    where = catalog.places_by_ids(ids_ranked)
    hits = []
    for photo_id, score, t in ranked:
        row = rows.get(photo_id)
        if row is None:  # removed while we searched
            continue
        video = videos.get(photo_id)
        place = where.get(photo_id)
        hits.append(
            SearchHit(
                photo_id, row.path, score, row.taken_at, row.width, row.height, row.fingerprint,
                kind="video" if video else "photo",
                t_seconds=(t if t is not None else video[1]) if video else None,
                duration=video[0] if video else None,
                place=places.place_label(*place) if place else None,
            )
        )
    return hits


def _best_per_item(
    catalog: Catalog,
    search: Callable[[int], list[tuple[int, float]]],
    k: int,
    with_frames: bool,
) -> list[tuple[int, float, float | None]]:
    """(photo id, score, keyframe time or None), best first, one entry per item.

    A video holds many labels (one per keyframe) and matches by its best one,
    so when videos exist we ask for more neighbours until k distinct items
    come back or the index runs dry."""
    if not with_frames:
        return [(i, s, None) for i, s in search(k)]
    n = k * 2
    while True:
        raw = search(n)
        frames = catalog.frames_by_labels(i for i, _ in raw if i >= FRAME_LABEL_BASE)
        best: dict[int, tuple[float, float | None]] = {}
        for label, score in raw:
            if label >= FRAME_LABEL_BASE:
                if label not in frames:
                    continue  # deleted while we searched
                photo_id, t = frames[label]
            else:
                photo_id, t = label, None
            if photo_id not in best:
                best[photo_id] = (score, t)
        if len(best) >= k or len(raw) < n:
            return [(i, s, t) for i, (s, t) in list(best.items())[:k]]
        n *= 4
