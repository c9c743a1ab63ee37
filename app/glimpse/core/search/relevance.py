"""Weaker matches: a relevance cut-off a user can understand (Immich #5996 asks for one).

A result under its model's cut-off is a *weaker match*: the app folds those
under "N weaker matches", the CLI lists them after a divider, JSON marks them
`"weak": true`. Photos found by their words or taken in a place the query
names are never weaker: they have evidence besides the score.

The cut-off is a score calibrated per model: `glimpse eval` on a label set
stores, for each model it evaluates, the cosine similarity that keeps KEEP of
the sought photos that ranked in the first FIRST_SCREEN results (what fits
the first screen). A cosine means different things for different models (one
model's 0.25 is another's 0.6), so a model not yet evaluated in a library is
read against the library instead: a result's z-score, how many standard
deviations its score stands above this query's score on the library's
typical photo, under DEFAULT_Z is weaker. That mean and spread need no scan:
for vectors with mean mu and covariance S, the scores q.v have mean q.mu and
variance q'Sq; mu and S come from a sample of up to SAMPLE vectors, kept
until the library's size changes by a tenth. `scripts/bench_cutoff.py`
measures both rules on the learned test model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

SAMPLE = 20_000
FIRST_SCREEN = 20
KEEP = 0.95
MIN_CALIBRATION_QUERIES = 20  # fewer targets on the first screen: too few to set a cut-off
# scripts/bench_cutoff.py on flickr8k-1k with the learned test model: the 5th
# percentile of the z of the sought photos of the 955 of 5000 captions that rank
# them in the top 20 (1.857; calibrated on half the photos, 1.853 keeps 95.7% of
# the other half's).
DEFAULT_Z = 1.86
COSINE, Z = "cosine", "z"


@dataclass(frozen=True)
class Cutoff:
    """Under this, a result is a weaker match: a cosine (calibrated for the model) or a z."""

    kind: str  # COSINE or Z
    value: float


@dataclass(frozen=True)
class Spread:
    """The mean and covariance of a library's vectors: what a query's scores over it
    look like, without scoring them all."""

    mean: np.ndarray  # (d,)
    cov: np.ndarray  # (d, d)
    count: int  # vectors in the library when measured

    @classmethod
    def of(cls, vectors: np.ndarray, count: int | None = None) -> Spread:
        v = np.asarray(vectors, dtype=np.float64)
        if v.ndim != 2 or len(v) < 2:
            raise ValueError("a spread needs at least two vectors")
        mean = v.mean(axis=0)
        centred = v - mean
        cov = centred.T @ centred / (len(v) - 1)
        return cls(mean, cov, len(v) if count is None else count)

    def z(self, query: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """Each score's distance above the query's mean score, in its standard deviations.
        `query` is one vector (d,) with `scores` (n,), or queries (m, d) with scores (m, n)."""
        q = np.asarray(query, dtype=np.float64)
        s = np.asarray(scores, dtype=np.float64)
        if q.ndim == 1:
            mu = float(q @ self.mean)
            sd = math.sqrt(max(float(q @ self.cov @ q), 1e-12))
            return (s - mu) / sd
        mu_rows = q @ self.mean
        var_rows = np.einsum("ij,jk,ik->i", q, self.cov, q)
        return (s - mu_rows[:, None]) / np.sqrt(np.maximum(var_rows, 1e-12))[:, None]

    def stale(self, count: int) -> bool:
        """True once the library has grown or shrunk by a tenth since measured."""
        return abs(count - self.count) > max(1, self.count // 10)


def sample_rows(count: int, sample: int = SAMPLE, seed: int = 0) -> np.ndarray:
    """Which of `count` rows to measure a spread on: all of them, or `sample` spread evenly
    at random (seeded, so the same library gives the same cut)."""
    if count <= sample:
        return np.arange(count)
    return np.sort(np.random.default_rng(seed).choice(count, size=sample, replace=False))


def calibrate(
    query_vectors: np.ndarray, gallery: np.ndarray, target_rows: np.ndarray, ranks: np.ndarray,
    kind: str = COSINE, first: int = FIRST_SCREEN, keep: float = KEEP,
) -> float | None:
    """The cut-off (a cosine, or a z) that keeps `keep` of the sought photos ranked
    within `first`: from a label set's queries (rows of `query_vectors`), their
    targets' gallery rows and the targets' ranks. None when too few targets reach
    the first screen."""
    ranks = np.asarray(ranks)
    shown = ranks <= first
    if int(shown.sum()) < MIN_CALIBRATION_QUERIES:
        return None
    q = np.asarray(query_vectors, dtype=np.float32)[shown]
    own = np.sum(q * np.asarray(gallery, dtype=np.float32)[np.asarray(target_rows)[shown]], axis=1)
    if kind == Z:
        spread = Spread.of(gallery[sample_rows(len(gallery))], count=len(gallery))
        own = spread.z(q, own[:, None])[:, 0]
    return round(float(np.quantile(own, 1.0 - keep)), 4)


def weak_flags(cutoff: Cutoff, query: np.ndarray, scores: np.ndarray,
               spread: Spread | None = None) -> np.ndarray:
    """True for each score under the cut-off (a z cut-off needs the library's spread)."""
    scores = np.asarray(scores, dtype=np.float64)
    if cutoff.kind == Z:
        if spread is None:
            return np.zeros(len(scores), dtype=bool)
        scores = spread.z(query, scores)
    return scores < cutoff.value
