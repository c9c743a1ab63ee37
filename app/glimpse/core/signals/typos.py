"""One-letter typos: "reciept" still finds the receipt, "Sidney" finds Sydney.

Candidates are every spelling one edit away (a letter dropped, added, changed,
or two neighbours swapped: Damerau distance 1). For the words in photos they
become one FTS5 query of alternatives, asked only after the exact query, so
exact matches always rank first; for people's and places' names the
library's own names are compared with the typed word.

Short words are left alone: at four letters or fewer one edit reaches too many
other words ("cat" -> "car", "hat", "cap").
"""

from __future__ import annotations

import string

MIN_LENGTH = 5  # letters a word needs before a typo in it is forgiven
_LETTERS = string.ascii_lowercase


def one_edit(word: str) -> set[str]:
    """Every spelling one edit from a (folded, lower-case) word, the word excluded."""
    letters = set(_LETTERS) | set(word)
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    out = {a + b[1:] for a, b in splits if b}
    out |= {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    out |= {a + c + b[1:] for a, b in splits if b for c in letters}
    out |= {a + c + b for a, b in splits for c in letters}
    out.discard(word)
    return {w for w in out if w}


def within_one_edit(a: str, b: str) -> bool:
    """True when b is a (or one edit from it): a cheaper check than one_edit(a) for a pair."""
    if a == b:
        return True
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    if la == lb:
        diff = [i for i in range(la) if a[i] != b[i]]
        return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1
                                  and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]])
    short, long_ = (a, b) if la < lb else (b, a)
    i = 0
    while i < len(short) and short[i] == long_[i]:
        i += 1
    return short[i:] == long_[i + 1:]


def forgivable(word: str) -> bool:
    return len(word) >= MIN_LENGTH and word.isalpha()
