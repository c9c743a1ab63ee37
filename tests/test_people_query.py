"""Names in queries become person filters (core/search/names.py): table-driven."""

from __future__ import annotations

import pytest

from glimpse.core.search.names import extract

KNOWN = {"anna": [1], "ben": [2], "anna maria": [3], "jo": [4, 5]}

CASES = [
    # query, rest of the query, names found, their person ids
    ("Anna", "", ("Anna",), ((1,),)),
    ("anna at the beach", "at the beach", ("anna",), ((1,),)),
    ("Anna and Ben", "", ("Anna", "Ben"), ((1,), (2,))),
    ("Anna and Ben at the beach", "at the beach", ("Anna", "Ben"), ((1,), (2,))),
    ("Anna, Ben & Jo", "", ("Anna", "Ben", "Jo"), ((1,), (2,), (4, 5))),
    ("dog with Anna", "dog", ("Anna",), ((1,),)),
    ("Anna's birthday cake", "birthday cake", ("Anna",), ((1,),)),
    ("Anna Maria on a bike", "on a bike", ("Anna Maria",), ((3,),)),
    ("ANNA in snow with Anna", "in snow", ("ANNA",), ((1,),)),
    ("annabel at the beach", "annabel at the beach", (), ()),  # not a whole-word match
    ("bread and butter", "bread and butter", (), ()),
    ("red bike", "red bike", (), ()),
    ('"Anna" + "beach"', '"Anna" + "beach"', (), ()),  # combined queries are left alone
]


@pytest.mark.parametrize(("query", "rest", "names", "ids"), CASES)
def test_names_in_queries(query: str, rest: str, names: tuple, ids: tuple) -> None:
    got = extract(query, KNOWN)
    assert (got.text, got.names, got.person_ids) == (rest, names, ids)


def test_no_known_people_leaves_the_query() -> None:
    assert extract("Anna at the beach", {}).text == "Anna at the beach"
