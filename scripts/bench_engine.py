#!/usr/bin/env python3
"""The CPU engines side by side: torch against ONNX Runtime (fp32 and int8 image
tower), encode-only, by batch size and thread count; plus the agreement of their
vectors on real photos.

Photos are decoded and preprocessed once beforehand, so only the model's
speed is measured. Used to choose ONNX Runtime's threads and Glimpse's batch
size (see README, Benchmarks).

    flock /tmp/glimpse-cpu.lock python scripts/bench_engine.py [--model ViT-B-32-256:random] [--n 64]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "app"))

import numpy as np  # noqa: E402

from glimpse.core.encoding.encoder import Encoder, ModelSpec  # noqa: E402
from glimpse.core.media import imaging

SHARED = Path(__file__).resolve().parents[2] / "shared"


def sample_photos() -> Path:
    out = subprocess.run([str(SHARED / "scripts" / "get-sample-photos")], capture_output=True,
                         text=True, check=True)
    return Path(out.stdout.strip().splitlines()[-1])


def rate(encode, batch: np.ndarray, size: int) -> float:  # type: ignore[no-untyped-def]
    encode(batch[:size])  # warm-up (first-run allocations)
    start = time.perf_counter()
    for i in range(0, len(batch), size):
        encode(batch[i : i + size])
    return len(batch) / (time.perf_counter() - start)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="ViT-B-32-256:random")
    ap.add_argument("--photos", type=Path)
    ap.add_argument("--n", type=int, default=64, help="photos to encode per measurement")
    ap.add_argument("--batches", default="1,8,16,32")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--skip-torch", action="store_true", help="time only ONNX Runtime")
    args = ap.parse_args()

    folder = args.photos or sample_photos()
    paths = sorted(p for p in folder.iterdir() if imaging.is_supported(p))
    paths = paths[:: max(1, len(paths) // args.n)][: args.n]
    spec = ModelSpec.parse(args.model)
    onnx = Encoder(spec, device="cpu", precision="fp32")
    assert onnx.engine == "onnx", "ONNX Runtime engine unavailable"
    torch_enc = Encoder(spec, device="cpu", engine="torch")
    images = [imaging.decode_for_model(p, onnx.image_size).image for p in paths]
    pixels = np.stack([onnx.preprocess(im) for im in images])
    print(f"{len(paths)} photos, {args.model}, {os.cpu_count()} cores")

    ref = torch_enc.encode_images(pixels)
    got = onnx.encode_images(pixels)
    cos = np.sum(ref * got, axis=1)
    cos8 = np.sum(ref * Encoder(spec, device="cpu", precision="int8").encode_images(pixels), axis=1)
    texts = ["a dog", "two people on a beach at sunset", "a red car", "東京の夜景"]
    tcos = np.sum(torch_enc.encode_texts(texts) * onnx.encode_texts(texts), axis=1)
    print(f"agreement with torch on real photos: image cosine min {cos.min():.6f} mean {cos.mean():.6f} "
          f"(int8: min {cos8.min():.4f} mean {cos8.mean():.4f}); text cosine min {tcos.min():.6f}")

    import torch

    from glimpse.core.encoding import onnx_engine

    print(f"{'engine':<10} {'threads':>7} " + " ".join(f"{'b=' + b:>9}" for b in args.batches.split(",")))
    for threads in [int(t) for t in args.threads.split(",")]:
        torch.set_num_threads(threads)
        os.environ[onnx_engine.THREADS_ENV] = str(threads)
        rows = {} if args.skip_torch else {"torch": torch_enc.encode_images}
        for precision in ("fp32", "int8"):  # new sessions with this thread count
            rows[f"onnx {precision}"] = Encoder(spec, device="cpu", precision=precision).encode_images
        for name, fn in rows.items():
            rates = [rate(fn, pixels, int(b)) for b in args.batches.split(",")]
            print(f"{name:<10} {threads:>7} " + " ".join(f"{r:7.2f}/s" for r in rates))
    return 0


if __name__ == "__main__":
    sys.exit(main())
