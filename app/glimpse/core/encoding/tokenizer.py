"""CLIP's byte-pair-encoding tokenizer, without torch.

open_clip's tokenizer module imports torch (it returns tensors), and importing
any part of open_clip imports the whole package with torch and torchvision:
seconds and hundreds of MiB before a one-line search can start. The algorithm
itself needs only the merge list (`bpe_simple_vocab_16e6.txt.gz`, shipped with
open_clip and copied beside each ONNX export), `ftfy` and `regex`. The ONNX
engine checks at export time that these ids equal open_clip's on sample
strings, so a difference would fall back to torch instead of giving wrong
vectors.
"""

from __future__ import annotations

import gzip
import html
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

_SOT, _EOT = "<start_of_text>", "<end_of_text>"
# The merge list's first line is a header; CLIP uses the first 48,894 merges
# (49,152 ids = 512 byte symbols + merges + 2 specials).
_N_MERGES = 49152 - 256 - 2


def _byte_symbols() -> dict[int, str]:
    """Every byte as a printable character (the GPT-2 trick), so BPE never sees
    whitespace or control characters."""
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    mapping = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in mapping:
            mapping[b] = chr(256 + extra)
            extra += 1
    return mapping


class ClipTokenizer:
    """Text to CLIP token ids: clean, split into words, BPE-merge, pad to the context."""

    def __init__(self, merges_path: Path, context_length: int = 77) -> None:
        import regex

        lines = gzip.open(merges_path).read().decode("utf-8").split("\n")
        merges = [tuple(line.split()) for line in lines[1 : _N_MERGES + 1]]
        self._bytes = _byte_symbols()
        symbols = list(self._bytes.values())
        vocab = symbols + [s + "</w>" for s in symbols] + ["".join(m) for m in merges]
        vocab += [_SOT, _EOT]
        self._ids = {tok: i for i, tok in enumerate(vocab)}
        self._ranks = {m: i for i, m in enumerate(merges)}
        self.sot, self.eot = self._ids[_SOT], self._ids[_EOT]
        self.context_length = context_length
        self._cache: dict[str, list[int]] = {}
        self._lock = threading.Lock()
        self._split = regex.compile(
            rf"{_SOT}|{_EOT}|'s|'t|'re|'ve|'m|'ll|'d|[\p{{L}}]+|[\p{{N}}]|[^\s\p{{L}}\p{{N}}]+",
            regex.IGNORECASE,
        )

    @staticmethod
    def clean(text: str) -> str:
        """Fix mojibake and HTML entities, collapse whitespace, lower-case (open_clip's 'lower')."""
        import ftfy

        text = html.unescape(html.unescape(ftfy.fix_text(text))).strip()
        return " ".join(text.split()).strip().lower()

    def _merge(self, word: str) -> list[int]:
        cached = self._cache.get(word)
        if cached is not None:
            return cached
        parts = list(word[:-1]) + [word[-1] + "</w>"]
        while len(parts) > 1:
            best, best_rank = -1, None
            for i in range(len(parts) - 1):
                rank = self._ranks.get((parts[i], parts[i + 1]))
                if rank is not None and (best_rank is None or rank < best_rank):
                    best, best_rank = i, rank
            if best_rank is None:
                break
            first, second = parts[best], parts[best + 1]
            merged: list[str] = []
            i = 0
            while i < len(parts):  # merge every occurrence of the best pair, left to right
                if i < len(parts) - 1 and parts[i] == first and parts[i + 1] == second:
                    merged.append(first + second)
                    i += 2
                else:
                    merged.append(parts[i])
                    i += 1
            parts = merged
        ids = [self._ids[p] for p in parts]
        with self._lock:
            if len(self._cache) < 50_000:
                self._cache[word] = ids
        return ids

    def encode(self, text: str) -> list[int]:
        ids: list[int] = []
        for word in self._split.findall(self.clean(text)):
            if word in (_SOT, _EOT):
                ids.append(self._ids[word])
                continue
            ids.extend(self._merge("".join(self._bytes[b] for b in word.encode("utf-8"))))
        return ids

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        """[len(texts), context_length] int64 ids; too-long texts are cut and end with EOT."""
        out = np.zeros((len(texts), self.context_length), dtype=np.int64)
        for row, text in enumerate(texts):
            ids = [self.sot, *self.encode(text), self.eot]
            if len(ids) > self.context_length:
                ids = ids[: self.context_length]
                ids[-1] = self.eot
            out[row, : len(ids)] = ids
        return out
