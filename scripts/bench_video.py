#!/usr/bin/env python3
"""Cost of videos and places, measured in one run.

  video   generates a clip (default 3 minutes, 1280x720, 30 fps, H.264 with a
          keyframe every 2 s, like a phone) and indexes it: CPU seconds per
          minute of video, split into keyframe decoding and model encoding,
          at Glimpse's sampling (one keyframe every FRAME_INTERVAL_S, at most
          MAX_FRAMES per video). Ratio: video indexing cost against encoding
          the same number of ready-made frames (the model's own cost).
  places  first load of the offline geocoder, then coordinates resolved per
          second (batched, as the indexer does), and photos located per second
          (EXIF + sidecar read + name) on the shared exif-samples with GPS.

    python scripts/bench_video.py
    python scripts/bench_video.py --minutes 10 --model ViT-B-32:random
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "app"))

import numpy as np  # noqa: E402

from glimpse.core.encoding.encoder import Encoder, ModelSpec  # noqa: E402
from glimpse.core.media import video
from glimpse.core.signals import places

SHARED = Path(__file__).resolve().parents[2] / "shared"


def make_clip(path: Path, minutes: float, size: tuple[int, int], fps: int) -> None:
    """A new random scene every 5 s, with a moving bar so inter frames are not empty."""
    import av

    rng = np.random.default_rng(0)
    w, h = size
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps, options={"preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.codec_context.gop_size = 2 * fps
        scene = None
        for i in range(int(minutes * 60 * fps)):
            if i % (5 * fps) == 0:
                blocks = rng.integers(0, 256, size=(9, 16, 3), dtype=np.uint8)
                scene = np.kron(blocks, np.ones((h // 9 + 1, w // 16 + 1, 1), np.uint8))[:h, :w]
            frame = scene.copy()  # type: ignore[union-attr]
            x = (i * 8) % w
            frame[:, x : x + 16] = 255
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def bench_video(encoder: Encoder, minutes: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "clip.mp4"
        t0 = time.perf_counter()
        make_clip(clip, minutes, (1280, 720), 30)
        print(f"generated {minutes:g} min 1280x720 30 fps clip in {time.perf_counter() - t0:.1f} s "
              f"({clip.stat().st_size / 1e6:.1f} MB)")
        cpu0, wall0 = time.process_time(), time.perf_counter()
        decoded = video.decode_video(clip, encoder.image_size)
        tensors = [encoder.preprocess(im) for _, im in decoded.frames]
        cpu_decode, wall_decode = time.process_time() - cpu0, time.perf_counter() - wall0
        cpu1 = time.process_time()
        for start in range(0, len(tensors), 64):
            encoder.encode_images(tensors[start : start + 64])
        cpu_encode = time.process_time() - cpu1
    n = len(decoded.frames)
    total = cpu_decode + cpu_encode
    per_min = total / (decoded.duration / 60)
    print(f"keyframes: {n} (every {video.FRAME_INTERVAL_S:g} s, cap {video.MAX_FRAMES})")
    print(f"decode+preprocess: {cpu_decode:.2f} CPU s ({wall_decode:.2f} s wall); "
          f"encode: {cpu_encode:.2f} CPU s")
    print(f"video indexing cost: {per_min:.2f} CPU s per minute of video "
          f"(decode share {cpu_decode / total:.0%}; total/encode-only = {total / cpu_encode:.2f})")


def bench_places() -> None:
    t0 = time.perf_counter()
    places.resolve([(38.7, -9.1)])
    print(f"geocoder first load: {time.perf_counter() - t0:.2f} s")
    rng = np.random.default_rng(1)
    points = [(float(a), float(b)) for a, b in zip(rng.uniform(-55, 70, 20000),
                                                   rng.uniform(-180, 180, 20000), strict=True)]
    t0 = time.perf_counter()
    for start in range(0, len(points), 32):  # one indexing batch at a time
        places.resolve(points[start : start + 32])
    dt = time.perf_counter() - t0
    print(f"coordinates resolved: {len(points) / dt:,.0f} per second (batches of 32)")
    files = [p for p in (SHARED / "data" / "exif-samples").rglob("*") if p.suffix.lower() in (".jpg", ".heic")]
    if files:
        t0 = time.perf_counter()
        found = [places.read_location(str(p)) for p in files]
        located = [c for c in found if c is not None]
        places.resolve(located)
        dt = time.perf_counter() - t0
        print(f"photos located (EXIF/sidecar read + name): {len(files) / dt:,.0f} per second "
              f"({len(located)} of {len(files)} exif-samples carry GPS)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=3.0)
    ap.add_argument("--model", default="ViT-B-32:random")
    args = ap.parse_args()
    bench_places()
    encoder = Encoder(ModelSpec.parse(args.model), "cpu")
    bench_video(encoder, args.minutes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
