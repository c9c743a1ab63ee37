"""The query planner (core/search/planner.py) on a table of queries."""

from __future__ import annotations

from datetime import date

import pytest

from glimpse.core.errors import QueryError
from glimpse.core.search.planner import DATE, NOT, PERSON, PLACE, Vocabulary, plan
from glimpse.core.search.ranking import Filters, QueryTerm

TODAY = date(2026, 12, 1)
KNOWN = Vocabulary(people={"anna": [1], "ben": [2, 5]}, places=["Lisbon", "Portugal"])


def read(text: str, **kw):  # type: ignore[no-untyped-def]
    return plan(text, today=TODAY, vocabulary=KNOWN, **kw)


@pytest.mark.parametrize(
    ("query", "meaning", "words", "chips"),
    [
        ("beach", ["beach"], ("beach",), []),
        ("a dog on the beach", ["a dog on the beach"], ("dog", "beach"), []),
        ("beach last summer", ["beach"], ("beach",), [(DATE, "Summer 2026")]),
        ("Anna at the beach", ["at the beach"], ("beach",), [(PERSON, "Anna")]),
        ("Anna and Ben", [], None, [(PERSON, "Anna and Ben")]),
        ("beach in Lisbon", ["beach"], ("beach",), [(PLACE, "Lisbon")]),
        ("Lisbon", [], None, [(PLACE, "Lisbon")]),  # only a place: its photos, newest first
        ("portugal sunset", ["sunset"], ("sunset",), [(PLACE, "Portugal")]),
        ('"wifi password"', [], ("wifi", "password"), []),
        ('"beach" + "sunset" - "people"', ["beach", "sunset", "-people"], None, []),
        ("june 2021", [], None, [(DATE, "June 2021")]),
    ],
)
def test_a_table_of_queries(query: str, meaning: list[str], words: tuple | None, chips: list) -> None:
    p = read(query)
    assert [("-" if t.weight < 0 else "") + (t.text or "") for t in p.meaning] == meaning
    assert (p.words.words if p.words is not None else None) == words
    assert p.words_only == query.startswith('"wifi')
    assert [(c.kind, c.label) for c in p.chips] == chips


def test_dates_and_names_become_filters_and_browse_when_nothing_is_left() -> None:
    p = read("june 2021")
    assert (p.filters.after, p.filters.before) == ("2021-06-01", "2021-07-01")
    assert p.browse
    p = read("Anna and Ben")
    assert p.person_groups == ((1,), (2, 5)) and p.people == ("Anna", "Ben") and p.browse
    p = read("Anna at the beach")
    assert p.person_groups == ((1,),) and not p.browse


def test_a_date_filter_given_as_an_option_narrows_with_the_query() -> None:
    p = read("beach 2021", filters=Filters(after="2021-06-01"))
    assert (p.filters.after, p.filters.before) == ("2021-06-01", "2022-01-01")


def test_a_closed_chip_leaves_its_words_as_words() -> None:
    p = read("beach last summer", ignore=["last summer"])
    assert [t.text for t in p.meaning] == ["beach last summer"] and p.chip(DATE) is None
    p = read("Anna at the beach", ignore=["anna"])
    assert p.person_groups == () and [t.text for t in p.meaning] == ["Anna at the beach"]
    assert read("beach", read_dates=False).chips == ()
    assert read("beach last summer", read_dates=False).chip(DATE) is None
    assert read("Anna at the beach", read_names=False).chip(PERSON) is None


def test_persons_asked_for_by_option_and_unknown_names() -> None:
    p = read("beach", persons=["Ben"])
    assert p.person_groups == ((2, 5),) and p.people == ("Ben",)
    with pytest.raises(QueryError, match="Nobody is named 'Zoe'"):
        read("beach", persons=["Zoe"])


