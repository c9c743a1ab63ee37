#!/usr/bin/env python3
"""Candidate models side by side: published quality, and speed and memory measured here.

    python scripts/bench_models.py [--photos DIR] [--batches 3] [--only ARCH ...]

Published quality comes from ../shared/data/model-facts (OpenCLIP's and
Apple's own tables); speed and memory cannot be published, so they are
measured on this computer. Random weights run exactly as fast as trained ones
(same architecture, same arithmetic), so no download is needed.

Each model runs in a fresh subprocess so its memory figure is its own:
  image ms/photo  batched encode (batch 8) of real photos, after one warm-up batch
  text ms/query   one query at a time (tokenize + encode), median of 20
  peak MiB        the subprocess's peak resident memory (model + one batch)
The last column is the image speed relative to ViT-B-32, measured in the same
run; absolute times vary from run to run on shared machines.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FACTS = ROOT.parent / "shared" / "data" / "model-facts"
BASELINE = "ViT-B-32:laion2b_s34b_b79k"

# (model, why it is a candidate)
CANDIDATES = [
    ("ViT-B-32:laion2b_s34b_b79k", "today's default"),
    ("ViT-B-32-256:datacomp_s34b_b86k", "rclip's model"),
    ("ViT-B-32-SigLIP2-256:webli", "SigLIP 2, small"),
    ("MobileCLIP2-S0:dfndr2b", "mobile-first, reparameterized"),
    ("MobileCLIP2-S2:dfndr2b", "mobile-first, reparameterized"),
    ("ViT-B-16-SigLIP2-256:webli", "SigLIP 2, base"),
    ("ViT-B-16-SigLIP-256:webli", "best published Flickr30k recall under 60 GFLOPs"),
    ("PE-Core-S-16-384:meta", "Perception Encoder, small"),
    ("ViT-B-16-SigLIP-i18n-256:webli", "multilingual"),
    ("xlm-roberta-base-ViT-B-32:laion5b_s13b_b90k", "multilingual"),
]


# -- published quality ------------------------------------------------------------


def _rows(name: str) -> list[dict[str, str]]:
    path = FACTS / name
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def published(model: str) -> dict[str, float | None]:
    """Flickr30k image retrieval R@10, ImageNet zero-shot top-1, multilingual XM3600 R@10."""
    arch, _, tag = model.partition(":")
    out: dict[str, float | None] = {"flickr_r10": None, "imagenet": None, "xm3600_r10": None}
    for r in _rows("openclip_retrieval_results.csv"):
        if r["name"] == arch and r["pretrained"] == tag:
            out["flickr_r10"] = float(r["Flickr image retr. R@10"])
    for r in _rows("openclip_zeroshot_imagenet.csv"):
        if r["name"] == arch and r["pretrained"] == tag:
            out["imagenet"] = float(r["ImageNet 1k"])
    for r in _rows("mobileclip.csv"):
        if r["model"] == arch and r["pretrained"] == tag:
            out["imagenet"] = float(r["imagenet1k_zeroshot_top1"]) / 100
    for r in _rows("openclip_multilingual_retrieval_results.csv"):
        if r["model"] == arch and r["version"] == tag:
            out["xm3600_r10"] = float(r["crossmodal3600 image_retrieval_recall@10 avg"])
    return out


# -- one model, in its own process -------------------------------------------------


def measure_one(model: str, photos: list[Path], batches: int) -> dict[str, object]:
    import resource

    import numpy as np
    import open_clip
    import torch
    from PIL import Image

    torch.set_num_threads(os.cpu_count() or 1)
    arch = model.partition(":")[0]
    t0 = time.perf_counter()
    net, _, preprocess = open_clip.create_model_and_transforms(arch, pretrained=None)
    net.eval()
    if arch.startswith("MobileCLIP"):
        # Apple's MobileOne/FastViT blocks train with parallel branches that
        # fold into one conv for inference; their README prescribes this step.
        from timm.utils import reparameterize_model

        net = reparameterize_model(net)
    build_s = time.perf_counter() - t0

    batch = 8
    needed = batch * (batches + 1)
    images = [preprocess(Image.open(p).convert("RGB")) for p in (photos * needed)[:needed]]
    with torch.inference_mode():
        net.encode_image(torch.stack(images[:batch]))  # warm-up
        t = time.perf_counter()
        for i in range(1, batches + 1):
            net.encode_image(torch.stack(images[i * batch:(i + 1) * batch]))
        image_ms = (time.perf_counter() - t) * 1000 / (batches * batch)

        text_note = ""
        try:
            tokenizer = open_clip.get_tokenizer(arch)
            tokens = tokenizer(["a dog running on the beach"])
        except Exception as exc:  # hub-only tokenizers (HF) cannot load offline
            ctx = getattr(net, "context_length", None) or 64
            vocab = getattr(net, "vocab_size", None) or 1000
            tokens = torch.randint(1, int(vocab), (1, int(ctx)))
            text_note = f"random token ids (tokenizer offline: {type(exc).__name__})"
        net.encode_text(tokens)  # warm-up
        times = []
        for _ in range(20):
            t = time.perf_counter()
            net.encode_text(tokens)
            times.append((time.perf_counter() - t) * 1000)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "model": model, "image_ms": image_ms, "text_ms": float(np.median(times)),
        "peak_mib": peak_mib, "build_s": build_s, "image_size": images[0].shape[-1],
        "params_m": sum(p.numel() for p in net.parameters()) / 1e6, "note": text_note,
    }


def _sample_photos(folder: Path | None) -> list[Path]:
    if folder is None:
        script = ROOT.parent / "shared" / "scripts" / "get-sample-photos"
        folder = Path(subprocess.run([str(script)], capture_output=True, text=True, check=True)
                      .stdout.strip().splitlines()[-1])
    photos = sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp"))
    if not photos:
        sys.exit(f"no photos in {folder}")
    return photos[:40]


def run_subprocess(model: str, photos_dir: Path, batches: int) -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, __file__, "--one", model, "--photos", str(photos_dir), "--batches", str(batches)],
        capture_output=True, text=True, timeout=900,
    )
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["?"])[-1]
        return {"model": model, "error": tail[:160]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=Path, help="photo folder (default: the shared sample photos)")
    parser.add_argument("--batches", type=int, default=3)
    parser.add_argument("--only", nargs="+", help="only these models (ARCH:TAG)")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path, help="also write the rows to this JSON file")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    if args.one:
        print(json.dumps(measure_one(args.one, _sample_photos(args.photos), args.batches)))
        return 0

    photos = _sample_photos(args.photos)
    models = [m for m, _ in CANDIDATES if not args.only or m in args.only]
    if BASELINE not in models:
        models.insert(0, BASELINE)
    rows = []
    for model in models:
        print(f"measuring {model} ...", file=sys.stderr, flush=True)
        row = run_subprocess(model, photos[0].parent, args.batches)
        row.update(published(model))
        rows.append(row)
    base = next((r for r in rows if r["model"] == BASELINE and "error" not in r), None)

    print(f"{len(photos)} sample photos, batch 8, {os.cpu_count()} CPU threads, torch fp32, random weights")
    print("| model | published Flickr30k R@10 | ImageNet top-1 | XM3600 R@10 (multilingual) "
          "| image ms/photo | text ms/query | peak MiB | image speed vs ViT-B-32 |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        if "error" in r:
            print(f"| {r['model']} | {_pct(r['flickr_r10'])} | {_pct(r['imagenet'])} | "
                  f"{_pct(r['xm3600_r10'])} | failed: {r['error']} | | | |")
            continue
        ratio = f"{base['image_ms'] / r['image_ms']:.2f}x" if base else "—"
        note = " *" if r.get("note") else ""
        print(f"| {r['model']} | {_pct(r['flickr_r10'])} | {_pct(r['imagenet'])} | "
              f"{_pct(r['xm3600_r10'])} | {r['image_ms']:.0f} | {r['text_ms']:.1f}{note} | "
              f"{r['peak_mib']:.0f} | {ratio} |")
    if any(r.get("note") for r in rows):
        print("* text timed on random token ids: the model's tokenizer comes from the hub.")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
