#!/usr/bin/env python3
"""Glimpse at 100k, 300k and 1M photos: search quality and speed, memory, build, catalog.

Every figure of README "A million photos" comes from this script. Per size:

  search    recall@10 of Glimpse's index (core/storage/vector_index.py: exact scan over float16
            vectors in faiss) against exact float32 numpy search, the baseline,
            measured in the same run on the same queries; p50/p95 latency of both
            and their ratio. Distributions: `clustered` (points around shared
            centres, like bursts of similar shots), `uniform` (random directions,
            the worst case for any approximate index); and, at its own size, `real`:
            the learned small model's embeddings of the Flickr8k photos here
            (tests/assets/flickr-small-clip) queried with their captions.
  filter    a narrow filter (one folder, 0.2% of photos) applied inside the search:
            results returned (must be min(k, matches)), recall, latency.
  build     building the index from vectors; adding 1,000 photos to a full one.
  library   a generated catalog of that many rows (glimpse.diagnostics.synthetic):
            opening it and building the index from it (the full rebuild), in a
            fresh process with its peak memory; catalog filter queries (folder,
            date, place) and the folder counts the GUI shows.
  rescan    a no-op rescan of unchanged files (--rescan sizes; real files on disk).

    flock /tmp/glimpse-cpu.lock python scripts/bench_scale.py                  # 100k, 300k
    flock /tmp/glimpse-cpu.lock python scripts/bench_scale.py --million        # and 1M
    python scripts/bench_scale.py --sizes 20000 --queries 50 --rescan 5000     # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "app"))

from glimpse.core.storage.graph_index import GraphParams  # noqa: E402
from glimpse.core.storage.vector_index import GRAPH_THRESHOLD, VectorIndex, exact_search  # noqa: E402
from glimpse.diagnostics import synthetic  # noqa: E402

DIM = 512
OUT = ROOT / "bench-out" / "scale"
SHARED = ROOT.parent / "shared" / "data"
SMALL_MODEL = ROOT / "tests" / "assets" / "flickr-small-clip" / "GlimpseFlickrSmall.pt"


def ms(times: list[float], p: float) -> float:
    return float(np.percentile(np.array(times) * 1000, p))


def rss_mib() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def compare(
    index: VectorIndex, data: np.ndarray, ids: np.ndarray, queries: np.ndarray,
    allowed: np.ndarray | None = None, k: int = 10,
) -> dict[str, float]:
    """Recall@k and latency of the index against exact float32 search, same queries."""
    sub_data, sub_ids = (data, ids) if allowed is None else (data[allowed - 1], allowed)
    allowed_set = None if allowed is None else {int(i) for i in allowed}
    ours, base, overlap, returned = [], [], 0, 0
    for q in queries:
        t = time.perf_counter()
        got = index.search(q, k, allowed=allowed_set)
        ours.append(time.perf_counter() - t)
        t = time.perf_counter()
        truth = exact_search(sub_data, sub_ids, q, k)
        base.append(time.perf_counter() - t)
        overlap += len({i for i, _ in got} & {i for i, _ in truth})
        returned += len(got)
    expected = min(k, len(sub_ids)) * len(queries)
    return {
        "recall": overlap / expected, "returned": returned / len(queries),
        "p50": ms(ours, 50), "p95": ms(ours, 95), "base_p50": ms(base, 50), "base_p95": ms(base, 95),
    }


def print_search(label: str, n: int, r: dict[str, float]) -> None:
    print(f"  {label:<22} {n:>9,} recall@10 {r['recall']:.4f}  ours p50/p95 {r['p50']:7.2f}/{r['p95']:<7.2f} ms"
          f"  exact numpy {r['base_p50']:7.2f}/{r['base_p95']:<7.2f} ms  ratio {r['base_p50'] / r['p50']:5.2f}x"
          f"  results {r['returned']:.1f}", flush=True)


def bench_vectors(n: int, queries: int, rng: np.random.Generator, mode: str,
                  params: GraphParams, kinds: tuple[str, ...] = ("clustered", "uniform")) -> np.ndarray:
    """Search, filter and build figures at one size; returns the clustered vectors
    (reused for the generated catalog). `mode`: exact (the faiss scan alone),
    hnsw (the graph tier, beside the exact scan's figures from the same run),
    auto (what Library does: the graph from GRAPH_THRESHOLD vectors on)."""
    keep = None
    graph = mode == "hnsw" or (mode == "auto" and n >= GRAPH_THRESHOLD)
    for kind in kinds:
        if kind == "clustered":
            data, make_queries = synthetic.clustered_vectors(n, DIM, rng)
            qs = make_queries(queries)
        else:
            data = synthetic.uniform_vectors(n, DIM, rng)
            qs = synthetic.uniform_vectors(queries, DIM, rng)
        ids = np.arange(1, n + 1, dtype=np.int64)
        before = rss_mib()
        t = time.perf_counter()
        index = VectorIndex(DIM, params)
        for start in range(0, n, 50_000):
            index.add(ids[start : start + 50_000], data[start : start + 50_000])
        build = time.perf_counter() - t
        held = rss_mib() - before
        exact = compare(index, data, ids, qs)
        print_search(f"{kind} exact", n, exact)
        folder = np.arange(1, n + 1, dtype=np.int64)[: synthetic.PHOTOS_PER_FOLDER]
        half = np.arange(1, n + 1, 2, dtype=np.int64)
        if kind == "clustered":
            # One folder of the generated catalog: 0.2% of the photos at 1M.
            print_search("  filter: one folder", len(folder), compare(index, data, ids, qs, allowed=folder))
            print(f"  exact: build {build:6.2f} s from vectors; store memory {held:6.0f} MiB "
                  f"({held * 1024 * 1024 / n:.0f} B a vector)", flush=True)
        if graph:
            before = rss_mib()
            t = time.perf_counter()
            built = index.build_graph()
            graph_build = time.perf_counter() - t
            t = time.perf_counter()
            check = index.attach_graph(built)
            attach = time.perf_counter() - t
            graph_held = rss_mib() - before
            print(f"  graph: built in {graph_build:6.1f} s ({os.cpu_count()} threads), recall check "
                  f"{check:.3f} in {attach:.1f} s -> tier {index.tier}; graph memory {graph_held:6.0f} MiB "
                  f"measured, {built.memory_bytes() / n:.0f} B a vector by its layout", flush=True)
            if index.tier != "graph":
                index.attach_graph(built, min_recall=0.0)  # measured anyway: what it would give
            r = compare(index, data, ids, qs)
            print_search(f"{kind} graph", n, r)
            print(f"  {'':<22} graph p50 vs the exact faiss scan: {exact['p50'] / r['p50']:5.2f}x faster", flush=True)
            if kind == "clustered":
                print_search("  filter: one folder", len(folder), compare(index, data, ids, qs, allowed=folder))
                print_search("  filter: half", len(half), compare(index, data, ids, qs, allowed=half))
        if kind == "clustered":
            extra = synthetic.unit_rows(rng.standard_normal((1000, DIM), dtype=np.float32))
            new_ids = np.arange(n + 1, n + 1001, dtype=np.int64)
            t = time.perf_counter()
            index.add(new_ids, extra)
            add_1k = time.perf_counter() - t
            t = time.perf_counter()
            index.remove(new_ids.tolist())
            remove_1k = time.perf_counter() - t
            print(f"  update ({index.tier} tier): adding 1,000 {add_1k * 1000:.0f} ms; "
                  f"removing them {remove_1k * 1000:.0f} ms", flush=True)
            keep = data
        del index
    if keep is None:  # uniform alone: the catalog still gets clustered vectors
        keep = synthetic.clustered_vectors(n, DIM, rng)[0]
    return keep


def bench_real(queries: int, mode: str, params: GraphParams) -> None:
    """The learned small model's embeddings of Flickr8k photos, queried with captions."""
    lib_dir = OUT / "real-lib"
    model = f"GlimpseFlickrSmall:{SMALL_MODEL}"
    if not SMALL_MODEL.is_file() or not (SHARED / "flickr8k-1k").is_dir():
        print("  real: skipped (the learned model or ../shared/data/flickr8k-1k is absent)")
        return
    from glimpse.core.library import Library

    with Library(lib_dir, model=model) as lib:
        for folder in (SHARED / "flickr8k-1k" / "images", SHARED / "flickr8k-train-128" / "images"):
            if folder.is_dir() and str(folder.resolve()) not in lib.folder_paths():
                lib.add_folder(folder)
        if lib.pending_count() or not lib.catalog.counts().get("ok"):
            print("  real: encoding the Flickr8k photos with the learned model (once, cached)...", flush=True)
            lib.index(only={"scan", "encode"})
        ids, data = lib.catalog.embeddings(lib.model_key())
        captions = [
            line.split(",", 1)[1].strip().strip('"')
            for line in (SHARED / "flickr8k-1k" / "captions.csv").read_text("utf-8").splitlines()[1:]
        ]
        picked = captions[:: max(1, len(captions) // queries)][:queries]
        qs = lib.encoder.encode_texts(picked)
        index = lib.index_for()
    qs = np.asarray(qs, np.float32)
    print_search("real (Flickr8k+model)", len(ids), compare(index, data, ids, qs))
    if mode == "hnsw":
        graph_index = VectorIndex(index.dim, params)
        graph_index.add(ids, data)
        check = graph_index.attach_graph(graph_index.build_graph())
        print(f"  real: graph recall check {check:.3f} -> tier {graph_index.tier}", flush=True)
        if graph_index.tier != "graph":
            graph_index.attach_graph(graph_index.build_graph(), min_recall=0.0)
        print_search("real graph", len(ids), compare(graph_index, data, ids, qs))


_OPEN_LIBRARY = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
t0 = time.perf_counter()
from glimpse.core.library import Library
from glimpse.core.search.ranking import Filters
import numpy as np
lib = Library(sys.argv[2], model=sys.argv[3])
lib.graph_threshold = int(sys.argv[4])
t = time.perf_counter()
index = lib.index_for()
build = time.perf_counter() - t
graph = {}
job = lib.graph_job()
if job is not None:  # the exact tier answers while it builds; wait for the switch
    q0 = np.random.default_rng(2).standard_normal(index.dim).astype(np.float32)
    t = time.perf_counter(); index.search(q0 / np.linalg.norm(q0), 10)
    graph["search_while_building_ms"] = (time.perf_counter() - t) * 1000
    t = time.perf_counter()
    job.wait()
    graph.update(wait_s=time.perf_counter() - t, source=job.source, tier=index.tier,
                 recall_check=job.recall, error=job.error)
cat = lib.catalog
q = np.random.default_rng(1).standard_normal(index.dim).astype(np.float32)
q /= np.linalg.norm(q)
times = {}
def timed(name, fn, repeat=5):
    out = []
    for _ in range(repeat):
        t = time.perf_counter(); fn(); out.append(time.perf_counter() - t)
    times[name] = sorted(out)[len(out) // 2]
folders = cat.folders()
timed("folder counts (GUI panel)", cat.folders)
timed("filter: one folder", lambda: cat.photo_ids_matching(folder=folders[len(folders) // 2].path))
timed("filter: one year", lambda: cat.photo_ids_matching(after="2016-01-01", before="2017-01-01"))
timed("filter: one month", lambda: cat.photo_ids_matching(after="2016-03-01", before="2016-04-01"))
timed("filter: a place (Kyoto)", lambda: cat.photo_ids_matching(place_key="kyoto"))
timed("search, no filter", lambda: lib._rank(q, 10, None, None, None))
timed("search, one month", lambda: lib._rank(q, 10, Filters(after="2016-03-01", before="2016-04-01"), None, None))
timed("search, one folder", lambda: lib._rank(q, 10, Filters(folder=folders[len(folders) // 2].path), None, None))
hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
lib.close()
print(json.dumps({"vectors": len(index), "build_s": build, "open_s": time.perf_counter() - t0,
                  "peak_mib": hwm / 1024, "times": times, "graph": graph}))
"""


_OPEN_APP = r"""
import json, os, sys, time
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, sys.argv[1])
from PySide6.QtWidgets import QApplication
from glimpse.core.indexing.encode import EncodeReport
from glimpse.core.indexing.scan import ScanReport
from glimpse.core.library import IndexReport, Library
# The generated rows name photos that are not on disk: skip the start-up rescan.
Library.index = lambda self, *a, **kw: IndexReport(ScanReport(), EncodeReport())
from glimpse.ui.main_window import MainWindow
app = QApplication([])
app.setOrganizationName("GlimpseBench")  # keep the user's own window settings out of it
app.setApplicationName("GlimpseBench")
t0 = time.perf_counter()
window = MainWindow()
window.show()
c = window.controller
shown = []
window.resultsShown.connect(lambda *a: shown.append(time.perf_counter()))
c.open(sys.argv[2], sys.argv[3], "cpu", watch=False)
deadline = time.time() + 600
while c.state != "ready" and time.time() < deadline:
    app.processEvents(); time.sleep(0.01)
ready = time.perf_counter() - t0
window.search_tab.search.setText("children playing on a beach")
window.search_tab.run_search()
while not shown and time.time() < deadline:
    app.processEvents(); time.sleep(0.01)
first = time.perf_counter() - t0
rows = window.search_tab.results_model.rowCount()
peak = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")) / 1024
# `glimpse search` from a terminal meanwhile: answered by this window's service.
import subprocess
t = time.perf_counter()
# Its peak from its own VmHWM: ru_maxrss would carry this process's over the fork.
cli_code = ("import sys; from glimpse.cli.main import main; rc = main(sys.argv[1:]); "
            "sys.stderr.write('HWM ' + next(l.split()[1] for l in open('/proc/self/status') "
            "if l.startswith('VmHWM:')) + chr(10)); sys.exit(rc)")
cli = subprocess.run([sys.executable, "-c", cli_code, "search", "a dog", "--library", sys.argv[2],
                      "--model", sys.argv[3], "-k", "5"], env={**os.environ, "PYTHONPATH": sys.argv[1]},
                     capture_output=True, text=True)
cli_hwm = [int(l.split()[1]) for l in cli.stderr.splitlines() if l.startswith("HWM ")]
cli_s = time.perf_counter() - t
window.close()
print(json.dumps({"ready_s": ready, "results_s": first, "rows": rows, "peak_mib": peak,
                  "cli_s": cli_s, "cli_rc": cli.returncode, "cli_lines": len(cli.stdout.splitlines()),
                  "cli_peak_mib": cli_hwm[0] / 1024 if cli_hwm else -1}))
os._exit(0)
"""


def bench_app(lib_dir: Path, model: str) -> None:
    """The desktop app on a generated library: model text tower + index + Qt, peak memory."""
    out = subprocess.run(
        [sys.executable, "-c", _OPEN_APP, str(ROOT / "app"), str(lib_dir), model],
        capture_output=True, text=True,
    )
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode != 0 or not lines:
        print(f"  app: failed ({out.stderr.strip().splitlines()[-1:]})")
        return
    r = json.loads(lines[-1])
    print(f"  app (GUI offscreen, {model} text tower, the index): ready in {r['ready_s']:.1f} s, "
          f"first results {r['results_s']:.1f} s ({r['rows']} shown); peak memory {r['peak_mib']:,.0f} MiB",
          flush=True)
    print(f"  `glimpse search` meanwhile, through the app's service: {r['cli_s']:.2f} s, exit {r['cli_rc']}, "
          f"{r['cli_lines']} lines; its peak memory {r['cli_peak_mib']:,.0f} MiB", flush=True)


def bench_library(n: int, vectors: np.ndarray | None, app: bool = False, threshold: int = GRAPH_THRESHOLD) -> None:
    """A generated catalog of n rows: rebuild from it, memory, catalog queries."""
    lib_dir = OUT / f"lib-{n}"
    model = "ViT-B-32-256:random"
    from glimpse.core.encoding.encoder import ModelSpec

    model_id = ModelSpec.parse(model).model_id
    if not (lib_dir / "catalog.sqlite").is_file():
        assert vectors is not None
        shutil.rmtree(lib_dir, ignore_errors=True)
        t = time.perf_counter()
        synthetic.build_catalog(lib_dir / "catalog.sqlite", vectors, model_id=model_id)
        print(f"  generated a {n:,}-row catalog in {time.perf_counter() - t:.0f} s "
              f"({(lib_dir / 'catalog.sqlite').stat().st_size / 2**20:,.0f} MiB)", flush=True)
    out = subprocess.run(
        [sys.executable, "-c", _OPEN_LIBRARY, str(ROOT / "app"), str(lib_dir), model, str(threshold)],
        capture_output=True, text=True, check=True,
    )
    r = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"  library: index rebuilt from the catalog in {r['build_s']:.2f} s ({r['vectors']:,} vectors); "
          f"process peak {r['peak_mib']:,.0f} MiB (Python + catalog + index, no model)", flush=True)
    if r["graph"]:
        g = r["graph"]
        print(f"  library graph tier: {g['source']} in the background, {g['wait_s']:.1f} s after the exact "
              f"tier was ready (a search meanwhile {g['search_while_building_ms']:.1f} ms, exact); then tier "
              f"{g['tier']}, recall check {g['recall_check']}, error {g['error']}", flush=True)
    for name, seconds in r["times"].items():
        print(f"    {name:<28} {seconds * 1000:8.1f} ms", flush=True)
    if app:
        bench_app(lib_dir, model)


def bench_rescan(n: int) -> None:
    """A no-op rescan of n unchanged files (tiny files; a scan reads only their stat)."""
    from glimpse.core.indexing.scan import sync_catalog
    from glimpse.core.storage.catalog import Catalog

    tree = OUT / f"files-{n}"
    marker = tree / ".complete"
    if not marker.is_file():
        shutil.rmtree(tree, ignore_errors=True)
        for i in range(n):
            sub = tree / f"d{i // 1000:04d}"
            if i % 1000 == 0:
                sub.mkdir(parents=True, exist_ok=True)
            (sub / f"IMG_{i:07d}.jpg").write_bytes(b"not a real photo %d" % i)
        marker.write_text("ok")
    db = OUT / f"rescan-{n}.sqlite"
    db.unlink(missing_ok=True)
    catalog = Catalog(db)
    try:
        catalog.add_folder(str(tree.resolve()))
        t = time.perf_counter()
        sync_catalog(catalog, [str(tree.resolve())])
        first = time.perf_counter() - t
        t = time.perf_counter()
        report = sync_catalog(catalog, [str(tree.resolve())])
        noop = time.perf_counter() - t
    finally:
        catalog.close()
    print(f"  rescan {n:>9,} files: first scan {first:6.1f} s; no-op rescan {noop:6.2f} s "
          f"({noop / n * 1e6:.1f} us a file; {report})", flush=True)


def hwm_mib() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, not carried
    over from a parent through fork and exec)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 300_000])
    ap.add_argument("--million", action="store_true", help="add 1,000,000 to the sizes")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--rescan", type=int, nargs="*", default=[50_000, 200_000],
                    help="file counts for the no-op rescan (none to skip)")
    ap.add_argument("--no-library", action="store_true", help="skip the generated catalogs")
    ap.add_argument("--no-real", action="store_true")
    ap.add_argument("--no-search", action="store_true", help="skip the search figures (library and app only)")
    ap.add_argument("--no-app", action="store_true", help="skip the desktop app's memory at the largest size")
    ap.add_argument("--index", choices=("auto", "exact", "hnsw"), default="auto",
                    help=f"auto: the graph tier from {GRAPH_THRESHOLD:,} vectors on, as Library does; "
                         "hnsw: the graph tier at every size; exact: the scan alone")
    default = GraphParams()
    ap.add_argument("--kinds", nargs="+", choices=("clustered", "uniform"), default=["clustered", "uniform"],
                    help="synthetic distributions (uniform: a graph build that its recall check then refuses)")
    ap.add_argument("--graph-dim", type=int, default=default.graph_dim)
    ap.add_argument("--m", type=int, default=default.m)
    ap.add_argument("--ef-construction", type=int, default=default.ef_construction)
    ap.add_argument("--ef-search", type=int, default=default.ef_search)
    ap.add_argument("--rerank-depth", type=int, default=default.rerank_depth)
    args = ap.parse_args()
    sizes = sorted(set(args.sizes + ([1_000_000] if args.million else [])))
    OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    params = GraphParams(graph_dim=args.graph_dim, m=args.m, ef_construction=args.ef_construction,
                         ef_search=args.ef_search, rerank_depth=args.rerank_depth)
    print(f"index {args.index}; graph {params}")
    print(f"dim {DIM}; baseline: exact float32 numpy search in the same run; {args.queries} queries")
    if not args.no_real:
        bench_real(args.queries, args.index, params)
    for n in sizes:
        print(f"\n== {n:,} vectors", flush=True)
        if args.no_search:
            vectors = synthetic.clustered_vectors(n, DIM, rng)[0] if not (OUT / f"lib-{n}").is_dir() else None
        else:
            vectors = bench_vectors(n, args.queries, rng, args.index, params, tuple(args.kinds))
        if not args.no_library:
            threshold = {"auto": GRAPH_THRESHOLD, "exact": n + 1, "hnsw": 0}[args.index]
            bench_library(n, vectors, app=n == sizes[-1] and not args.no_app, threshold=threshold)
        del vectors
    for n in args.rescan:
        bench_rescan(n)
    print(f"\nbench process peak {hwm_mib():,.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
