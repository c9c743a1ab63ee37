"""The query planner: what a typed query asks for, read once, the same for every front end.

    "Anna at the beach in Lisbon last summer"
      -> person filter (Anna), date filter (summer 2026), Lisbon's photos raised,
         meaning "at the beach in Lisbon", words "beach Lisbon"

The CLI (`glimpse search`), the app's search box and the local service all call
plan() (through Library.plan) and then run the plan (Library.search), so one
query gives one answer everywhere. Everything the planner read out of the
query comes back as a chip a front end shows and the user can remove; a
removed chip's phrase goes back in `ignore` and is then left as plain words.

plan() is pure: what the library knows by name (people, places) comes in a
Vocabulary, so it needs no catalog and is tested on tables of queries.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date

from glimpse.core.errors import QueryError
from glimpse.core.search import dates, names, negation, words
from glimpse.core.search.ranking import Filters, QueryTerm, parse_query
from glimpse.core.signals import places

DATE, PERSON, PLACE, NOT = "date", "person", "place", "not"


@dataclass(frozen=True)
class Chip:
    """One thing the planner read out of the query, shown as a removable chip."""

    kind: str  # DATE, PERSON, PLACE or NOT
    label: str  # what the chip says: "Summer 2026", "Anna and Ben", "Lisbon"
    phrase: str  # the query's words it came from, casefolded: the key to ignore it


@dataclass(frozen=True)
class Vocabulary:
    """What a library knows by name (Library.vocabulary reads it from the catalog)."""

    people: Mapping[str, Sequence[int]] = field(default_factory=dict)  # casefolded name -> ids
    places: Sequence[str] = ()  # city, region and country names of the library's photos


@dataclass(frozen=True)
class QueryPlan:
    typed: str  # the query as the user typed it
    meaning: tuple[QueryTerm, ...]  # what to rank by meaning, with + / - weights
    words: words.TextQuery | None  # the word search (text in photos, own words), if any
    filters: Filters  # the user's filters with the query's dates and people added
    places: tuple[str, ...] = ()  # places named: their photos come first, none dropped
    people: tuple[str, ...] = ()  # people named (as typed) or asked for with --person
    # Per person named: the ids of the people of that name. A photo must show one of
    # each group (all the people named); Library.search turns them into photo ids.
    person_groups: tuple[tuple[int, ...], ...] = ()
    chips: tuple[Chip, ...] = ()

    @property
    def words_only(self) -> bool:
        return self.words is not None and self.words.words_only

    @property
    def browse(self) -> bool:
        """Nothing to rank by (a query that was only a date or a name): list the
        filtered photos, newest first."""
        return not self.meaning and self.words is None

    def chip(self, kind: str) -> Chip | None:
        return next((c for c in self.chips if c.kind == kind), None)

    def to_json(self) -> dict[str, object]:
        """What a client of the service needs to show what was understood."""
        return {
            "chips": [{"kind": c.kind, "label": c.label, "phrase": c.phrase} for c in self.chips],
            "after": self.filters.after, "before": self.filters.before,
            "places": list(self.places), "people": list(self.people), "place": self.filters.place,
            "words_only": self.words_only,
        }


def plan(
    text: str,
    filters: Filters | None = None,
    today: date | None = None,
    vocabulary: Vocabulary | None = None,
    image: str | None = None,
    persons: Sequence[str] = (),
    ignore: Collection[str] = (),
    read_dates: bool = True,
    read_names: bool = True,
) -> QueryPlan:
    """Read a typed query (and an optional image, and --person names) into one plan.

    `ignore`: phrases of chips the user removed (casefolded); they stay as words.
    Raises QueryError for a query that asks for nothing, or that cannot be read."""
    vocabulary = vocabulary or Vocabulary()
    filters = filters or Filters()
    ignored = {" ".join(p.casefold().split()) for p in ignore}
    rest = " ".join(text.split())
    chips: list[Chip] = []

    if read_dates and rest:
        dated = dates.extract(rest, today)
        if dated.range is not None and dated.phrase.casefold() not in ignored:
            rest = dated.text
            after, before = dates.intersect(filters.after, filters.before, dated.range)
            filters = replace(filters, after=after, before=before)
            chips.append(Chip(DATE, dated.range.label, dated.phrase.casefold()))

    groups: list[Sequence[int]] = []
    people: list[str] = []
    for name in persons:
        key = " ".join(name.split()).casefold()
        if key not in vocabulary.people:
            raise QueryError(f"Nobody is named '{name}'; `glimpse people` lists the people found.")
        groups.append(vocabulary.people[key])
        people.append(name)
    if read_names and rest:
        named = names.extract(rest, vocabulary.people)
        phrase = " ".join(named.names).casefold()
        if named.names and phrase not in ignored:
            rest = named.text
            groups.extend(named.person_ids)
            people.extend(named.names)
            chips.append(Chip(PERSON, " and ".join(named.names), phrase))

    unwanted: list[QueryTerm] = []
    if rest:
        negated = negation.extract(rest)
        if negated is not None and negated.phrase not in ignored:
            rest = negated.positive
            unwanted = [QueryTerm(-1.0, text=t) for t in negated.negative]
            chips.append(Chip(NOT, "not " + ", ".join(negated.negative), negated.phrase))

    word_query = words.plan(rest) if image is None and rest else None
    if word_query is not None and word_query.words_only:
        meaning: list[QueryTerm] = []
    else:
        meaning = parse_query(rest) if rest else []
    if image is not None:
        meaning.append(QueryTerm(1.0, image=str(image)))

    named_places: tuple[str, ...] = ()
    if not filters.place and rest:
        meaning_text = " ".join(t.text for t in meaning if t.text and t.weight > 0)
        found = places.places_in_query(meaning_text, vocabulary.places) if meaning_text else []
        named_places = tuple(p for p in found if p.casefold() not in ignored)
        chips.extend(Chip(PLACE, p, p.casefold()) for p in named_places)
        plain = '"' not in rest and len(meaning) == 1 and meaning[0].weight > 0
        if named_places and plain:
            # "beach in Sydney": Sydney's photos first, ranked by "beach"; "Sydney"
            # alone: Sydney's photos, newest first (the chip gives the words back).
            left = places.without_places(rest, named_places)
            if not left and len(named_places) == 1 and image is None:
                filters = replace(filters, place=named_places[0])
                meaning, word_query = [], None  # (what is unwanted still ranks them)
            elif left:
                meaning = parse_query(left)
                word_query = words.plan(left) if image is None else None
                if image is not None:
                    meaning.append(QueryTerm(1.0, image=str(image)))

    meaning += unwanted
    if not meaning and word_query is None and not groups and not filters.active:
        raise QueryError("The query is empty: describe the photo you are looking for.")
    return QueryPlan(
        typed=text, meaning=tuple(meaning), words=word_query, filters=filters,
        places=named_places, people=tuple(people), chips=tuple(chips),
        person_groups=tuple(tuple(g) for g in groups),
    )
