"""How long `glimpse check` takes on a large library, part by part.

    PYTHONPATH=app python scripts/bench_check.py [--photos 100000] [--dim 512]

Generates a catalog of that many indexed photos (glimpse.diagnostics.synthetic,
the same generator as scripts/bench_scale.py) with a vector each, damages
0.1% of the vectors, then times the check without repairs, the check with
repairs, and a check of the repaired catalog; as a baseline in the same run,
it times reading every vector once (what opening the library for search does),
so the ratio says what the check costs beyond that.
"""

from __future__ import annotations

import argparse
import logging
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "app"))

from glimpse.core.indexing.check import check_catalog  # noqa: E402
from glimpse.core.signals.registry import signal_stages  # noqa: E402
from glimpse.core.storage.catalog import Catalog  # noqa: E402
from glimpse.diagnostics import synthetic  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--photos", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=512)
    args = ap.parse_args()
    logging.disable(logging.WARNING)  # the repairs log a line per chunk of damaged rows
    model = "synthetic:random"
    with tempfile.TemporaryDirectory(prefix="glimpse-check-") as tmp:
        path = Path(tmp) / "catalog.sqlite"
        rng = np.random.default_rng(0)
        vectors = rng.standard_normal((args.photos, args.dim)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        t = time.perf_counter()
        key = synthetic.build_catalog(path, vectors, model_id=model)
        print(f"generated {args.photos:,} photos in {time.perf_counter() - t:.0f} s "
              f"({path.stat().st_size / 2**20:,.0f} MiB)")
        damaged = max(1, args.photos // 1000)
        db = sqlite3.connect(path)
        db.executemany("UPDATE embeddings SET vector = substr(vector, 1, 100) WHERE photo_id = ?",
                       [(int(i),) for i in rng.choice(args.photos, damaged, replace=False) + 1])
        db.commit()
        db.close()
        catalog = Catalog(path)
        stages = signal_stages()
        for stage in stages:  # the signals' own tables, as a library that ran them has
            if stage.migrations:
                catalog.migrate_part(stage.name, stage.migrations)
        try:
            t = time.perf_counter()
            n = sum(len(ids) for ids, _ in catalog.iter_label_vectors(key))
            read_s = time.perf_counter() - t
            print(f"baseline: every vector read once (opening for search): {read_s:.2f} s ({n:,})")
            # iter_label_vectors removed the damaged rows it met; damage again for the check.
            with catalog.transaction() as w:
                w.executemany("UPDATE embeddings SET vector = substr(vector, 1, 100) WHERE photo_id = ?",
                              [(int(i),) for i in rng.choice(n, damaged, replace=False) + 1])
            for label, repair in (("check, report only", False), ("check with repairs", True),
                                  ("check of the repaired catalog", False)):
                t = time.perf_counter()
                report = check_catalog(catalog, model, stages, repair=repair)
                s = time.perf_counter() - t
                damage = sum(f.count for f in report.findings if not f.note)
                print(f"{label}: {s:.2f} s ({s / read_s:.2f}x the baseline); "
                      f"{report.vectors:,} vectors read, {damage:,} damaged rows found")
        finally:
            catalog.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
