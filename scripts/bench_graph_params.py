#!/usr/bin/env python3
"""Choosing the graph tier's parameters: recall@10 and latency of an hnswlib graph
over PCA-reduced clustered vectors, re-ranked exactly from float16, against exact
float32 search, for several (ef_search, rerank depth) per build.

    flock /tmp/glimpse-cpu.lock python scripts/bench_graph_params.py N DIMS M EF_CONSTRUCTION
    e.g. scripts/bench_graph_params.py 300000 256,512 16 100   (DIMS: graph dimensions; 512 = no PCA)

Prints one line per (graph dim, ef, depth): build time, recall, p50. The chosen
defaults live in core/storage/graph_index.py (GraphParams); scripts/bench_scale.py
--index hnsw measures them through VectorIndex itself.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import hnswlib
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "app"))
from glimpse.diagnostics import synthetic  # noqa: E402

SETTINGS = ((128, 100), (256, 200), (400, 400))  # (ef_search, rerank depth)


def main() -> int:
    n, dims, m, efc = int(sys.argv[1]), [int(x) for x in sys.argv[2].split(",")], int(sys.argv[3]), int(sys.argv[4])
    rng = np.random.default_rng(0)
    data, make_queries = synthetic.clustered_vectors(n, 512, rng)
    qs = make_queries(100)
    data16 = data.astype(np.float16)
    truth = [set(np.argsort(-(data @ q))[:10].tolist()) for q in qs]
    sample = data[rng.choice(n, min(n, 50_000), replace=False)]
    _, eig = np.linalg.eigh(sample.T @ sample)
    for d in dims:
        proj = eig[:, ::-1][:, :d].astype(np.float32)
        reduced = data @ proj if d < 512 else data
        graph = hnswlib.Index(space="ip", dim=d)
        graph.init_index(n, M=m, ef_construction=efc)
        t = time.perf_counter()
        graph.add_items(reduced, np.arange(n), num_threads=2)
        build = time.perf_counter() - t
        for ef, depth in SETTINGS:
            graph.set_ef(max(ef, depth))
            hits, times = 0, []
            for q, true in zip(qs, truth, strict=True):
                t = time.perf_counter()
                labels, _ = graph.knn_query(q @ proj if d < 512 else q, k=depth, num_threads=1)
                cand = labels[0].astype(np.int64)
                top = cand[np.argsort(-(data16[cand].astype(np.float32) @ q))[:10]]
                times.append(time.perf_counter() - t)
                hits += len(set(top.tolist()) & true)
            print(f"clustered n={n} graph_dim={d} M={m} ef_construction={efc} build={build:.1f}s "
                  f"ef={ef} depth={depth} recall@10={hits / (10 * len(qs)):.4f} "
                  f"p50={np.median(times) * 1000:.2f}ms", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