def test_an_image_joins_the_query_and_searches_no_words() -> None:
    p = plan("", image="/x.jpg", vocabulary=KNOWN)
    assert p.meaning == (QueryTerm(1.0, image="/x.jpg"),) and p.words is None
    p = plan("at night", image="/x.jpg", vocabulary=KNOWN)
    assert [t.text for t in p.meaning] == ["at night", None] and p.words is None


def test_a_query_that_is_only_a_place_lists_its_photos_and_the_chip_gives_the_words_back() -> None:
    p = read("Lisbon")
    assert p.filters.place == "Lisbon" and p.browse and p.places == ("Lisbon",)
    p = read("in Lisbon", ignore=["lisbon"])
    assert p.filters.place is None and [t.text for t in p.meaning] == ["in Lisbon"]
    p = read("beach in Lisbon", ignore=["lisbon"])
    assert [t.text for t in p.meaning] == ["beach in Lisbon"] and p.chip(PLACE) is None
    # A combined query keeps its terms; the place only raises its photos.
    assert [t.text for t in read('"beach" + "Lisbon"').meaning] == ["beach", "Lisbon"]


def test_a_place_filter_given_as_an_option_is_not_read_again() -> None:
    assert read("beach in Lisbon", filters=Filters(place="Lisbon")).places == ()


def test_an_empty_query_asks_for_nothing() -> None:
    with pytest.raises(QueryError, match="empty"):
        read("   ")
    assert read("", filters=Filters(folder="/p")).browse  # a filter alone lists its photos


def test_the_plan_serialises_for_a_service_client() -> None:
    data = read("Anna at the beach last summer").to_json()
    assert [c["kind"] for c in data["chips"]] == [DATE, PERSON]  # type: ignore[index]
    assert data["people"] == ["Anna"] and data["after"] == "2026-06-01"


@pytest.mark.parametrize(
    ("query", "meaning", "chip"),
    [
        ("a beach without people", ["a beach", "-people"], "not people"),
        ("dogs but no cats", ["dogs", "-cats"], "not cats"),
        ("dogs but not cats", ["dogs", "-cats"], "not cats"),
        ("not at night", ["-at night"], "not at night"),
        ("without people", ["-people"], "not people"),
        ("a street with no cars", ["a street", "-cars"], "not cars"),
        ("mountains and no snow", ["mountains", "-snow"], "not snow"),
        ("a beach without people or dogs", ["a beach", "-people", "-dogs"], "not people, dogs"),
        ("sunset except clouds", ["sunset", "-clouds"], "not clouds"),
        ("Beach WITHOUT People", ["Beach", "-People"], "not People"),
        # Not negations: a word that only starts like a cue, "nothing but",
        # a sign's words, a leading "no", explicit syntax.
        ("notebook on a desk", ["notebook on a desk"], None),
        ("nothing but blue sky", ["nothing but blue sky"], None),
        ("a knot in a rope", ["a knot in a rope"], None),
        ("do not enter sign", ["do not enter sign"], None),
        ("no parking sign", ["no parking sign"], None),
        ('"beach" - "people"', ["beach", "-people"], None),
        ("without", ["without"], None),  # nothing after the cue
    ],
)
def test_plain_word_negation(query: str, meaning: list[str], chip: str | None) -> None:
    p = read(query)
    assert [("-" if t.weight < 0 else "") + (t.text or "") for t in p.meaning] == meaning
    found = p.chip(NOT)
    assert (found.label if found else None) == chip


def test_negation_searches_words_for_what_is_wanted_and_its_chip_can_be_removed() -> None:
    p = read("receipt without coffee")
    assert p.words is not None and p.words.words == ("receipt",)
    p = read("not at night")
    assert p.words is None and not p.browse
    p = read("a beach without people", ignore=["without people"])
    assert [t.text for t in p.meaning] == ["a beach without people"] and p.chip(NOT) is None
    # With a place and a date: each read once, the negation after them.
    p = read("Lisbon without people last summer")
    assert p.filters.place == "Lisbon" and [t.text for t in p.meaning] == ["people"]
    assert [c.kind for c in p.chips] == [DATE, NOT, PLACE]
