#!/usr/bin/env python3
"""The int8 towers against fp32: fidelity on real retrieval, and speed.

Fidelity (the bound Glimpse holds an int8 tower to): the learned small model
(tests/assets/flickr-small-clip) encodes the 1,000 flickr8k-1k photos and their
5,000 captions with the fp32 towers and with the int8 ones Glimpse makes (the
engine's own code, onnx_engine.quantize_tower). Prints

  - cosine between each photo's (caption's) fp32 and int8 vectors: bound >= 0.99
  - top-10 agreement: for each caption, the share of the fp32 top 10 photos
    that the int8 top 10 also holds, averaged: bound >= 0.95; for the int8
    image tower alone (fp32 captions) and for both towers in int8
  - recall@1/5/10 of the captions' own photos, fp32 and int8

Speed: encode-only images/s of both towers on already-preprocessed photos, for
the learned model and for ViT-B-32-256 (random weights: the same speed as
trained ones). `--methods` also times the quantization methods not chosen
(dynamic with Conv too, static QDQ calibrated on photos) and their cosine to fp32.

    flock /tmp/glimpse-cpu.lock python scripts/bench_int8.py [--methods] [--batches 8,32]
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "app"))

import numpy as np  # noqa: E402

from glimpse.core.encoding import onnx_engine  # noqa: E402
from glimpse.core.encoding.encoder import Encoder, ModelSpec  # noqa: E402
from glimpse.core.media import imaging  # noqa: E402

SHARED = ROOT.parent / "shared"
LEARNED = ROOT / "tests" / "assets" / "flickr-small-clip" / "GlimpseFlickrSmall.pt"


def sample_photos() -> Path:
    out = subprocess.run([str(SHARED / "scripts" / "get-sample-photos")], capture_output=True,
                         text=True, check=True)
    return Path(out.stdout.strip().splitlines()[-1])


def pixels_of(enc: Encoder, paths: list[Path]) -> np.ndarray:
    """Decoded and preprocessed as the indexer does (draft-mode decode, then the model's transform)."""
    return np.stack([enc.preprocess(imaging.decode_for_model(p, enc.image_size).image) for p in paths])


def encode_all(enc: Encoder, pixels: np.ndarray, batch: int = 32) -> np.ndarray:
    return np.concatenate([enc.encode_images(pixels[i : i + batch]) for i in range(0, len(pixels), batch)])


def rate(run, pixels: np.ndarray, batch: int, rounds: int = 2) -> float:  # type: ignore[no-untyped-def]
    """Best of `rounds` passes over the photos, after a warm-up batch."""
    run(pixels[:batch])
    best = 0.0
    for _ in range(rounds):
        start = time.perf_counter()
        for i in range(0, len(pixels), batch):
            run(pixels[i : i + batch])
        best = max(best, len(pixels) / (time.perf_counter() - start))
    return best


def recalls(texts: np.ndarray, owner: np.ndarray, gallery: np.ndarray) -> list[float]:
    sims = texts @ gallery.T
    own = sims[np.arange(len(texts)), owner]
    ranks = (sims > own[:, None]).sum(axis=1) + 1
    return [float(np.mean(ranks <= k)) for k in (1, 5, 10)]


def fidelity(model: str, data: Path) -> None:
    captions: dict[str, list[str]] = {}
    with open(data / "captions.csv", newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            captions.setdefault(row["image"], []).append(row["caption"])
    names = sorted(captions)
    spec = ModelSpec.parse(model)
    fp32 = Encoder(spec, device="cpu", precision="fp32")
    int8 = Encoder(spec, device="cpu", precision="int8")
    assert fp32.engine == "onnx" and int8.engine == "onnx", "the ONNX engine is unavailable"
    pixels = pixels_of(fp32, [data / "images" / n for n in names])
    g32, g8 = encode_all(fp32, pixels), encode_all(int8, pixels)
    texts = [c for n in names for c in captions[n]]
    owner = np.repeat(np.arange(len(names)), [len(captions[n]) for n in names])
    t32, t8 = (np.concatenate([e.encode_texts(texts[i : i + 256]) for i in range(0, len(texts), 256)])
               for e in (fp32, int8))
    assert int8._onnx.precisions == {"image": "int8", "text": "int8"}, "an int8 tower was refused"
    cos, tcos = np.sum(g32 * g8, axis=1), np.sum(t32 * t8, axis=1)
    ranked32 = np.argsort(-(t32 @ g32.T), axis=1)[:, :10]

    def agreement(t: np.ndarray, g: np.ndarray) -> tuple[float, float]:
        ranked = np.argsort(-(t @ g.T), axis=1)[:, :10]
        shared = np.array([len(set(x) & set(y)) / 10 for x, y in zip(ranked32, ranked, strict=True)])
        return float(shared.mean()), float(shared.min())

    image_only, both = agreement(t32, g8), agreement(t8, g8)
    r32, r8 = recalls(t32, owner, g32), recalls(t8, owner, g8)
    print(f"fidelity, {model}, {len(names)} photos, {len(texts)} captions ({data}):")
    print(f"  image cosine int8 vs fp32: min {cos.min():.4f}  mean {cos.mean():.4f}   (bound: >= 0.99)")
    print(f"  text cosine int8 vs fp32:  min {tcos.min():.4f}  mean {tcos.mean():.4f}   (bound: >= 0.99)")
    print(f"  top-10 agreement, int8 image tower: mean {image_only[0]:.4f} (worst caption {image_only[1]:.1f});"
          f" both towers int8: mean {both[0]:.4f} (worst {both[1]:.1f})   (bound: >= 0.95)")
    print("  recall@1/5/10  fp32 " + " / ".join(f"{r:.4f}" for r in r32)
          + "   int8 (both towers) " + " / ".join(f"{r:.4f}" for r in r8))
    verdict = min(cos.min(), tcos.min()) >= 0.99 and min(image_only[0], both[0]) >= 0.95
    print(f"  within the bound: {'yes' if verdict else 'NO'}")


def speed(model: str, photos: list[Path], batches: list[int]) -> None:
    spec = ModelSpec.parse(model)
    fp32 = Encoder(spec, device="cpu", precision="fp32")
    int8 = Encoder(spec, device="cpu", precision="int8")
    pixels = pixels_of(fp32, photos)
    cos = np.sum(encode_all(fp32, pixels) * encode_all(int8, pixels), axis=1)
    texts = ["a dog", "two people on a beach at sunset", "a red car", "a birthday cake with candles"]
    tcos = np.sum(fp32.encode_texts(texts) * int8.encode_texts(texts), axis=1)
    line = [f"{model}: {len(photos)} photos, {os.cpu_count()} cores; int8 vs fp32 cosine min: "
            f"images {cos.min():.4f}, texts {tcos.min():.4f} (towers: {int8._onnx.precisions})"]
    for b in batches:
        r32, r8 = rate(fp32.encode_images, pixels, b), rate(int8.encode_images, pixels, b)
        line.append(f"  batch {b:3d}: fp32 {r32:8.1f} img/s   int8 {r8:8.1f} img/s   int8/fp32 {r8 / r32:5.2f}x")
    print("\n".join(line))


def methods(model: str, photos: list[Path], batch: int) -> None:
    """The quantization methods not chosen, timed beside the chosen one."""
    import onnxruntime as ort
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_dynamic,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    enc = Encoder(ModelSpec.parse(model), device="cpu", precision="fp32")
    assert enc.engine == "onnx"
    src = enc._onnx.directory / "image.onnx"
    pixels = pixels_of(enc, photos)
    calib = pixels[1::2][:32]

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter([{"pixels": calib[i : i + 8]} for i in range(0, len(calib), 8)])

        def get_next(self):  # type: ignore[no-untyped-def]
            return next(self.batches, None)

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        made = {"fp32 (as exported)": src}
        made["dynamic, MatMul/Gemm only (chosen)"] = out / "dyn-mm.onnx"
        quantize_dynamic(str(src), str(made["dynamic, MatMul/Gemm only (chosen)"]),
                         weight_type=QuantType.QInt8, op_types_to_quantize=onnx_engine.INT8_OPS["image"])
        made["dynamic, every op (Conv too)"] = out / "dyn-all.onnx"
        quantize_dynamic(str(src), str(made["dynamic, every op (Conv too)"]), weight_type=QuantType.QInt8)
        quant_pre_process(str(src), str(out / "pre.onnx"), skip_symbolic_shape=True)
        made["static QDQ, s8/s8, MinMax on 32 photos"] = out / "qdq.onnx"
        quantize_static(str(out / "pre.onnx"), str(made["static QDQ, s8/s8, MinMax on 32 photos"]), Reader(),
                        quant_format=QuantFormat.QDQ, activation_type=QuantType.QInt8,
                        weight_type=QuantType.QInt8)
        print(f"quantization methods, {model}, batch {batch}, {len(photos)} photos:")
        ref = None
        for name, path in made.items():
            session = ort.InferenceSession(str(path), onnx_engine._session_options(),
                                           providers=["CPUExecutionProvider"])

            def run(p: np.ndarray, s=session) -> np.ndarray:  # type: ignore[no-untyped-def]
                return np.asarray(s.run(None, {"pixels": p})[0])

            vec = np.concatenate([run(pixels[i : i + batch]) for i in range(0, len(pixels), batch)])
            vec /= np.linalg.norm(vec, axis=1, keepdims=True)
            ref = vec if ref is None else ref
            r = rate(run, pixels, batch)
            print(f"  {name:<40} {r:8.1f} img/s   cosine to fp32 min {np.sum(vec * ref, axis=1).min():.4f}"
                  f"   {path.stat().st_size / 2**20:6.1f} MiB")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=f"GlimpseFlickrSmall:{LEARNED}", help="the model whose fidelity is measured")
    ap.add_argument("--data", type=Path, default=SHARED / "data" / "flickr8k-1k")
    ap.add_argument("--speed-models", default=f"ViT-B-32-256:random,GlimpseFlickrSmall:{LEARNED}")
    ap.add_argument("--photos", type=Path, help="photos for the speed runs (default: the sample photos)")
    ap.add_argument("--n", type=int, default=64, help="photos per speed run")
    ap.add_argument("--batches", default="8,32")
    ap.add_argument("--methods", action="store_true", help="also time the quantization methods not chosen")
    ap.add_argument("--skip-fidelity", action="store_true")
    args = ap.parse_args()

    if not args.skip_fidelity:
        if (args.data / "captions.csv").is_file():
            fidelity(args.model, args.data)
        else:
            print(f"SKIPPING fidelity: {args.data}/captions.csv is absent")
    folder = args.photos or sample_photos()
    paths = sorted(p for p in folder.iterdir() if imaging.is_supported(p))
    paths = paths[:: max(1, len(paths) // args.n)][: args.n]
    batches = [int(b) for b in args.batches.split(",")]
    for model in args.speed_models.split(","):
        speed(model, paths, batches)
        if args.methods:
            methods(model, paths, batches[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
