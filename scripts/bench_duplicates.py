#!/usr/bin/env python3
"""Near-duplicate folding on the sample photos: how alike are copies, and what folding buys.

    python scripts/bench_duplicates.py --model ARCH:/path/to/checkpoint [--photos DIR]

The sample photos (../shared/scripts/get-sample-photos) hold the same scenes
at many resolutions and crops (wallpapers_<Scene>_contents_images_WxH, and
backgrounds_..._WxH): the file name gives each photo's scene. The script
indexes them with the model and prints
  1. for cosine thresholds, the share of same-scene pairs counted as
     near-duplicates (recall) and of counted pairs that are the same scene
     (precision);
  2. distinct scenes among the first 60 results, folded and not, averaged
     over every photo used as a "more like this" query and over text queries.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "app"))

TEXT_QUERIES = ["a landscape", "flowers", "a city", "the sea", "mountains", "an animal",
                "abstract art", "a sunset", "trees in a forest", "a dark background"]


def scene_of(name: str) -> str:
    m = re.match(r"wallpapers_(.+?)_contents_", name)
    if m:
        return m.group(1)
    return re.sub(r"[_-]\d{3,5}x\d{3,5}(?=\.)", "", name).rsplit(".", 1)[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--photos", type=Path)
    parser.add_argument("--library", type=Path)
    parser.add_argument("-k", type=int, default=60)
    args = parser.parse_args()

    from glimpse.core.library import Library
    from glimpse.core.search import duplicates

    photos = args.photos or Path(subprocess.run(
        [str(ROOT.parent / "shared" / "scripts" / "get-sample-photos")],
        capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1])
    lib = Library(args.library or Path(tempfile.mkdtemp(prefix="glimpse-dups-")),
                  model=args.model, device="cpu")
    lib.add_folder(photos)
    lib.index(only={"scan", "encode"})
    ids, matrix = lib.gallery()
    matrix = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
    rows = {r.id: r for r in lib.indexed_photos()}
    scenes = np.array([scene_of(Path(rows[int(i)].path).name) for i in ids])
    n_scenes = len(set(scenes))
    print(f"{len(ids)} photos of {n_scenes} scenes; model {args.model}")

    cos = matrix @ matrix.T
    iu = np.triu_indices(len(ids), 1)
    same = scenes[iu[0]] == scenes[iu[1]]
    pair_cos = cos[iu]
    print("\n| cosine >= | same-scene pairs caught (recall) | caught pairs that are one scene (precision) |")
    print("|---|---|---|")
    for t in (0.80, 0.85, 0.90, 0.92, 0.94, 0.95, 0.96, 0.97, 0.98, 0.99):
        caught = pair_cos >= t
        recall = (caught & same).sum() / max(same.sum(), 1)
        precision = (caught & same).sum() / max(caught.sum(), 1)
        print(f"| {t:.2f} | {recall:.3f} | {precision:.3f} |")

    k = args.k
    rules = duplicates.Rules()
    taken = [rows[int(i)].taken_at for i in ids]

    def distinct(order: np.ndarray) -> tuple[int, int]:
        before = len(set(scenes[order[:k]]))
        pool = order[: min(len(order), k * 4)]
        groups = duplicates.collapse(matrix[pool], [taken[i] for i in pool], rules)
        after = len(set(scenes[[pool[g[0]] for g in groups[:k]]]))
        return before, after

    image_runs = [distinct(np.argsort(-cos[i])) for i in range(len(ids))]
    text_vecs = lib.encoder.encode_texts(TEXT_QUERIES)
    text_runs = [distinct(np.argsort(-(matrix @ v))) for v in text_vecs]
    print(f"\nDistinct scenes among the first {k} results (threshold {rules.cosine}; "
          f"{n_scenes} scenes exist):")
    print("| queries | not folded | folded | gain |")
    print("|---|---|---|---|")
    for label, runs in ((f"{len(image_runs)} photos as 'more like this'", image_runs),
                        (f"{len(text_runs)} text queries", text_runs)):
        b = float(np.mean([r[0] for r in runs]))
        a = float(np.mean([r[1] for r in runs]))
        print(f"| {label} | {b:.1f} | {a:.1f} | {a / b:.2f}x |")
    groups = lib.duplicate_groups(rules)
    print(f"\nglimpse duplicates: {len(groups)} groups, {sum(len(g.others) for g in groups)} extra copies")
    lib.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
