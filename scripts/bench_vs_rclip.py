#!/usr/bin/env python3
"""Glimpse against rclip, side by side in one run, on the same photos and the same model.

rclip (PyPI `rclip`) is the closest peer: a local CLIP photo search CLI running
ONNX Runtime on ViT-B-32-256's towers. This script

  1. makes rclip its own virtual environment (bench-out/rclip-venv) from PyPI,
     or skips rclip with a clear message when it cannot be installed;
  2. writes rclip's model files itself, since its model hub is out of reach:
     the towers of open_clip's ViT-B-32-256 with the same seeded random weights
     Glimpse uses for `ViT-B-32-256:random`, exported to ONNX in the layout
     rclip 3.x reads (DATADIR/ViT-B-32-256-datacomp_s34b_b86k/{visual,textual}.onnx,
     DATADIR/tokenizer/bpe_simple_vocab_16e6.txt.gz; input "input", output "output");
  3. times both as a user runs them, each command in a fresh process, measuring
     wall time, CPU seconds and peak memory (wait4 rusage):
       full index of every photo, no-op re-index, cold search, warm search
       through `glimpse serve`; rclip's index and re-index runs include one
       search (rclip has no index-only command); Glimpse indexes with
       --no-ocr --no-faces --no-own-words, the same work as rclip (vectors only),
       and once more with its defaults (every signal on: what a user gets);
  4. times a no-op re-index of --many unchanged tiny files (default 50,000).

Run it alone (it needs both cores):
    flock /tmp/glimpse-cpu.lock python scripts/bench_vs_rclip.py
    python scripts/bench_vs_rclip.py --photos DIR --skip-many --repeat 3
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
MODEL = "ViT-B-32-256:random"
RCLIP_SUBDIR = "ViT-B-32-256-datacomp_s34b_b86k"
QUERY = "a dog"


@dataclass
class Run:
    wall: float
    cpu: float
    peak_mib: float
    stdout: str


def measured(cmd: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> Run:
    """Like run(), with the child's own CPU time and peak memory from wait4."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # Drain the pipes in threads so a chatty child never blocks; then wait4 for rusage.
    import threading

    chunks: dict[str, bytes] = {}

    def drain(name: str, stream) -> None:  # type: ignore[no-untyped-def]
        chunks[name] = stream.read()

    readers = [threading.Thread(target=drain, args=(n, s)) for n, s in (("out", proc.stdout), ("err", proc.stderr))]
    for t in readers:
        t.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    for t in readers:
        t.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{chunks['err'].decode()[-3000:]}")
    peak = usage.ru_maxrss / 1024 if sys.platform != "darwin" else usage.ru_maxrss / 2**20
    return Run(wall, usage.ru_utime + usage.ru_stime, peak, chunks["out"].decode())


def sample_photos() -> Path:
    out = subprocess.run([str(SHARED / "scripts" / "get-sample-photos")], capture_output=True,
                         text=True, check=True)
    return Path(out.stdout.strip().splitlines()[-1])


# -- rclip setup ------------------------------------------------------------------


