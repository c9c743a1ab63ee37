#!/usr/bin/env python3
"""libvips against Pillow for the PNG and WebP photos: CPU time and fidelity.

For every PNG/WebP photo, `imaging.decode_for_model` runs twice in this
process, once with libvips (pyvips) and once with Pillow only (as without
pyvips installed), and prints:

  - single-thread CPU time per decode, by format, and the ratio Pillow / vips;
  - how far apart the model-sized images are (mean absolute pixel difference,
    0-255) and that their sizes, orientations and metadata agree;
  - the cosine between the two images' vectors for one model (adopting vips
    needs min cosine >= 0.999). Each image is encoded alone: int8 towers
    quantize activations per batch, so batch-mates would add their own noise.

    python scripts/bench_vips_decode.py                           # sample photos, ViT-B-32-256:random
    python scripts/bench_vips_decode.py --model GlimpseFlickrSmall:tests/assets/flickr-small-clip/GlimpseFlickrSmall.pt
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "app"))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from bench_index import sample_photos  # noqa: E402  (scripts/ is on the path when run)
from glimpse.core.encoding.encoder import Encoder, ModelSpec  # noqa: E402
from glimpse.core.media import imaging


@contextmanager
def pillow_only() -> Iterator[None]:
    """Decode as if pyvips were not installed."""
    saved = imaging._vips_module, imaging._vips_tried
    imaging._vips_module, imaging._vips_tried = None, True
    try:
        yield
    finally:
        imaging._vips_module, imaging._vips_tried = saved


def timed(path: Path, min_side: int) -> tuple[imaging.DecodedPhoto, float]:
    start = time.process_time()
    photo = imaging.decode_for_model(path, min_side)
    return photo, time.process_time() - start


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", type=Path, help="folder of photos (default: the shared sample photos)")
    ap.add_argument("--model", default="ViT-B-32-256:random")
    ap.add_argument("--precision", default="fp32", choices=("fp32", "int8"), help="ONNX towers to encode with")
    ap.add_argument("--overshoot", type=float, default=imaging._VIPS_OVERSHOOT,
                    help="vips shrinks the shorter side to this many times the model's input (tuning)")
    args = ap.parse_args()
    if imaging._vips() is None:
        print("pyvips is not installed (or GLIMPSE_VIPS=0): nothing to compare")
        return 1

    folder = args.photos or sample_photos()
    photos = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or not imaging.is_supported(path):
            continue
        with Image.open(path) as im:
            if im.format in imaging._VIPS_FORMATS:
                photos.append((im.format, path))
    imaging._VIPS_OVERSHOOT = args.overshoot
    encoder = Encoder(ModelSpec.parse(args.model), device="cpu", precision=args.precision)
    side = encoder.image_size
    print(f"{len(photos)} PNG/WebP photos from {folder}; model {args.model} "
          f"({encoder.engine}, {encoder.precision}), decode to {side} px, vips overshoot {args.overshoot:g}x")

    for _, path in photos[:2]:  # warm both paths (imports, first-call setup)
        imaging.decode_for_model(path, side)
        with pillow_only():
            imaging.decode_for_model(path, side)

    cpu: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    diffs, cosines, mismatches = [], [], []
    for fmt, path in photos:
        fast, t_fast = timed(path, side)
        with pillow_only():
            ref, t_ref = timed(path, side)
        cpu[fmt]["vips"].append(t_fast)
        cpu[fmt]["pillow"].append(t_ref)
        facts = lambda p: (p.image.size, p.width, p.height, p.taken_at, p.gps)  # noqa: E731
        if facts(fast) != facts(ref):
            mismatches.append(f"{path.name}: vips {facts(fast)} pillow {facts(ref)}")
            continue
        a = np.asarray(fast.image, dtype=np.float32)
        b = np.asarray(ref.image, dtype=np.float32)
        diffs.append(float(np.abs(a - b).mean()))
        vecs = np.concatenate(
            [np.asarray(encoder.encode_images([encoder.preprocess(p.image)]), np.float64) for p in (fast, ref)]
        )
        cosines.append(float(vecs[0] @ vecs[1] / (np.linalg.norm(vecs[0]) * np.linalg.norm(vecs[1]))))

    print("single-thread CPU per decode_for_model (ms, mean):")
    for fmt, by in sorted(cpu.items()):
        v, p = statistics.mean(by["vips"]), statistics.mean(by["pillow"])
        print(f"  {fmt:<5} {len(by['vips']):3d} photos  pillow {1000 * p:6.1f}  vips {1000 * v:6.1f}  "
              f"pillow / vips {p / v:4.2f}x  (largest: pillow {1000 * max(by['pillow']):.0f}, "
              f"vips {1000 * max(by['vips']):.0f})")
    total_v = sum(sum(by["vips"]) for by in cpu.values())
    total_p = sum(sum(by["pillow"]) for by in cpu.values())
    print(f"  all   pillow {total_p:.1f} s  vips {total_v:.1f} s  pillow / vips {total_p / total_v:4.2f}x")
    for line in mismatches:
        print("MISMATCH", line)
    if diffs:
        print(f"pixel mean abs diff (0-255): mean {statistics.mean(diffs):.2f}, max {max(diffs):.2f}")
        print(f"cosine vips vs pillow vectors: min {min(cosines):.5f}, mean {statistics.mean(cosines):.5f} "
              f"({len(cosines)} photos; bound >= 0.999: {'met' if min(cosines) >= 0.999 else 'NOT met'})")
    return 1 if mismatches or not cosines or min(cosines) < 0.999 else 0


if __name__ == "__main__":
    sys.exit(main())
