"""Date words in queries, read against a fixed today (Tuesday 2026-11-24)."""

from __future__ import annotations

from datetime import date

import pytest

from glimpse.core.search.dates import extract, intersect

TODAY = date(2026, 11, 24)

CASES = [
    # query, remaining text, after, before, label
    ("beach 2019", "beach", "2019-01-01", "2020-01-01", "2019"),
    ("photos from 2019 of the lake", "photos of the lake", "2019-01-01", "2020-01-01", "2019"),
    ("june 2021 wedding", "wedding", "2021-06-01", "2021-07-01", "June 2021"),
    ("wedding in june of 2021", "wedding", "2021-06-01", "2021-07-01", "June 2021"),
    ("Wedding June 2021", "Wedding", "2021-06-01", "2021-07-01", "June 2021"),
    ("snow june", "snow", "2026-06-01", "2026-07-01", "June 2026"),
    ("november", "", "2026-11-01", "2026-12-01", "November 2026"),
    ("last november", "", "2025-11-01", "2025-12-01", "November 2025"),
    ("december party", "party", "2025-12-01", "2026-01-01", "December 2025"),
    ("sept 2020 hike", "hike", "2020-09-01", "2020-10-01", "September 2020"),
    ("may 2021 garden", "garden", "2021-05-01", "2021-06-01", "May 2021"),
    ("garden in may", "garden", "2026-05-01", "2026-06-01", "May 2026"),
    ("summer 2020", "", "2020-06-01", "2020-09-01", "Summer 2020"),
    ("beach last summer", "beach", "2026-06-01", "2026-09-01", "Summer 2026"),
    ("last winter skiing", "skiing", "2025-12-01", "2026-03-01", "Winter 2025/26"),
    ("winter 2020", "", "2020-12-01", "2021-03-01", "Winter 2020/21"),
    ("fall 2019 leaves", "leaves", "2019-09-01", "2019-12-01", "Autumn 2019"),
    ("autumn", "", "2026-09-01", "2026-12-01", "Autumn 2026"),
    ("last autumn", "", "2025-09-01", "2025-12-01", "Autumn 2025"),
    ("spring", "", "2026-03-01", "2026-06-01", "Spring 2026"),
    ("cat yesterday", "cat", "2026-11-23", "2026-11-24", "Yesterday (23 Nov 2026)"),
    ("today", "", "2026-11-24", "2026-11-25", "Today (24 Nov 2026)"),
    ("dog last week", "dog", "2026-11-16", "2026-11-23",
     "Last week (16 Nov 2026 to 22 Nov 2026)"),
    ("this week", "", "2026-11-23", "2026-11-25", "This week"),
    ("receipt last month", "receipt", "2026-10-01", "2026-11-01", "October 2026"),
    ("this month", "", "2026-11-01", "2026-12-01", "November 2026"),
    ("last year", "", "2025-01-01", "2026-01-01", "2025"),
    ("tree this year", "tree", "2026-01-01", "2027-01-01", "2026"),
    ("christmas 2022 tree", "tree", "2022-12-24", "2022-12-27", "Christmas 2022"),
    ("christmas", "", "2025-12-24", "2025-12-27", "Christmas 2025"),
    ("xmas eve 2021", "", "2021-12-24", "2021-12-25", "Christmas eve 2021"),
    ("new year fireworks", "fireworks", "2025-12-31", "2026-01-02", "New Year 2026"),
    ("new year's eve 2019", "", "2019-12-31", "2020-01-01", "New year's eve 2019"),
    ("halloween costume", "costume", "2026-10-31", "2026-11-01", "Halloween 2026"),
]


@pytest.mark.parametrize("query,text,after,before,label", CASES)
def test_date_words(query: str, text: str, after: str, before: str, label: str) -> None:
    q = extract(query, TODAY)
    assert q.range is not None, query
    assert (q.text, q.range.after, q.range.before, q.range.label) == (text, after, before, label)


NOT_DATES = [
    "2 dogs", "100 balloons", "room 1899", "year 2101 robot", "10000 steps",
    "may I see the beach", "protest march", "the mar a lago", "jun the cat",
    "screen 1920px wide", "version 2019.2", "2019-06-01 receipt", "12:2019",
    '"summer 2020"', '"beach" + "june 2021"', "pizza for dinner",
]


@pytest.mark.parametrize("query", NOT_DATES)
def test_no_date_words(query: str) -> None:
    q = extract(query, TODAY)
    assert q.range is None, (query, q)
    assert q.text == query


def test_only_first_phrase_counts() -> None:
    q = extract("june 2021 and 2019", TODAY)
    assert q.range is not None and q.range.label == "June 2021"
    assert q.text == "and 2019"


def test_phrase_is_reported_as_typed() -> None:
    assert extract("beach Last Summer", TODAY).phrase == "Last Summer"


def test_intersect_with_explicit_filters() -> None:
    rng = extract("2021", TODAY).range
    assert intersect(None, None, rng) == ("2021-01-01", "2022-01-01")
    assert intersect("2021-06-01", None, rng) == ("2021-06-01", "2022-01-01")
    assert intersect(None, "2021-03-01", rng) == ("2021-01-01", "2021-03-01")
    assert intersect("2020-01-01", "2030-01-01", None) == ("2020-01-01", "2030-01-01")
