"""Relevance feedback: "more like this one" and "not this" move the query vector.

Rocchio's rule, on unit vectors:  q' = a*q + b*mean(liked) - c*mean(unliked),
renormalised. In CLIP space a photo the user likes pulls the query toward
what it shows (the beach *and* the red bike), and one the user rejects pushes
away from it. The weights were tuned on flickr8k-1k with the learned small
model and a simulated user (scripts/tune_feedback.py; README "Ranking"), on
half of the queries, and reported on the other half.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from glimpse.core.errors import QueryError


@dataclass(frozen=True)
class FeedbackWeights:
    query: float = 1.0
    liked: float = 0.6
    unliked: float = 0.2


DEFAULT_WEIGHTS = FeedbackWeights()


def refine(
    query: np.ndarray,
    liked: Sequence[np.ndarray] | np.ndarray = (),
    unliked: Sequence[np.ndarray] | np.ndarray = (),
    weights: FeedbackWeights = DEFAULT_WEIGHTS,
) -> np.ndarray:
    """The query moved toward the liked photos and away from the unliked ones."""
    vec = weights.query * np.asarray(query, dtype=np.float32)
    if len(liked):
        vec = vec + weights.liked * _unit_mean(liked)
    if len(unliked):
        vec = vec - weights.unliked * _unit_mean(unliked)
    norm = float(np.linalg.norm(vec))
    if norm < 1e-6:
        raise QueryError("The feedback cancels the query out; clear some marks and try again.")
    return (vec / norm).astype(np.float32)


def _unit_mean(vectors: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
    matrix = np.asarray(vectors, dtype=np.float32).reshape(len(vectors), -1)
    matrix = matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
    return matrix.mean(axis=0)