def setup_rclip(out: Path) -> Path | None:
    """rclip's executable in its own venv, or None (with the reason printed)."""
    venv = out / "rclip-venv"
    exe = venv / "bin" / "rclip"
    if exe.exists():
        return exe
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "rclip"], check=True,
                       capture_output=True, timeout=1200)
    except (subprocess.SubprocessError, OSError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        print(f"SKIPPING rclip: it could not be installed from PyPI here ({exc}). "
              f"{detail.decode(errors='replace')[-500:]}")
        return None
    return exe


def make_rclip_models(datadir: Path) -> None:
    """Export ViT-B-32-256 (seeded random weights, as Glimpse's ViT-B-32-256:random)
    in the file layout and tensor names rclip 3.x loads."""
    target = datadir / RCLIP_SUBDIR
    if (target / "visual.onnx").exists() and (target / "textual.onnx").exists():
        return
    sys.path.insert(0, str(ROOT / "app"))
    import warnings

    import torch

    from glimpse.core.encoding.encoder import Encoder, ModelSpec
    from glimpse.core.encoding.onnx_engine import tokenizer_vocab_path

    enc = Encoder(ModelSpec.parse(MODEL), device="cpu", engine="torch")
    model, tokenizer = enc.model.float().eval(), enc.tokenizer

    class Visual(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.clip = model  # a submodule, so its weights export as weights

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.clip.encode_image(x)

    class Textual(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.clip = model

        def forward(self, t: torch.Tensor) -> torch.Tensor:
            return self.clip.encode_text(t)

    target.mkdir(parents=True, exist_ok=True)
    examples = [(Visual(), torch.randn(2, 3, 256, 256), "visual.onnx"),
                (Textual(), tokenizer(["a photo", "a dog"]), "textual.onnx")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for module, example, name in examples:
            torch.onnx.export(module, (example,), str(target / name), input_names=["input"],
                              output_names=["output"], opset_version=17, dynamo=False,
                              dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
    (datadir / "tokenizer").mkdir(exist_ok=True)
    shutil.copyfile(tokenizer_vocab_path(), datadir / "tokenizer" / "bpe_simple_vocab_16e6.txt.gz")


# -- the runs -----------------------------------------------------------------------


def glimpse_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "glimpse", *args]


def fmt(r: Run) -> str:
    return f"{r.wall:7.2f} s  cpu {r.cpu:7.1f} s  peak {r.peak_mib:6.0f} MiB"


def ratio_line(name: str, g: float, r: float | None, better_low: bool = True) -> str:
    if r is None:
        return f"  {name:<34} glimpse {g:9.2f}   rclip      --"
    ratio = g / r if r else float("inf")
    verdict = ("glimpse better" if (ratio < 1) == better_low else "rclip better") if ratio != 1 else "equal"
    return f"  {name:<34} glimpse {g:9.2f}   rclip {r:9.2f}   glimpse/rclip {ratio:5.2f}x  ({verdict})"


def make_many(folder: Path, n: int) -> None:
    """n distinct tiny PNGs (a few hundred bytes each)."""
    import numpy as np
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    existing = len(list(folder.glob("*.png")))
    rng = np.random.default_rng(0)
    for i in range(n):
        pixels = rng.integers(0, 256, size=(4, 4, 3), dtype=np.uint8)
        if i >= existing:
            sub = folder / f"d{i // 1000:03d}"
            sub.mkdir(exist_ok=True)
            Image.fromarray(pixels, "RGB").save(sub / f"f{i:06d}.png")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", type=Path, help="photo folder (default: the shared sample photos)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench-out" / "vs-rclip")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each search/no-op measure (median)")
    ap.add_argument("--many", type=int, default=50_000, help="tiny files for the no-op re-index")
    ap.add_argument("--skip-many", action="store_true")
    ap.add_argument("--skip-rclip", action="store_true")
    ap.add_argument("--skip-default", action="store_true",
                    help="leave out Glimpse's index with its default flags (every signal on)")
    ap.add_argument("--batch-size", type=int, default=None, help="Glimpse's batch (default: its own choice)")
    ap.add_argument("--model", default=MODEL, help="Glimpse's model (rclip always runs ViT-B-32-256)")
    ap.add_argument("--make-rclip-models", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.make_rclip_models:
        make_rclip_models(args.make_rclip_models)
        return 0

    photos = (args.photos or sample_photos()).resolve()
    n_photos = sum(1 for p in photos.iterdir() if not p.name.startswith("."))
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "app"), "GLIMPSE_ONNX_CACHE": str(out / "onnx-cache"),
           "GLIMPSE_NO_SERVICE": "1", "GLIMPSE_MODEL": args.model, "XDG_RUNTIME_DIR": str(out / "run")}
    (out / "run").mkdir(exist_ok=True)
    os.chmod(out / "run", 0o700)
    print(f"{n_photos} photos in {photos}; model {args.model} (random weights, same for both); "
          f"{os.cpu_count()} cores; no GPU used")

    rclip = None if args.skip_rclip else setup_rclip(out)
    rdata = out / "rclip-data"
    renv = {**os.environ, "RCLIP_DATADIR": str(rdata)}
    if rclip is not None:
        # In a child: torch in this process would swell it by gigabytes, and on Linux a
        # forked child's peak memory (ru_maxrss) starts from its parent's, so every
        # peak measured below would read as this process's size.
        subprocess.run([sys.executable, __file__, "--make-rclip-models", str(rdata)], check=True)

    # One-time model preparation (Glimpse's ONNX export), timed on its own.
    prep_lib = out / "glimpse-prep"
    shutil.rmtree(prep_lib, ignore_errors=True)
    prep = measured(glimpse_cmd("search", QUERY, "--library", str(prep_lib)), env)
    print(f"Glimpse one-time ONNX export (first use of the model): {fmt(prep)}")

    results: dict[str, dict[str, object]] = {}
    glib = out / "glimpse-lib"
    shutil.rmtree(glib, ignore_errors=True)
    batch = ["--batch-size", str(args.batch_size)] if args.batch_size else []
    # --no-ocr --no-faces --no-own-words: the same work as rclip's index (CLIP vectors only); the
    # text and face passes are Glimpse's own extras, timed by bench_ocr / bench_faces.
    g_index = measured(glimpse_cmd("index", str(photos), "--library", str(glib), "--no-ocr", "--no-faces", "--no-own-words",
                                   *batch), env)
    r_index = None
    if rclip is not None:
        if (rdata / "db.sqlite3").exists():
            (rdata / "db.sqlite3").unlink()
        r_index = measured([str(rclip), "-f", "-t", "10", QUERY], renv, cwd=photos)

    # What a user gets: the default flags, every signal on (text, faces, own words, places).
    g_default = None
    if not args.skip_default:
        dlib_dir = out / "glimpse-default-lib"
        shutil.rmtree(dlib_dir, ignore_errors=True)
        g_default = measured(glimpse_cmd("index", str(photos), "--library", str(dlib_dir), *batch), env)

    # Alternate the two tools run by run, so background load hits both alike.
    g_noop_runs, r_noop_runs, g_search_runs, r_search_runs = [], [], [], []
    for _ in range(args.repeat):
        g_noop_runs.append(measured(glimpse_cmd("index", "--library", str(glib), "--no-ocr", "--no-faces", "--no-own-words"), env))
        if rclip is not None:
            r_noop_runs.append(measured([str(rclip), "-f", "-t", "10", QUERY], renv, cwd=photos))
        g_search_runs.append(measured(glimpse_cmd("search", QUERY, "-k", "10", "--library", str(glib)), env))
        if rclip is not None:
            r_search_runs.append(measured([str(rclip), "-n", "-f", "-t", "10", QUERY], renv, cwd=photos))

    def med(runs: list[Run]) -> Run | None:
        return sorted(runs, key=lambda r: r.wall)[len(runs) // 2] if runs else None

    g_noop, r_noop, g_search, r_search = med(g_noop_runs), med(r_noop_runs), med(g_search_runs), med(r_search_runs)

    # Warm: through `glimpse serve`.
    serve_env = {**env}
    serve_env.pop("GLIMPSE_NO_SERVICE")
    server = subprocess.Popen(glimpse_cmd("serve", "--library", str(glib)), env=serve_env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    warm: list[float] = []
    try:
        for line in server.stdout:  # type: ignore[union-attr]
            if line.startswith("Serving"):
                break
        for _ in range(max(10, args.repeat)):
            warm.append(measured(glimpse_cmd("search", QUERY, "-k", "10", "--library", str(glib)), serve_env).wall)
    finally:
        server.terminate()
        server.communicate(timeout=60)
    interp = statistics.median(measured([sys.executable, "-c", "pass"]).wall for _ in range(5))

    print("\nGlimpse:")
    print(f"  full index       {fmt(g_index)}  -> {n_photos / g_index.wall:.2f} photos/s, "
          f"{g_index.cpu / n_photos:.3f} CPU s/photo")
    if g_default is not None:
        print(f"  index, defaults  {fmt(g_default)}  -> {n_photos / g_default.wall:.2f} photos/s "
              "(every signal on); per stage:")
        for line in g_default.stdout.splitlines():
            if "photos/s" in line or line.startswith(("Encoded", "Read", "Looked", "Found")):
                print(f"      {line}")
    print(f"  no-op re-index   {fmt(g_noop)}")  # type: ignore[arg-type]
    print(f"  cold search      {fmt(g_search)}")  # type: ignore[arg-type]
    print(f"  warm search (glimpse serve running): p50 {statistics.median(warm):.3f} s, "
          f"max {max(warm):.3f} s over {len(warm)} runs (interpreter start alone {interp:.3f} s)")
    if rclip is not None:
        print("rclip (index and re-index runs include one search):")
        print(f"  full index       {fmt(r_index)}  -> {n_photos / r_index.wall:.2f} photos/s, "  # type: ignore[arg-type, union-attr]
              f"{r_index.cpu / n_photos:.3f} CPU s/photo")  # type: ignore[union-attr]
        print(f"  no-op re-index   {fmt(r_noop)}")  # type: ignore[arg-type]
        print(f"  cold search      {fmt(r_search)}")  # type: ignore[arg-type]

    rv = (lambda r, f: getattr(r, f) if r is not None else None)  # noqa: E731
    print("\nRatios (same run; < 1x means Glimpse is lower):")
    print(ratio_line("full index photos/s", n_photos / g_index.wall,
                     n_photos / r_index.wall if r_index else None, better_low=False))
    if g_default is not None:
        print(ratio_line("default index photos/s", n_photos / g_default.wall,
                         n_photos / r_index.wall if r_index else None, better_low=False))
    print(ratio_line("full index CPU seconds", g_index.cpu, rv(r_index, "cpu")))
    print(ratio_line("full index peak MiB", g_index.peak_mib, rv(r_index, "peak_mib")))
    print(ratio_line("no-op re-index seconds", g_noop.wall, rv(r_noop, "wall")))  # type: ignore[union-attr]
    print(ratio_line("cold search seconds", g_search.wall, rv(r_search, "wall")))  # type: ignore[union-attr]
    print(ratio_line("cold search peak MiB", g_search.peak_mib, rv(r_search, "peak_mib")))  # type: ignore[union-attr]
    print(ratio_line("warm search p50 seconds", statistics.median(warm), rv(r_search, "wall")))
    results["glimpse"] = {"index": vars(g_index), "noop": vars(g_noop), "search": vars(g_search),  # type: ignore[arg-type]
                          "warm_p50": statistics.median(warm), "export": vars(prep)}
    if rclip is not None:
        results["rclip"] = {"index": vars(r_index), "noop": vars(r_noop), "search": vars(r_search)}  # type: ignore[arg-type]

    if not args.skip_many:
        many = out / f"many-{args.many}"
        make_many(many, args.many)
        mlib = out / "many-lib"
        tiny_env = {**env, "GLIMPSE_MODEL": "GlimpseTiny:random"}
        if not mlib.exists():
            first = measured(glimpse_cmd("index", str(many), "--library", str(mlib), "--batch-size", "256", "--no-ocr", "--no-faces", "--no-own-words"), tiny_env)
            print(f"\n{args.many} tiny files, first index (tiny model): {fmt(first)}")
        runs = [measured(glimpse_cmd("index", "--library", str(mlib), "--no-ocr", "--no-faces", "--no-own-words"), tiny_env) for _ in range(args.repeat)]
        noop = med(runs)
        assert noop is not None
        print(f"{args.many} unchanged files, no-op re-index: {fmt(noop)}; "
              f"{noop.wall - interp:.2f} s beyond interpreter start (target < 3 s)")
        results["many"] = {"n": args.many, "noop": vars(noop), "interpreter": interp}
    for r in results.values():
        for v in r.values():
            if isinstance(v, dict):
                v.pop("stdout", None)
    (out / "results.json").write_text(json.dumps(results, indent=2))
    print(f"\nFigures saved in {out / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
