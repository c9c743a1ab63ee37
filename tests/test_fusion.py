"""Reciprocal rank fusion, sort orders and how a query becomes a word search."""

from __future__ import annotations

from dataclasses import replace

import pytest

from glimpse.core.search.fusion import fuse, rrf, sort_hits
from glimpse.core.search.ranking import SearchHit
from glimpse.core.search.words import fold, marked, plan


def hit(n: int, taken: str | None = None) -> SearchHit:
    return SearchHit(n, f"/p/{n}.jpg", 1.0 - n / 100, taken, None, None, None)


def test_rrf_rewards_agreement_and_keeps_a_single_ranking_as_is() -> None:
    assert [i for i, _ in rrf([[1, 2, 3]])] == [1, 2, 3]
    fused = rrf([[1, 2, 3, 4], [4]])
    assert [i for i, _ in fused] == [4, 1, 2, 3]  # in both lists beats first in one
    assert fused[0][1] == pytest.approx(1 / 64 + 1 / 61)


def found(n: int, snippet: str, source: str = "text in the photo") -> SearchHit:
    return replace(hit(n), text_match=True, snippet=snippet, word_source=source)


def test_fuse_marks_text_matches_and_adds_text_only_photos() -> None:
    meaning = [hit(1), hit(2), hit(3)]
    words = [[found(3, "snip3"), found(9, "snip9")]]
    out = fuse(meaning, words, k=4)
    assert [h.photo_id for h in out] == [3, 1, 9, 2]  # on a tie, words first
    assert [(h.text_match, h.snippet) for h in out] == [
        (True, "snip3"), (False, None), (True, "snip9"), (False, None)]
    assert [h.photo_id for h in fuse(meaning, [], k=2)] == [1, 2]


def test_fuse_takes_one_ranking_per_word_source() -> None:
    """Three rankings: meaning, text in photos, own words. A photo found by two
    sources beats one found by one; each hit says where its words were found."""
    meaning = [hit(1), hit(2), hit(3)]
    text = [found(7, "in photo")]
    own = [found(7, "own", "its own words"), found(8, "folder", "its own words")]
    out = fuse(meaning, [text, own], k=5)
    # 7: 1/61 + 1/61; 1: 1/61; 8: 1/62; 2: 1/62; 3: 1/63 (ties: first appearance)
    assert [h.photo_id for h in out] == [7, 1, 8, 2, 3]
    assert out[0].word_source == "text in the photo"  # the first source that found it
    assert (out[2].word_source, out[2].snippet) == ("its own words", "folder")


def test_sort_orders_reorder_the_good_matches_by_date() -> None:
    hits = [hit(1, "2020-05-01T10:00:00"), hit(2, None), hit(3, "2023-01-01T00:00:00"),
            hit(4, "2019-01-01T00:00:00")]
    assert [h.photo_id for h in sort_hits(hits, "best")] == [1, 2, 3, 4]
    assert [h.photo_id for h in sort_hits(hits, "newest")] == [3, 1, 4, 2]
    assert [h.photo_id for h in sort_hits(hits, "oldest")] == [4, 1, 3, 2]
    with pytest.raises(ValueError):
        sort_hits(hits, "random")


@pytest.mark.parametrize(
    "query,fts,words_only",
    [
        ("boarding pass", '"boarding"* AND "pass"*', False),
        ("a photo of the receipt", '"receipt"*', False),
        ('"wifi password"', '"wifi password"', True),
        ('  "Café"  ', '"Café"', True),
    ],
)
def test_plan(query: str, fts: str, words_only: bool) -> None:
    p = plan(query)
    assert p is not None and (p.fts, p.words_only) == (fts, words_only)


@pytest.mark.parametrize("query", ['"beach" + "sunset"', '"a" - "b"', "the of a", '""', "!!!"])
def test_no_word_search(query: str) -> None:
    assert plan(query) is None


def test_fold_and_marks() -> None:
    assert fold("Größe CAFÉ") == "grosse cafe"
    assert marked("\x02Gate\x03 B22") == "[Gate] B22"
