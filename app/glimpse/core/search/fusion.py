"""One query box, N rankings: by meaning (CLIP) and by words (FTS, one per source), fused; and sort orders.

Reciprocal rank fusion scores a photo by the sum of 1 / (K + rank) over the
rankings that hold it. It needs no score calibration (cosine similarities and
bm25 are not comparable), and a photo that both looks like the query and
carries its words rises above one that has only one of the two; the best
photo by words and the best by meaning share the top (words first). When no
photo's text matches, the fused order is exactly the CLIP order, so a query for
`beach` ranks as it always did; a photo whose text says "beach" joins the
ranking by its words.
"""

from __future__ import annotations

from dataclasses import replace

from glimpse.core.search.ranking import SearchHit

RRF_K = 60  # the usual constant: dampens the gap between rank 1 and rank 2
SORTS = ("best", "newest", "oldest")


def rrf(rankings: list[list[int]], k: int = RRF_K) -> list[tuple[int, float]]:
    """(id, fused score) best first; ties keep the order of first appearance."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, 1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    order = {item: n for n, item in enumerate(i for r in rankings for i in r)}
    return sorted(scores.items(), key=lambda kv: (-kv[1], order[kv[0]]))


def fuse(
    meaning: list[SearchHit], words: list[list[SearchHit]], k: int
) -> list[SearchHit]:
    """Top k of the meaning ranking and one word ranking per source (text in photos,
    a photo's own words, ...); a hit found by words keeps its snippet and source
    (the first source that found it, in the order given)."""
    by_id = {h.photo_id: h for h in meaning}
    found: dict[int, SearchHit] = {}
    for ranking in words:
        for hit in ranking:
            by_id.setdefault(hit.photo_id, hit)
            found.setdefault(hit.photo_id, hit)
    # Words first: on a tie (a photo only found by words against one only found by
    # meaning, at the same rank), a match on every query word is the surer evidence.
    fused = rrf([[h.photo_id for h in r] for r in words] + [[h.photo_id for h in meaning]])
    out = []
    for photo_id, _ in fused[:k]:
        hit = by_id[photo_id]
        if photo_id in found:
            w = found[photo_id]
            hit = replace(hit, text_match=True, snippet=w.snippet, word_source=w.word_source)
        out.append(hit)
    return out


def sort_hits(hits: list[SearchHit], order: str) -> list[SearchHit]:
    """Best match keeps the ranking; newest/oldest reorder the good matches (the top k)
    by capture date, photos with no date last. Weaker matches (search/relevance.py)
    come after the others in every order, each part sorted alone."""
    if order not in SORTS:
        raise ValueError(f"unknown sort order {order!r}; use one of {', '.join(SORTS)}")
    strong = [h for h in hits if not h.weak]
    weak = [h for h in hits if h.weak]
    return _sorted(strong, order) + _sorted(weak, order)


def _sorted(hits: list[SearchHit], order: str) -> list[SearchHit]:
    if order == "best":
        return list(hits)
    dated = [h for h in hits if h.taken_at]
    undated = [h for h in hits if not h.taken_at]
    dated.sort(key=lambda h: h.taken_at or "", reverse=order == "newest")
    return dated + undated
