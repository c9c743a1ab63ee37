"""Near-duplicates: the same scene at another size, re-saved, or a burst of shots.

Phone archives hold the same picture many times (an edit, a resized export,
ten burst shots a second apart); in a result grid they crowd out everything
else. Two photos are near-duplicates when their image vectors are almost the
same (cosine >= NEAR_DUPLICATE_COSINE), or when they were taken within
BURST_SECONDS of each other and are still very alike (cosine >=
BURST_COSINE). The thresholds were chosen by measurement on the sample photos
(scripts/bench_duplicates.py; README "Ranking").

Nothing here deletes anything: `find_groups` only says which photo of a group
it would keep (the most pixels, then the largest file, then the first path).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

NEAR_DUPLICATE_COSINE = 0.95
BURST_COSINE = 0.85
BURST_SECONDS = 10.0


@dataclass(frozen=True)
class Rules:
    cosine: float = NEAR_DUPLICATE_COSINE
    burst_cosine: float = BURST_COSINE
    burst_seconds: float = BURST_SECONDS


def _seconds(taken_at: str | None) -> float | None:
    if not taken_at:
        return None
    try:
        return datetime.fromisoformat(taken_at).timestamp()
    except ValueError:
        return None


def alike(cos: float, t1: str | None, t2: str | None, rules: Rules) -> bool:
    if cos >= rules.cosine:
        return True
    a, b = _seconds(t1), _seconds(t2)
    return a is not None and b is not None and abs(a - b) <= rules.burst_seconds and cos >= rules.burst_cosine


def collapse(
    vectors: np.ndarray, taken_at: Sequence[str | None], rules: Rules = Rules()
) -> list[list[int]]:
    """Group ranked results: each result joins the first earlier group whose
    leader it duplicates, so every group is led by its best-ranked member and
    the groups keep the ranking's order. Returns lists of row numbers."""
    vectors = np.asarray(vectors, dtype=np.float32)
    # Stored vectors are float16: renormalise so that a copy scores 1.0, not 0.999.
    vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=-1, keepdims=True), 1e-12)
    groups: list[list[int]] = []
    leaders: list[int] = []
    for row in range(len(vectors)):
        if leaders:
            cos = vectors[leaders] @ vectors[row]
            for g, leader in enumerate(leaders):
                if alike(float(cos[g]), taken_at[leader], taken_at[row], rules):
                    groups[g].append(row)
                    break
            else:
                leaders.append(row)
                groups.append([row])
        else:
            leaders.append(row)
            groups.append([row])
    return groups


@dataclass
class DuplicateGroup:
    photo_ids: list[int]
    keep: int  # the photo that would be kept
    similarity: float  # the lowest cosine that links the group
    others: list[int] = field(default_factory=list)  # the ones that would go


def nearest_in_blocks(
    ids: np.ndarray, matrix: np.ndarray, k: int, block_bytes: int = 256 << 20
) -> Iterator[list[tuple[int, float]]]:
    """The k nearest (id, cosine) of every row of `matrix`, in row order: one
    matrix product per block of rows (BLAS), several times faster over a whole
    library than a separate scan per photo. A block's scores stay within
    `block_bytes`."""
    rows = max(16, block_bytes // (4 * max(1, len(ids))))
    k = min(k, len(ids))
    if k == 0:
        return
    for start in range(0, len(ids), rows):
        scores = matrix[start : start + rows] @ matrix.T
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        for r in range(len(scores)):
            order = top[r][np.argsort(-scores[r, top[r]])]
            yield [(int(ids[j]), float(scores[r, j])) for j in order]


def nearest_in_batches(
    matrix: np.ndarray, k: int,
    neighbours_batch: Callable[[np.ndarray, int], list[list[tuple[int, float]]]],
    rows: int = 4096,
) -> Iterator[list[tuple[int, float]]]:
    """The k nearest (id, cosine) of every row, in row order, from an index that
    answers many queries at once (the graph tier: time grows about as n log n,
    where all-pairs grows as n squared)."""
    for start in range(0, len(matrix), rows):
        yield from neighbours_batch(matrix[start : start + rows], k)


def find_groups(
    ids: np.ndarray,
    matrix: np.ndarray,
    neighbours: Callable[[np.ndarray, int], list[tuple[int, float]]] | None,
    taken_at: dict[int, str | None],
    quality: Callable[[int], tuple],
    rules: Rules = Rules(),
    k: int = 10,
    neighbours_batch: Callable[[np.ndarray, int], list[list[tuple[int, float]]]] | None = None,
) -> list[DuplicateGroup]:
    """Every group of near-duplicates in a library, largest first.

    `neighbours(vector, k)` answers (id, cosine) pairs; `neighbours_batch(rows, k)`
    the same for many rows at once (the graph tier, for large libraries); with
    neither, exact neighbours from `matrix` itself, a block of photos at a time.
    """
    parent = {int(i): int(i) for i in ids}

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    weakest: dict[int, float] = {}
    if neighbours_batch is not None:
        near: Iterator[list[tuple[int, float]]] = nearest_in_batches(matrix, k, neighbours_batch)
    elif neighbours is not None:
        near = (neighbours(vec, k) for vec in matrix)
    else:
        near = nearest_in_blocks(ids, matrix, k)
    for pid, found in zip(ids, near, strict=True):
        pid = int(pid)
        for other, cos in found:
            if other == pid or other not in parent:
                continue
            if alike(cos, taken_at.get(pid), taken_at.get(other), rules):
                a, b = find(pid), find(other)
                if a != b:
                    parent[b] = a
                    weakest[a] = min(weakest.get(a, 1.0), weakest.pop(b, 1.0), cos)
                else:
                    weakest[a] = min(weakest.get(a, 1.0), cos)
    members: dict[int, list[int]] = {}
    for pid in parent:
        members.setdefault(find(pid), []).append(pid)
    groups = []
    for root, group in members.items():
        if len(group) < 2:
            continue
        keep = max(group, key=quality)
        groups.append(DuplicateGroup(sorted(group), keep, weakest.get(root, 1.0),
                                     sorted(p for p in group if p != keep)))
    groups.sort(key=lambda g: (-len(g.photo_ids), g.photo_ids[0]))
    return groups
