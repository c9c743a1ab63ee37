#!/usr/bin/env python3
"""Indexing speed: the naive loop against Glimpse's pipeline, in one run.

  naive        for each photo: PIL full decode, open_clip preprocess, encode a batch of 1
  encode-only  batched encoding of photos decoded and preprocessed beforehand:
               the model's own speed, the ceiling for any pipeline
  pipeline     `Library.index(only={"scan", "encode"})` on a fresh library: scan,
               fingerprint, decode pool (draft-mode JPEG), batched encode, commit
               per batch (meaning only: the signals that follow are timed by --passes)
  --passes     the signals that read pixels (text in photos, faces) over the same
               photos: as one group sharing one decode a photo (what the pipeline
               does), against each pass decoding for itself; and the decode cost
               alone, so the saving of "decode once" is seen apart from OCR's noise

All three share one loaded model. Prints images/s for each, pipeline/naive
and pipeline time / encode-only time, and where the pipeline's time goes
(single-thread decode cost per format).

    python scripts/bench_index.py                      # the 50 largest sample photos
    python scripts/bench_index.py --limit 0            # every sample photo
    python scripts/bench_index.py --model ViT-B-32:random --photos DIR
    python scripts/bench_index.py --passes --limit 40 --skip-naive
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "app"))

from PIL import Image  # noqa: E402

from glimpse.core.encoding.encoder import Encoder, ModelSpec  # noqa: E402
from glimpse.core.library import Library  # noqa: E402
from glimpse.core.media import imaging

SHARED = Path(__file__).resolve().parents[2] / "shared"


def sample_photos() -> Path:
    script = SHARED / "scripts" / "get-sample-photos"
    out = subprocess.run([str(script)], capture_output=True, text=True, check=True)
    return Path(out.stdout.strip().splitlines()[-1])


def pick_photos(folder: Path, limit: int) -> list[Path]:
    photos = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or not imaging.is_supported(path):
            continue
        with Image.open(path) as im:
            photos.append((im.size[0] * im.size[1], path))
    photos.sort(key=lambda p: (-p[0], p[1].name))
    chosen = photos if limit <= 0 else photos[:limit]
    return [p for _, p in chosen]


def bench_naive(encoder: Encoder, photos: list[Path]) -> float:
    start = time.perf_counter()
    for path in photos:
        with Image.open(path) as im:
            rgb = im.convert("RGB")
        encoder.encode_images([encoder.preprocess(rgb)])
    return time.perf_counter() - start


def bench_encode_only(encoder: Encoder, photos: list[Path], batch: int) -> float:
    tensors = [
        encoder.preprocess(imaging.decode_for_model(p, encoder.image_size).image) for p in photos
    ]
    start = time.perf_counter()
    for i in range(0, len(tensors), batch):
        encoder.encode_images(tensors[i : i + batch])
    return time.perf_counter() - start


def library_of(encoder: Encoder, photos: list[Path], tmp: str) -> Library:
    """A fresh library in `tmp` over links to the photos, sharing the loaded model."""
    folder = Path(tmp) / "photos"
    folder.mkdir()
    for p in photos:
        os.symlink(p, folder / p.name)
    lib = Library(Path(tmp) / "lib", model=encoder.spec)
    lib._encoders[str(encoder.spec)] = encoder
    lib.add_folder(folder)
    return lib


def bench_pipeline(encoder: Encoder, photos: list[Path], batch: int, workers: int | None) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        lib = library_of(encoder, photos, tmp)
        start = time.perf_counter()
        report = lib.index(batch_size=batch, workers=workers, only={"scan", "encode"})
        elapsed = time.perf_counter() - start
        lib.close()
        assert report.encode.encoded + report.encode.failed == len(photos)
        return elapsed


def bench_passes(encoder: Encoder, photos: list[Path]) -> None:
    """Text and faces over the photos: one shared decode a photo against one each."""
    from glimpse.core.indexing.passes import run_passes
    from glimpse.core.signals.faces import FaceEngine, FacePass
    from glimpse.core.signals.text import OcrEngine, OcrPass

    ocr, faces = OcrEngine(), FaceEngine()
    with tempfile.TemporaryDirectory() as tmp:
        lib = library_of(encoder, photos, tmp)
        lib.index(only={"scan", "encode"})

        def forget() -> None:
            with lib.catalog.transaction() as db:
                db.execute("DELETE FROM pass_state WHERE pass IN ('ocr', 'faces')")

        def timed(groups: list[list]) -> tuple[float, float]:  # type: ignore[type-arg]
            """(wall s, CPU s of the whole process): CPU time shows work a busy
            machine hides in wall time, and threads that spin while waiting."""
            forget()
            wall, cpu = time.perf_counter(), time.process_time()
            for group in groups:
                run_passes(lib.catalog, group)
            return time.perf_counter() - wall, time.process_time() - cpu

        def shared() -> tuple[float, float]:
            return timed([[OcrPass(ocr), FacePass(faces)]])

        def apart() -> tuple[float, float]:
            return timed([[OcrPass(ocr)], [FacePass(faces)]])

        shared()  # warm-up: models load, files enter the page cache
        times: dict[str, list[tuple[float, float]]] = {"shared": [], "apart": []}
        for _ in range(3):  # alternated, so drift on a shared machine hits both
            times["apart"].append(apart())
            times["shared"].append(shared())
        lib.close()
    n = len(photos)
    for kind, label in (("shared", "one decode a photo"), ("apart", "each pass decoding")):
        walls = sorted(w for w, _ in times[kind])
        cpus = sorted(c for _, c in times[kind])
        print(f"text + faces, {label + ':':<20} wall {walls[1]:6.1f} s (median of 3; "
              f"{n / walls[1]:.2f} photos/s), CPU {cpus[1]:6.1f} s")
    med = {k: (sorted(w for w, _ in v)[1], sorted(c for _, c in v)[1]) for k, v in times.items()}
    print(f"shared / apart: wall {med['shared'][0] / med['apart'][0]:.3f}, "
          f"CPU {med['shared'][1] / med['apart'][1]:.3f}")
    # The decode alone: at the two passes' sizes, against one decode and a resize.
    two = one = 0.0
    for p in photos:
        t = time.perf_counter()
        imaging.make_thumbnail(p, 1600)
        imaging.make_thumbnail(p, 800)
        two += time.perf_counter() - t
        t = time.perf_counter()
        imaging.fit_within(imaging.make_thumbnail(p, 1600), 800)
        one += time.perf_counter() - t
    print(f"decode for both passes: {1000 * two / n:.1f} ms a photo decoding twice, "
          f"{1000 * one / n:.1f} ms decoding once and scaling ({one / two:.2f}x)")


def decode_costs(encoder: Encoder, photos: list[Path]) -> dict[str, list[float]]:
    costs: dict[str, list[float]] = defaultdict(list)
    for p in photos:
        with Image.open(p) as im:
            fmt = im.format or "?"
        t = time.perf_counter()
        encoder.preprocess(imaging.decode_for_model(p, encoder.image_size).image)
        costs[fmt].append(time.perf_counter() - t)
    return costs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", type=Path, help="folder of photos (default: the shared sample photos)")
    ap.add_argument("--limit", type=int, default=50, help="use the N largest photos (0 = all)")
    ap.add_argument("--model", default="ViT-B-32:random")
    ap.add_argument("--batch", type=int, default=None, help="default: the engine's own (Encoder.batch_size)")
    ap.add_argument("--workers", type=int, default=None, help="decode threads (default: cores)")
    ap.add_argument("--skip-naive", action="store_true")
    ap.add_argument("--passes", action="store_true",
                    help="also time text + faces with one shared decode against one each")
    args = ap.parse_args()

    photos = pick_photos(args.photos or sample_photos(), args.limit)
    megapixels = statistics.mean(Image.open(p).size[0] * Image.open(p).size[1] for p in photos) / 1e6
    encoder = Encoder(ModelSpec.parse(args.model), device="cpu")
    import torch

    n = len(photos)
    print(f"{n} photos, mean {megapixels:.1f} MP; model {args.model} on {encoder.device}, "
          f"engine {encoder.engine} ({encoder.precision}), batch {args.batch or encoder.batch_size}, "
          f"torch threads {torch.get_num_threads()}, {os.cpu_count()} cores")
    encoder.encode_images([encoder.preprocess(Image.new("RGB", (224, 224)))])  # warm-up

    args.batch = args.batch or encoder.batch_size
    t_encode = bench_encode_only(encoder, photos, args.batch)
    t_pipe = bench_pipeline(encoder, photos, args.batch, args.workers)
    t_naive = None if args.skip_naive else bench_naive(encoder, photos)

    print(f"encode-only   {n / t_encode:6.2f} img/s  ({t_encode:6.1f} s)")
    print(f"pipeline      {n / t_pipe:6.2f} img/s  ({t_pipe:6.1f} s)")
    if t_naive is not None:
        print(f"naive loop    {n / t_naive:6.2f} img/s  ({t_naive:6.1f} s)")
        print(f"pipeline / naive speed:        {t_naive / t_pipe:5.2f}x")
    print(f"pipeline time / encode-only:   {t_pipe / t_encode:5.2f}x")

    costs = decode_costs(encoder, photos)
    total = sum(sum(v) for v in costs.values())
    print(f"decode+preprocess, one thread: {total:.1f} s in all "
          f"({total / t_encode:.0%} of encode-only time); by format:")
    for fmt, values in sorted(costs.items()):
        print(f"  {fmt:<5} {len(values):4d} photos  mean {1000 * statistics.mean(values):6.1f} ms")
    # Encoding keeps every torch thread busy, so on a CPU-only machine the
    # best any pipeline can do is all encode work plus all decode work spread
    # over the cores: the ceiling that overlap alone cannot beat.
    threads, cores = torch.get_num_threads(), os.cpu_count() or 1
    bound = (t_encode * threads + total) / cores
    print(f"CPU bound (encode x {threads} threads + decode) / {cores} cores: {bound:.1f} s; "
          f"pipeline is at {bound / t_pipe:.0%} of it")
    if args.passes:
        bench_passes(encoder, photos)
    return 0


if __name__ == "__main__":
    sys.exit(main())
