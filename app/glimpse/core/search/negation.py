"""Plain-word negation: "a beach without people" is `"a beach" - "people"`.

People write what they do not want in words, not with `-`. The cues read here:

- "X without Y", "X but no Y", "X but not Y", "X with no Y", "X and no Y",
  "X except Y": X by meaning, Y subtracted;
- a query that starts with "not" or "without" ("not at night"): only a
  subtracted term (photos least like it first);
- several things after one cue, joined by "or", "and", "nor" or commas
  ("without people or cars"), are each subtracted.

Not negations, left alone: "no" at the start ("no parking sign" is a sign),
"nothing but blue sky" (it asks for blue sky), words that only begin like
a cue ("notebook", "knot"), a "not" inside a phrase ("do not enter"), and any
quoted or `+`/`-` query (already explicit).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN = re.compile(r"[\w'’-]+|,")
# Cues inside a query (after something wanted), as token sequences.
_INNER_CUES: tuple[tuple[str, ...], ...] = (("but", "no"), ("but", "not"), ("with", "no"), ("and", "no"),
               ("without",), ("except",))
_LEADING_CUES: tuple[tuple[str, ...], ...] = (("not",), ("without",))
_SPLIT = {"or", "and", "nor", ","}


@dataclass(frozen=True)
class Negated:
    positive: str  # what is wanted ("" when the query only says what is not)
    negative: tuple[str, ...]  # what is not wanted, one term each
    phrase: str  # the query's words that said "not ...", casefolded: the chip's key


def extract(query: str) -> Negated | None:
    """The query split into what is wanted and what is not, or None if it says no 'not'."""
    if '"' in query or re.search(r"(^|\s)[+-]\s*\S", query):
        return None
    tokens = _TOKEN.findall(query)
    lower = [t.casefold() for t in tokens]
    cue: tuple[int, int] | None = None  # start and length of the cue
    for c in _LEADING_CUES:
        if tuple(lower[:len(c)]) == c:
            cue = (0, len(c))
            break
    if cue is None:
        for i in range(1, len(tokens)):
            for c in _INNER_CUES:
                if tuple(lower[i:i + len(c)]) == c:
                    cue = (i, len(c))
                    break
            if cue is not None:
                break
    if cue is None:
        return None
    start, n = cue
    negative: list[str] = []
    part: list[str] = []
    for token in tokens[start + n:]:
        if token.casefold() in _SPLIT:
            if part:
                negative.append(" ".join(part))
            part = []
        else:
            part.append(token)
    if part:
        negative.append(" ".join(part))
    if not negative:
        return None
    positive = " ".join(t for t in tokens[:start] if t != ",")
    phrase = " ".join(tokens[start:]).casefold()
    return Negated(positive, tuple(negative), phrase)
