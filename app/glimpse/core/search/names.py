"""Names in queries: "Anna at the beach" is a person filter plus "at the beach".

A known person's name (whole words, any case, "Anna's" too) becomes a filter:
the photos that show that person, and for "Anna and Ben" the photos showing
both. The rest of the query ranks those photos by meaning; the "and", "with"
or commas that only joined names go with them. Words that are nobody's name
stay in the query as plain words. Quoted combined queries are left alone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from glimpse.core.signals import typos

_JOINERS = {"and", "&", ",", "with", "+"}
_TOKEN = re.compile(r"[\w'’-]+|[&,+]")


@dataclass(frozen=True)
class NamedQuery:
    text: str  # the query without the names (may be empty)
    names: tuple[str, ...]  # the names found, as written in the query
    person_ids: tuple[tuple[int, ...], ...]  # per name: the ids of people with that name


def extract(query: str, known: Mapping[str, Sequence[int]]) -> NamedQuery:
    """Find known names (casefolded keys of `known`) in a query; longest names first."""
    if '"' in query or not known:
        return NamedQuery(query, (), ())
    tokens = [(m.group(0), m.start(), m.end()) for m in _TOKEN.finditer(query)]
    words = [_bare(t[0]) for t in tokens]
    longest = max(len(n.split()) for n in known)
    taken: list[tuple[int, int, str]] = []  # token span and the matched key
    i = 0
    while i < len(tokens):
        for n in range(min(longest, len(tokens) - i), 0, -1):
            key = " ".join(words[i:i + n])
            if key in known:
                taken.append((i, i + n, key))
                i += n
                break
        else:
            i += 1
    taken += _near_names(tokens, words, known, taken)
    taken.sort()
    if not taken:
        return NamedQuery(query, (), ())
    drop: set[int] = set()
    for start, end, _ in taken:
        drop.update(range(start, end))
    # Joiners next to a name ("Anna and Ben", "with Anna") go with the names.
    for start, end, _ in taken:
        for j in (start - 1, end):
            if 0 <= j < len(tokens) and words[j] in _JOINERS:
                drop.add(j)
    kept = [tokens[j][0] for j in range(len(tokens)) if j not in drop]
    while kept and kept[0].casefold() in _JOINERS:
        kept.pop(0)
    while kept and kept[-1].casefold() in _JOINERS:
        kept.pop()
    names: list[str] = []
    ids: list[tuple[int, ...]] = []
    for start, end, key in taken:
        written = query[tokens[start][1]:tokens[end - 1][2]]
        written = re.sub(r"['’]s$", "", written)
        if " ".join(words[start:end]) != key:  # a typo forgiven: say whom it found
            written = key.title()
        if key not in [n.casefold() for n in names]:
            names.append(written)
            ids.append(tuple(known[key]))
    return NamedQuery(" ".join(kept), tuple(names), tuple(ids))


def _near_names(tokens: list[tuple[str, int, int]], words: list[str],
                known: Mapping[str, Sequence[int]], taken: list[tuple[int, int, str]],
                ) -> list[tuple[int, int, str]]:
    """Known names typed with one letter wrong ("Micheal" for Michael), when the
    word is written with a capital, is long enough (typos.MIN_LENGTH) and exactly
    one known name is that near; so "park" never becomes Mark."""
    used = {i for start, end, _ in taken for i in range(start, end)}
    out: list[tuple[int, int, str]] = []
    longest = max(len(n.split()) for n in known)
    for i, (token, _, _) in enumerate(tokens):
        if i in used or not token[:1].isupper():
            continue
        for n in range(min(longest, len(tokens) - i), 0, -1):
            if used & set(range(i, i + n)):
                continue
            typed = " ".join(words[i:i + n])
            if not typos.forgivable(typed.replace(" ", "")):
                continue
            near = [k for k in known if len(k) >= typos.MIN_LENGTH and typos.within_one_edit(typed, k)]
            if len(near) == 1:
                out.append((i, i + n, near[0]))
                used.update(range(i, i + n))
                break
    return out


def _bare(token: str) -> str:
    """'Anna's' -> 'anna' (a possessive still names Anna)."""
    return re.sub(r"['’]s$", "", token).casefold()
