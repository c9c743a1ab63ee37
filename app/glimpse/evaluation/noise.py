"""Noisy queries: the same queries with typos, or with nonsense words appended.

The homework study measured how much retrieval drops when users misspell
words or add junk; ``glimpse eval --noise typos|junk`` repeats that on a
label set. Perturbations are seeded per query text, so a query always gets
the same noise for the same seed, whatever else is in the set.

- ``typos``: one edit per started four words (at least one), each a random
  letter deleted, doubled, swapped with its neighbour or replaced, in a random
  word of at least three letters;
- ``junk``: one to three random non-words of 3-7 letters appended.
"""

from __future__ import annotations

import random
import string

from glimpse.core.errors import GlimpseError

NOISE_KINDS: tuple[str, ...] = ("typos", "junk")
_LETTERS = string.ascii_lowercase


def _rng(kind: str, text: str, seed: int) -> random.Random:
    return random.Random(f"{seed}\0{kind}\0{text}")


def _edit(word: str, rng: random.Random) -> str:
    i = rng.randrange(len(word))
    op = rng.choice(("delete", "double", "swap", "replace"))
    if op == "delete":
        return word[:i] + word[i + 1 :]
    if op == "double":
        return word[: i + 1] + word[i:]
    if op == "swap" and i + 1 < len(word) and word[i] != word[i + 1]:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    other = rng.choice([c for c in _LETTERS if c != word[i].lower()])
    return word[:i] + other + word[i + 1 :]


def add_typos(text: str, seed: int = 0) -> str:
    rng = _rng("typos", text, seed)
    words = text.split(" ")
    editable = [i for i, w in enumerate(words) if sum(c.isalpha() for c in w) >= 3]
    if not editable:
        return text
    for _ in range(max(1, -(-len(words) // 4))):
        i = rng.choice(editable)
        words[i] = _edit(words[i], rng)
    return " ".join(words)


def add_junk(text: str, seed: int = 0) -> str:
    rng = _rng("junk", text, seed)
    junk = ["".join(rng.choice(_LETTERS) for _ in range(rng.randint(3, 7))) for _ in range(rng.randint(1, 3))]
    return " ".join([text, *junk])


def perturb(kind: str, text: str, seed: int = 0) -> str:
    if kind == "typos":
        return add_typos(text, seed)
    if kind == "junk":
        return add_junk(text, seed)
    raise GlimpseError(f"Noise must be one of {list(NOISE_KINDS)}, not {kind!r}.")
