#!/usr/bin/env python3
"""Duplicates from the graph tier against all-pairs: same groups? how much faster?

Synthetic library: clustered 512-d vectors (glimpse.diagnostics.synthetic) with
5% planted near-copies (noise keeping cosine about 0.95-0.99 to their original,
like a resized or re-saved photo). Per size it runs core/search/duplicates.py's
find_groups twice, exact all-pairs (blocks of matrix products) and from the
graph tier's neighbours (VectorIndex.neighbours_batch, re-ranked exactly), and
prints the agreement (groups identical, planted pairs found by each) and the
times (graph build counted separately: Library keeps the graph saved).

    flock /tmp/glimpse-cpu.lock python scripts/bench_duplicates_graph.py              # 20k
    flock /tmp/glimpse-cpu.lock python scripts/bench_duplicates_graph.py --sizes 20000 300000 --exact-up-to 100000
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "app"))

from glimpse.core.search import duplicates  # noqa: E402
from glimpse.core.storage.vector_index import VectorIndex  # noqa: E402
from glimpse.diagnostics import synthetic  # noqa: E402

DIM = 512


def library(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, int]:
    planted = n // 20
    base, _ = synthetic.clustered_vectors(n - planted, DIM, rng)
    picked = rng.choice(n - planted, planted, replace=False)
    noise = rng.standard_normal((planted, DIM), dtype=np.float32)
    noise *= rng.uniform(0.1, 0.3, (planted, 1)).astype(np.float32) / np.linalg.norm(noise, axis=1, keepdims=True)
    copies = synthetic.unit_rows(base[picked] + noise)
    vectors = np.concatenate([base, copies]).astype(np.float32)
    ids = np.arange(1, n + 1, dtype=np.int64)
    return ids, vectors, planted


def pairs_of(groups: list[duplicates.DuplicateGroup]) -> set[tuple[int, int]]:
    return {(a, b) for g in groups for a in g.photo_ids for b in g.photo_ids if a < b}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[20_000])
    ap.add_argument("--exact-up-to", type=int, default=100_000, help="all-pairs only up to this size")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    for n in args.sizes:
        ids, vectors, planted = library(n, rng)
        rules, quality = duplicates.Rules(), (lambda i: (i,))
        index = VectorIndex(DIM)
        index.add(ids, vectors)
        t = time.perf_counter()
        check = index.attach_graph(index.build_graph(), min_recall=0.0)
        build = time.perf_counter() - t
        t = time.perf_counter()
        graph = duplicates.find_groups(ids, vectors, None, {}, quality, rules,
                                       neighbours_batch=index.neighbours_batch)
        graph_s = time.perf_counter() - t
        print(f"== {n:,} vectors, {planted:,} planted copies; graph built in {build:.1f} s "
              f"(recall check {check:.3f})", flush=True)
        print(f"  graph neighbours: {len(graph):,} groups in {graph_s:.1f} s", flush=True)
        if n <= args.exact_up_to:
            t = time.perf_counter()
            exact = duplicates.find_groups(ids, vectors, None, {}, quality, rules)
            exact_s = time.perf_counter() - t
            same = len({tuple(g.photo_ids) for g in graph} & {tuple(g.photo_ids) for g in exact})
            e_pairs, g_pairs = pairs_of(exact), pairs_of(graph)
            print(f"  all-pairs:        {len(exact):,} groups in {exact_s:.1f} s "
                  f"({exact_s / graph_s:.1f}x the graph's time, build excluded)", flush=True)
            print(f"  agreement: {same:,} of {len(exact):,} all-pairs groups identical "
                  f"({same / max(1, len(exact)):.4f}); pairs: {len(e_pairs & g_pairs):,} of {len(e_pairs):,} "
                  f"found by the graph, {len(g_pairs - e_pairs)} it adds", flush=True)
        del index
    return 0


if __name__ == "__main__":
    sys.exit(main())
