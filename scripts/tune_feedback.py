#!/usr/bin/env python3
"""Relevance feedback and prompting, measured on flickr8k-1k with a learned model.

    python scripts/tune_feedback.py --model GlimpseFlickrSmall:tests/assets/flickr-small-clip/GlimpseFlickrSmall.pt

The simulated user. Each of the 5,000 human captions is a query for its own
photo (the target). The user looks at the 20 results shown, never clicks the
target itself, and stands in for what they have in mind with the target's
five human captions: among the shown photos it marks "more like this one" the
photo whose own captions share the most content words with the target's, and
"not this" the one sharing the fewest (ties: the higher-ranked photo). Marks
accumulate over rounds; a photo is marked at most once. Recall@10 is counted
after 0, 1 and 2 rounds of marks.

Honest tuning: the Rocchio weights are chosen on the queries of the even-
numbered photos and reported on the odd-numbered ones (each half ~2,500
queries), so the reported gain is not fitted to the figures it is judged by.

Prompting: the same queries wrapped as "a photo of <caption>", and for short
queries (each caption's first three words) the same, against the plain text.
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
import tempfile
import time
from itertools import product
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "app"))
FLICKR = ROOT.parent / "shared" / "data" / "flickr8k-1k"

STOPWORDS = set(
    "a an the is are was were be been being in on at of to with and or for from by as "
    "its it this that there their his her he she they them while into onto near over "
    "under up down out some one two three four other another".split()
)


def words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z]+", text.lower()) if w not in STOPWORDS and len(w) > 2}


def load(model: str, library: Path, images: Path, captions_csv: Path):  # type: ignore[no-untyped-def]
    from glimpse.core.library import Library

    lib = Library(library, model=model, device="cpu")
    lib.add_folder(images)
    t = time.perf_counter()
    lib.index(only={"scan", "encode"})
    print(f"indexed {images} in {time.perf_counter() - t:.0f}s", file=sys.stderr)
    ids, gallery = lib.gallery()
    gallery = gallery / np.linalg.norm(gallery, axis=1, keepdims=True)
    name_of = {r.id: Path(r.path).name for r in lib.indexed_photos()}
    names = [name_of[int(i)] for i in ids]
    row_of = {n: r for r, n in enumerate(names)}
    caps: dict[str, list[str]] = {}
    with captions_csv.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            caps.setdefault(row["image"], []).append(row["caption"])
    queries = [(c, row_of[img]) for img, cs in caps.items() if img in row_of for c in cs]
    return lib, gallery, names, caps, queries


def encode(lib, texts: list[str]) -> np.ndarray:  # type: ignore[no-untyped-def]
    enc = lib.encoder
    out = [enc.encode_texts(texts[i:i + 256]) for i in range(0, len(texts), 256)]
    return np.concatenate(out)


def recall_at(scores: np.ndarray, targets: np.ndarray, k: int) -> float:
    target_scores = scores[np.arange(len(targets)), targets]
    ranks = (scores > target_scores[:, None]).sum(axis=1)
    return float((ranks < k).mean())


def simulate(q0, gallery, targets, overlap, weights, rounds=2, shown=20):  # type: ignore[no-untyped-def]
    """Recall@10 after 0..rounds rounds of the simulated user's marks."""
    from glimpse.core.search.feedback import FeedbackWeights, refine

    w = FeedbackWeights(*weights)
    q = q0.copy()
    liked: list[list[int]] = [[] for _ in targets]
    unliked: list[list[int]] = [[] for _ in targets]
    out = [recall_at(q @ gallery.T, targets, 10)]
    for _ in range(rounds):
        scores = q @ gallery.T
        order = np.argsort(-scores, axis=1)
        for n, t in enumerate(targets):
            marked = set(liked[n]) | set(unliked[n]) | {int(t)}
            candidates = [int(p) for p in order[n, : shown + len(marked)] if int(p) not in marked][:shown]
            ov = overlap[t, candidates]
            liked[n].append(candidates[int(np.argmax(ov))])
            unliked[n].append(candidates[int(np.argmin(ov))])
            q[n] = refine(q0[n], gallery[liked[n]], gallery[unliked[n]], w)
        out.append(recall_at(q @ gallery.T, targets, 10))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="ARCH:/path/to/checkpoint (the learned model)")
    parser.add_argument("--data", type=Path, default=FLICKR)
    parser.add_argument("--library", type=Path, help="library folder to (re)use")
    args = parser.parse_args()

    library = args.library or Path(tempfile.mkdtemp(prefix="glimpse-tune-"))
    lib, gallery, names, caps, queries = load(
        args.model, library, args.data / "images", args.data / "captions.csv")
    texts = [c for c, _ in queries]
    targets = np.array([t for _, t in queries])
    q_plain = encode(lib, texts)

    bags = [set().union(*(words(c) for c in caps[n])) for n in names]
    overlap = np.array([[len(a & b) for b in bags] for a in bags], dtype=np.int32)

    tune = np.array([t % 2 == 0 for t in targets])
    report = ~tune
    print(f"{len(queries)} queries over {len(names)} photos; tuning on {tune.sum()}, "
          f"reporting on {report.sum()} (photos of the other half)")

    grid = [(1.0, b, c) for b, c in product([0.2, 0.4, 0.6, 0.8, 1.0, 1.5], [0.0, 0.1, 0.2, 0.4])]
    best, best_r = None, -1.0
    for w in grid:
        r = simulate(q_plain[tune], gallery, targets[tune], overlap, w, rounds=1)[1]
        if r > best_r:
            best, best_r = w, r
    print(f"chosen weights (query, liked, unliked) = {best} (R@10 after 1 round on the tuning half: {best_r:.3f})")

    print("\n| feedback | R@10, no marks | after 1 round | after 2 rounds |")
    print("|---|---|---|---|")
    for label, w in (("chosen weights", best), ("liked only (c=0)", (1.0, best[1], 0.0))):
        r = simulate(q_plain[report], gallery, targets[report], overlap, w, rounds=2)
        print(f"| {label} {w} | {r[0]:.3f} | {r[1]:.3f} | {r[2]:.3f} |")

    print("\n| prompting (all 5,000 queries) | R@1 | R@5 | R@10 |")
    print("|---|---|---|---|")
    short = [" ".join(t.split()[:3]) for t in texts]
    variants = {
        "caption as typed": q_plain,
        '"a photo of " + caption': encode(lib, [f"a photo of {t[0].lower()}{t[1:]}" for t in texts]),
        "first 3 words": encode(lib, short),
        '"a photo of " + first 3 words': encode(lib, [f"a photo of {s.lower()}" for s in short]),
    }
    for label, q in variants.items():
        s = q @ gallery.T
        print(f"| {label} | {recall_at(s, targets, 1):.3f} | {recall_at(s, targets, 5):.3f} | "
              f"{recall_at(s, targets, 10):.3f} |")
    lib.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
