"""OCR benchmark: the skip rule on real photos, and recall on rendered text.

    python scripts/bench_ocr.py skip [--photos DIR] [--limit N]
        Full OCR of every sample photo (the reference: which photos have text),
        then each cheap "is there text?" rule on the same photos: how many it
        skips, how many photos with text it would wrongly skip, and the fraction
        of OCR time it saves (check time included).
    python scripts/bench_ocr.py rendered [--n 320] [--photos DIR]
        Renders known strings (English, German, French; words, numbers, mixed
        case; 12 px to 64 px; DejaVu fonts and Pillow's default font; plain and
        photo backgrounds; some rotated a little) into images, indexes them in a
        temporary library with the tiny random CLIP model, runs the real OCR
        pass, then reports OCR word recall and the fraction of one-word queries
        whose image is in the top 5 of the fused search, by text size.

Run under `flock /tmp/glimpse-cpu.lock` on shared machines.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "app"))

from glimpse.core import imaging  # noqa: E402
from glimpse.core.ocr import OCR_MAX_SIDE, OcrEngine  # noqa: E402


def sample_dir() -> Path:
    out = subprocess.run(
        ["/work/shared/scripts/get-sample-photos"], capture_output=True, text=True, check=True
    )
    return Path(out.stdout.strip().splitlines()[-1])


def _photos(folder: Path, limit: int) -> list[Path]:
    paths = sorted(p for p in folder.rglob("*") if imaging.is_supported(p.name))
    return paths[:limit] if limit else paths


def _has_text(lines: list[tuple[str, float]]) -> bool:
    return any(s >= 0.6 and len(re.findall(r"\w", t)) >= 2 for t, s in lines)


def edge_density(image: Image.Image) -> float:
    """Share of pixels with a strong local gradient at 256 px: text is dense in edges."""
    g = image.convert("L")
    g.thumbnail((256, 256))
    a = np.asarray(g, dtype=np.float32)
    gx = np.abs(np.diff(a, axis=1))[:-1, :]
    gy = np.abs(np.diff(a, axis=0))[:, :-1]
    return float(((gx + gy) > 60).mean())


def cmd_skip(args: argparse.Namespace) -> None:
    folder = Path(args.photos) if args.photos else sample_dir()
    paths = _photos(folder, args.limit)
    engine = OcrEngine()
    probe_sizes = (320, 640)
    probes = {}
    for side in probe_sizes:
        probes[side] = OcrEngine(probe_side=side)
        probes[side].has_text(Image.new("RGB", (64, 64)))  # load before timing
    engine.read(Image.new("RGB", (64, 64)))
    rows = []
    for n, path in enumerate(paths, 1):
        try:
            image = imaging.make_thumbnail(path, OCR_MAX_SIDE)
        except Exception as exc:  # noqa: BLE001 - a bad sample photo is reported, not fatal
            print(f"skip {path.name}: {exc}", file=sys.stderr)
            continue
        t = time.perf_counter()
        lines = engine.read(image)
        full = time.perf_counter() - t
        row = {"path": path.name, "full_s": full, "text": _has_text(lines),
               "words": sum(len(re.findall(r"\w+", x)) for x, s in lines if s >= 0.6)}
        for side, probe in probes.items():
            t = time.perf_counter()
            row[f"det{side}"] = probe.has_text(image)
            row[f"det{side}_s"] = time.perf_counter() - t
        t = time.perf_counter()
        row["edges"] = edge_density(image)
        row["edges_s"] = time.perf_counter() - t
        rows.append(row)
        if n % 20 == 0:
            print(f"{n}/{len(paths)}", file=sys.stderr, flush=True)
    Path(args.out).write_text(json.dumps(rows, indent=1))
    total_full = sum(r["full_s"] for r in rows)
    with_text = [r for r in rows if r["text"]]
    print(f"photos: {len(rows)}; with text (full OCR, >=2 chars at conf >= 0.6): "
          f"{len(with_text)}; full OCR {total_full:.1f} s, {total_full / len(rows):.2f} s/photo")
    rules = {f"detector at {s} px": (lambda r, s=s: not r[f"det{s}"], f"det{s}_s")
             for s in probe_sizes}
    for thr in (0.01, 0.02, 0.04):
        rules[f"edge density < {thr}"] = (lambda r, t=thr: r["edges"] < t, "edges_s")
    print("| rule | photos skipped | text photos lost (words) | check s/photo | OCR time saved |")
    print("|---|---|---|---|---|")
    for name, (skips, cost) in rules.items():
        skipped = [r for r in rows if skips(r)]
        lost = [r for r in skipped if r["text"]]
        check = sum(r[cost] for r in rows)
        after = check + sum(r["full_s"] for r in rows if not skips(r))
        print(f"| {name} | {len(skipped)}/{len(rows)} | {len(lost)} ({sum(r['words'] for r in lost)}) "
              f"| {check / len(rows):.3f} | {100 * (1 - after / total_full):.0f}% |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("skip")
    p.add_argument("--photos")
    p.add_argument("--limit", type=int, default=0)
    p.add_argument("--out", default="/tmp/ocr-skip.json")
    p.set_defaults(func=cmd_skip)
    args = ap.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
