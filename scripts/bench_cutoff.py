#!/usr/bin/env python3
"""The relevance cut-off ("weaker matches", core/search/relevance.py), calibrated and checked.

The learned test model (tests/assets/flickr-small-clip) encodes the 1,000
flickr8k-1k photos and their 5,000 captions. Calibrated on the captions of
half the photos (the engine's own relevance.calibrate: the cut keeping 95% of
the sought photos that rank in the top 20), checked on the other half's:

  - kept: the share of the other half's sought photos in the top 20 that stay
    above the cut (the promise: about 95%)
  - folded: of each query's top 20, how many fall under the cut (mean)
  - off-topic: the same for queries about things Flickr8k hardly shows
    (receipts, laptops, soup): a model that tells them apart folds more
  - for both rules: a cosine cut and a z cut (core/search/relevance.py)

The cosine rule is what `glimpse eval` calibrates per model; the z rule (model-
neutral) is what a model not yet evaluated gets. Then the z on all captions:
the figure DEFAULT_Z is set from.

    flock /tmp/glimpse-cpu.lock python scripts/bench_cutoff.py
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "app"))

import numpy as np  # noqa: E402

from glimpse.core.encoding.encoder import Encoder, ModelSpec  # noqa: E402
from glimpse.core.media import imaging  # noqa: E402
from glimpse.core.search import relevance  # noqa: E402

SHARED = ROOT.parent / "shared"
LEARNED = ROOT / "tests" / "assets" / "flickr-small-clip" / "GlimpseFlickrSmall.pt"
OFF_TOPIC = [
    "a receipt on a kitchen table", "a screenshot of a phone", "a bowl of soup",
    "a laptop computer on a desk", "a birthday cake with candles", "a plate of sushi",
    "a car engine", "a cat sleeping on a sofa", "a printed document", "a bookshelf full of books",
    "a microwave oven", "a pizza", "an airplane in the sky", "a cup of coffee", "a bathroom sink",
    "the moon at night", "a train at a station", "a guitar", "a clock on the wall", "a shop window",
]


def ranks_of(queries: np.ndarray, gallery: np.ndarray, targets: np.ndarray) -> np.ndarray:
    scores = queries @ gallery.T
    own = scores[np.arange(len(queries)), targets]
    return (scores > own[:, None]).sum(axis=1) + 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=SHARED / "data" / "flickr8k-1k")
    ap.add_argument("--model", default=f"GlimpseFlickrSmall:{LEARNED}")
    args = ap.parse_args()

    captions: dict[str, list[str]] = {}
    with open(args.data / "captions.csv", newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            captions.setdefault(row["image"], []).append(row["caption"])
    names = sorted(captions)
    enc = Encoder(ModelSpec.parse(args.model), device="cpu")
    pixels = [enc.preprocess(imaging.decode_for_model(args.data / "images" / n, enc.image_size).image)
              for n in names]
    gallery = np.concatenate([enc.encode_images(np.stack(pixels[i:i + 32])) for i in range(0, len(names), 32)])
    texts = [c for n in names for c in captions[n]]
    owner = np.repeat(np.arange(len(names)), [len(captions[n]) for n in names])
    queries = np.concatenate([enc.encode_texts(texts[i:i + 256]) for i in range(0, len(texts), 256)])
    off = enc.encode_texts(OFF_TOPIC)
    ranks = ranks_of(queries, gallery, owner)
    spread = relevance.Spread.of(gallery)

    print(f"{args.model}: {len(names)} photos, {len(texts)} captions; "
          f"sought photo in the top {relevance.FIRST_SCREEN}: {np.mean(ranks <= relevance.FIRST_SCREEN):.3f}")
    half = owner < len(names) // 2
    other = ~half & (ranks <= relevance.FIRST_SCREEN)
    own = np.sum(queries * gallery[owner], axis=1)
    z_own = spread.z(queries, own[:, None])[:, 0]
    print(f"calibrated on the captions of half the photos, checked on the other half's "
          f"{int(other.sum())} sought photos in the top {relevance.FIRST_SCREEN}:")
    for kind, values in ((relevance.COSINE, own), (relevance.Z, z_own)):
        cut = relevance.calibrate(queries[half], gallery, owner[half], ranks[half], kind=kind)
        assert cut is not None
        rule = relevance.Cutoff(kind, cut)

        def folded(q: np.ndarray, rule: relevance.Cutoff = rule) -> float:
            scores = np.sort(q @ gallery.T, axis=1)[:, -relevance.FIRST_SCREEN:]
            return float(np.mean([relevance.weak_flags(rule, v, s, spread).sum()
                                  for v, s in zip(q, scores, strict=True)]))

        print(f"  {kind:6s} >= {cut:.3f}: kept {np.mean(values[other] >= cut):.3f}; folded of the "
              f"top {relevance.FIRST_SCREEN}: captions {folded(queries[~half]):.1f}, off-topic {folded(off):.1f}")
    full = relevance.calibrate(queries, gallery, owner, ranks, kind=relevance.Z)
    print(f"z calibrated on all captions: {full:.3f} (DEFAULT_Z = {relevance.DEFAULT_Z})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
