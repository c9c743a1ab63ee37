"""Words: turning a query into an FTS5 query over the text read in photos, and back into highlights.

- An unquoted query (`boarding pass`) matches photos whose text holds every
  word, each as a prefix ("pass" finds "passport", "receipt" finds
  "receipts"), ignoring a few filler words ("photo of a ...") that a
  description has but a sign does not. Its hits are fused with the meaning
  (CLIP) ranking (core/search/fusion.py).
- A single quoted phrase with no + or - (`"wifi password"`) is an exact
  phrase and searches words only. Combined queries (`"beach" + "sunset"`)
  are about meaning and do not search words.
Accents and case are folded by the FTS tokenizer (unicode61, remove_diacritics
2) and the same folding is used here for highlights.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import numpy as np

from glimpse.core.search.ranking import SearchHit
from glimpse.core.signals import typos
from glimpse.core.signals.base import WordSource
from glimpse.core.storage.catalog import SNIPPET_CLOSE, SNIPPET_OPEN, Catalog

_WORD = re.compile(r"\w+", re.UNICODE)
_SINGLE_PHRASE = re.compile(r'^\s*"([^"]+)"\s*$')
# Words a description has but the text in a photo rarely carries meaning by.
STOPWORDS = frozenset(
    "a an the of in on at to for and or with my our your his her their this that "
    "photo photos picture pictures image images pic screenshot".split()
)


# The text read in photos (core/signals/text.py declares it too): the default source.
TEXT_IN_PHOTOS = WordSource("photo_text", "text in the photo")


@dataclass(frozen=True)
class TextQuery:
    words: tuple[str, ...]  # as typed, for highlighting
    fts: str  # the FTS5 MATCH expression
    words_only: bool  # True for a quoted phrase: no meaning search
    # The same words forgiving a one-letter typo in each long word (core/signals/typos.py),
    # asked only when `fts` finds nothing. None: nothing to forgive.
    fuzzy: str | None = None


def fold(text: str) -> str:
    """Lower case without accents, as the FTS tokenizer sees words."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def plan(query: str) -> TextQuery | None:
    """The word search a query asks for, or None when it asks for none."""
    m = _SINGLE_PHRASE.match(query)
    if m:
        words = tuple(_WORD.findall(m.group(1)))
        if not words:
            return None
        return TextQuery(words, '"' + " ".join(words) + '"', True)
    if '"' in query:
        return None
    words = tuple(w for w in _WORD.findall(query) if fold(w) not in STOPWORDS)
    if not words:
        return None
    return TextQuery(words, " AND ".join(f'"{w}"*' for w in words), False, _fuzzy(words))


def _fuzzy(words: tuple[str, ...]) -> str | None:
    """Each long word or any spelling one edit from it (whole words: a prefix of every
    variant would match half the vocabulary); short words as typed."""
    if not any(typos.forgivable(_as_indexed(w)) for w in words):
        return None
    groups = []
    for w in words:
        key = _as_indexed(w)
        if typos.forgivable(key):
            groups.append("(" + " OR ".join(f'"{v}"' for v in sorted({key} | typos.one_edit(key))) + ")")
        else:
            groups.append(f'"{w}"*')
    return " AND ".join(groups)


def _as_indexed(word: str) -> str:
    """A word as the FTS tokenizer stores it: lower case, accents dropped, but "ß"
    kept (casefold would make it "ss", which the index never holds)."""
    decomposed = unicodedata.normalize("NFKD", word.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def find(
    catalog: Catalog, query: TextQuery, limit: int, allowed: set[int] | None = None,
    source: WordSource = TEXT_IN_PHOTOS,
) -> list[tuple[int, str]]:
    """(photo id, snippet) best first; `allowed` restricts to filtered photos."""
    depth = limit if allowed is None else max(limit * 4, 200)
    rows = catalog.search_words(source.table, query.fts, depth, source.snippet_column)
    out = [(pid, snippet) for pid, _, snippet in rows if allowed is None or pid in allowed]
    if not out and query.fuzzy is not None:
        # No photo has the words as typed: those whose words are one letter from them.
        # Only then, so a word spelled right ("beach") never pulls in "bench".
        rows = catalog.search_words(source.table, query.fuzzy, depth, source.snippet_column)
        out = [(pid, snippet) for pid, _, snippet in rows if allowed is None or pid in allowed]
    return out[:limit]


def word_hits(
    catalog: Catalog, query: TextQuery, k: int, allowed: set[int] | None = None,
    model_key: int | None = None, vector: np.ndarray | None = None,
    source: WordSource = TEXT_IN_PHOTOS,
) -> list[SearchHit]:
    """Photos whose words in one source match, best first, as search hits (text_match
    set, with the snippet and the source's label); scored by meaning (cosine with
    `vector`) when a vector is given, so the score shown beside a result means the
    same thing for every result."""
    found = find(catalog, query, k, allowed, source)
    rows = catalog.photos_by_ids(pid for pid, _ in found)
    hits = []
    for pid, snippet in found:
        row = rows.get(pid)
        if row is None:  # removed while we searched
            continue
        score = 0.0
        if vector is not None and model_key is not None:
            stored = catalog.embedding_for(pid, model_key)
            if stored is not None:
                score = float(stored @ vector / max(float(np.linalg.norm(stored)), 1e-12))
        hits.append(SearchHit(pid, row.path, score, row.taken_at, row.width, row.height,
                              row.fingerprint, text_match=True, snippet=snippet,
                              word_source=source.label))
    return hits


def marked(snippet: str, open_mark: str = "[", close_mark: str = "]") -> str:
    """A snippet with its matched words between the given marks (plain text output)."""
    return snippet.replace(SNIPPET_OPEN, open_mark).replace(SNIPPET_CLOSE, close_mark)
