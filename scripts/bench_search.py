#!/usr/bin/env python3
"""Query latency and HNSW recall@10 against exact search, at 10k and 100k vectors.

Two synthetic distributions of unit vectors:
  uniform    random directions in 512-d: the worst case for any graph index,
             since every point is nearly equidistant from every other;
  clustered  points scattered around a few thousand centres, closer to how
             CLIP embeddings of a photo archive sit (bursts of similar shots).
The baseline, measured in the same run, is exact search (a numpy matrix
product over all vectors); ratios are exact latency / HNSW latency.

    python scripts/bench_search.py                # 10k and 100k, both distributions
    python scripts/bench_search.py --sizes 10000 --queries 200
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "app"))

from glimpse.core.index import EF_SEARCH, M, VectorIndex, exact_search  # noqa: E402

DIM = 512


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def make_data(kind: str, n: int, queries: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    if kind == "uniform":
        return unit(rng.normal(size=(n, DIM))), unit(rng.normal(size=(queries, DIM)))
    centres = unit(rng.normal(size=(max(n // 30, 10), DIM)))
    # Noise of 0.06 per dimension puts a point at cosine ~0.75 from its centre,
    # about how near-duplicate photos sit around the shot they vary.
    pick = rng.integers(0, len(centres), n)
    data = unit(centres[pick] + rng.normal(scale=0.06, size=(n, DIM)))
    qpick = rng.integers(0, len(centres), queries)
    return data, unit(centres[qpick] + rng.normal(scale=0.06, size=(queries, DIM)))


def percentile_ms(times: list[float], p: float) -> float:
    return float(np.percentile(np.array(times) * 1000, p))


def bench(kind: str, n: int, queries: int, seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    data, qs = make_data(kind, n, queries, rng)
    ids = np.arange(1, n + 1, dtype=np.int64)
    t = time.perf_counter()
    index = VectorIndex(DIM, capacity=n)
    for start in range(0, n, 10_000):
        index.add(ids[start : start + 10_000], data[start : start + 10_000])
    build_s = time.perf_counter() - t

    hnsw_t, exact_t, overlap = [], [], 0
    for q in qs:
        t = time.perf_counter()
        approx = index.search(q, 10)
        hnsw_t.append(time.perf_counter() - t)
        t = time.perf_counter()
        exact = exact_search(data, ids, q, 10)
        exact_t.append(time.perf_counter() - t)
        overlap += len({i for i, _ in approx} & {i for i, _ in exact})
    return {
        "build_s": build_s,
        "recall10": overlap / (10 * len(qs)),
        "hnsw_p50": percentile_ms(hnsw_t, 50),
        "hnsw_p95": percentile_ms(hnsw_t, 95),
        "exact_p50": percentile_ms(exact_t, 50),
        "exact_p95": percentile_ms(exact_t, 95),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--kinds", nargs="+", default=["clustered", "uniform"])
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    print(f"HNSW M={M}, ef_search={EF_SEARCH}, dim={DIM}; baseline = exact numpy search, same run")
    print(f"{'data':<10} {'n':>7} {'build s':>8} {'recall@10':>9} {'HNSW p50/p95 ms':>16} "
          f"{'exact p50/p95 ms':>17} {'speed-up p50':>12}")
    for n in args.sizes:
        for kind in args.kinds:
            r = bench(kind, n, args.queries, args.seed)
            print(
                f"{kind:<10} {n:>7} {r['build_s']:>8.1f} {r['recall10']:>9.3f} "
                f"{r['hnsw_p50']:>7.2f}/{r['hnsw_p95']:<8.2f} {r['exact_p50']:>8.2f}/{r['exact_p95']:<8.2f} "
                f"{r['exact_p50'] / r['hnsw_p50']:>11.1f}x",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
