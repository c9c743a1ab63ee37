"""Prompt templates: compare query wordings ("{}" vs "a photo of {}") and their ensemble.

A template is a string with exactly one ``{}`` where the query goes. The
ensemble of several templates encodes the query through each of them and
takes the mean of the unit text vectors, renormalised to unit length (the
prompt ensembling of the CLIP paper), so inner products stay cosines.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from glimpse.core.errors import GlimpseError

AS_TYPED = "{}"
_TEXT_BATCH = 256


def check_templates(templates: Sequence[str]) -> list[str]:
    """Templates with exactly one ``{}`` each, listed once; a clear error otherwise."""
    out: list[str] = []
    for t in templates:
        if t.count("{}") != 1 or "{" in t.replace("{}", "") or "}" in t.replace("{}", ""):
            raise GlimpseError(f"A prompt template needs exactly one {{}} for the query (and no other braces): {t!r}.")
        if t in out:
            raise GlimpseError(f"Prompt template {t!r} is listed twice.")
        out.append(t)
    if not out:
        raise GlimpseError("Give at least one prompt template, e.g. \"{}\" or \"a photo of {}\".")
    return out


def apply_template(template: str, text: str) -> str:
    # str.replace, not format(): a query may itself contain braces.
    return template.replace("{}", text, 1)


def encode_texts(encoder: Any, texts: Sequence[str]) -> np.ndarray:
    """Unit text vectors in batches (float32)."""
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    parts = [encoder.encode_texts(list(texts[i : i + _TEXT_BATCH])) for i in range(0, len(texts), _TEXT_BATCH)]
    return np.concatenate(parts).astype(np.float32)


def encode_queries(encoder: Any, texts: Sequence[str], templates: Sequence[str] = (AS_TYPED,)) -> np.ndarray:
    """Query vectors through one template, or the renormalised mean over several (ensemble)."""
    total: np.ndarray | None = None
    for t in templates:
        vecs = encode_texts(encoder, [apply_template(t, x) for x in texts])
        total = vecs if total is None else total + vecs
    assert total is not None
    if len(templates) > 1:
        total /= np.maximum(np.linalg.norm(total, axis=1, keepdims=True), 1e-12)
    return total
