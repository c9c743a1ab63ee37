"""One-letter typos (core/signals/typos.py) in words in photos, people's names and place names."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import make_photo
from glimpse.core.library import Library
from glimpse.core.search import names, words
from glimpse.core.signals import places, typos


def test_one_edit_spellings() -> None:
    variants = typos.one_edit("cat")
    assert {"at", "ct", "ca", "act", "cta", "bat", "cut", "cart", "cats", "scat"} <= variants
    assert "cat" not in variants and "dog" not in variants
    assert "receipt" in typos.one_edit("reciept") and "receipt" in typos.one_edit("receit")
    # "ab": 2 deletions, 1 swap, 2 x 25 changes, 3 x 26 insertions of which two
    # coincide ("a" before or after the "a" is "aab"; likewise "abb").
    assert len(typos.one_edit("ab")) == 2 + 1 + 2 * 25 + 3 * 26 - 2


@pytest.mark.parametrize(("a", "b", "near"), [
    ("sydney", "sidney", True), ("receipt", "reciept", True), ("receipt", "receit", True),
    ("receipt", "receipts", True), ("paris", "pairs", True), ("paris", "parsi", True),
    ("sydney", "sydnye", True), ("sydney", "sdyney", True), ("sydney", "sydney", True),
    ("sydney", "sidnei", False), ("receipt", "recipe", False), ("abc", "cba", False),
])
def test_within_one_edit(a: str, b: str, near: bool) -> None:
    assert typos.within_one_edit(a, b) is near
    assert (b in typos.one_edit(a) or a == b) is near  # the two agree


def test_typos_in_names_and_places_are_forgiven_only_when_capitalised_and_long() -> None:
    people = {"michael": [1], "mark": [2]}
    assert names.extract("Micheal at the beach", people).names == ("Michael",)
    assert names.extract("micheal at the beach", people).names == ()  # lower case: a word
    assert names.extract("dog in the Park", people).names == ()  # 4 letters: too short
    known = ["Sydney", "Paris", "Rio de Janeiro"]
    assert places.places_in_query("beach in Sidney", known) == ["Sydney"]
    assert places.places_in_query("carnival in Rio de Janero", known) == ["Rio de Janeiro"]
    assert places.places_in_query("two pairs of shoes", known) == []  # not Paris
    assert places.without_places("beach in Sidney", ["Sydney"]) == "beach"


def test_the_fuzzy_word_query_is_only_for_long_words() -> None:
    q = words.plan("reciept")
    assert q is not None and q.fuzzy is not None and '"receipt"' in q.fuzzy and '"reciept"' in q.fuzzy
    assert words.plan("cat").fuzzy is None  # type: ignore[union-attr]
    q = words.plan("cat reciept")
    assert q is not None and q.fuzzy is not None and q.fuzzy.startswith('"cat"* AND (')


def test_a_typo_finds_the_word_only_when_nothing_has_it_as_typed(library: Library, tmp_path: Path) -> None:
    root = tmp_path / "photos"
    make_photo(root / "receipt" / "a.jpg", 1)  # own words: the folder's name
    make_photo(root / "reciept" / "b.jpg", 2)  # the folder's name has the typo
    make_photo(root / "holiday" / "c.jpg", 3)
    make_photo(root / "Straße" / "d.jpg", 4)
    library.add_folder(root)
    library.index()

    def found(text: str) -> list[str]:
        q = words.plan(text)
        assert q is not None
        hits = library._word_hits(q, 10, None, None)
        return [Path(h.path).parent.name for ranking in hits for h in ranking]

    # A word found as typed is not "corrected": the typo in the data stays unfound.
    assert found("receipt") == ["receipt"]
    assert found("reciept") == ["reciept"]  # likewise, exactly as typed
    assert found("receit") == ["receipt"]  # found only one letter away
    assert found("holliday") == ["holiday"]
    assert found("hollidays") == []  # two edits
    assert found("Straaße") == ["Straße"]  # "ß" as the index holds it, not "ss"
