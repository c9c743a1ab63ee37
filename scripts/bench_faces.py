#!/usr/bin/env python3
"""People: what the face pass finds, how stable its grouping is, and what it costs.

There is no identity-labelled face set on this machine, so this measures what
can be measured honestly on Flickr8k (research use only: never shown, never bundled):

  detect     per photo: do the five captions mention a person (PERSON_WORDS)?
             The fraction of person photos with at least one face found, against
             the fraction of no-person photos with one (false alarms), overall and
             by the size of the largest face found; seconds per photo.
  stability  every good face (quality >= the start threshold) of the originals is
             looked for again in five edited copies (half size, JPEG q60, brighter,
             mirrored, cropped); the copies' faces are matched to the original's by
             box, everything is grouped incrementally (originals first, then the
             copies) and we count how often a copy joins its original's person.
             Also: the originals alone (different photos, mostly different people)
             must not collapse into a few people: people found, largest share.
  cost       Library.index (scan + CLIP encoding, ViT-B-32 compute with random
             weights) then find_faces on the same photos; the face share of the total,
             and encoding throughput with faces off vs on (faces run after encoding).

    flock /tmp/glimpse-cpu.lock python scripts/bench_faces.py --out /tmp/faces.json
    # the face pass's speed on the sample photos, against HOG in the same run:
    flock /tmp/glimpse-cpu.lock python scripts/bench_faces.py --speed-only \
        --speed ~/.cache/glimpse-sample-photos --speed-against hog
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import pickle
import re
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "app"))

from glimpse.core.media import imaging  # noqa: E402
from glimpse.core.signals import people
from glimpse.core.signals.faces import (  # noqa: E402
    ALIGNMENTS,
    DEFAULT_DETECTOR,
    DETECTORS,
    MIN_FACE_PX,
    MIN_PROB,
    SMALL_PHOTO_SIDE,
    FaceEngine,
)
from glimpse.core.signals.people import Face  # noqa: E402
from glimpse.core.storage.catalog import Catalog  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "flickr8k-1k"
PERSON_WORDS = {
    "man", "men", "woman", "women", "girl", "girls", "boy", "boys", "child", "children",
    "kid", "kids", "people", "person", "persons", "baby", "toddler", "lady", "ladies", "guy",
    "guys", "player", "players", "crowd", "couple", "family", "he", "she", "someone", "teenager",
    "teen", "biker", "skier", "surfer", "skateboarder", "snowboarder", "climber", "swimmer",
    "runner", "dancer", "rider", "cyclist", "boxer", "wrestler", "adult", "adults", "worker",
    "friends", "group", "team", "mother", "father", "daughter", "son", "brother", "sister",
}
SIZE_BINS = [(0, 40), (40, 80), (80, 10_000)]


def load_captions() -> dict[str, list[str]]:
    caps: dict[str, list[str]] = defaultdict(list)
    with open(DATA / "captions.csv", newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            caps[row["image"]].append(row["caption"].lower())
    return caps


def mentions_person(captions: list[str]) -> bool:
    return any(w in PERSON_WORDS for c in captions for w in re.findall(r"[a-z]+", c))


def detect(engine: FaceEngine, names: list[str], caps: dict[str, list[str]]) -> tuple[dict, dict]:
    faces: dict[str, list[Face]] = {}
    start = time.monotonic()
    for name in names:
        faces[name] = engine.faces_in(Image.open(DATA / "images" / name))
    seconds = (time.monotonic() - start) / len(names)
    out: dict = {"photos": len(names), "seconds_per_photo": round(seconds, 4),
                 "person_words": sorted(PERSON_WORDS)}
    for kind, want in (("person", True), ("no_person", False)):
        group = [n for n in names if mentions_person(caps[n]) == want]
        hit = [n for n in group if faces[n]]
        row = {"photos": len(group), "with_face": len(hit),
               "fraction": round(len(hit) / max(1, len(group)), 4)}
        for lo, hi in SIZE_BINS:
            n = sum(1 for p in group if faces[p] and lo <= max(f.size_px for f in faces[p]) < hi)
            row[f"largest_face_{lo}_{hi}px"] = round(n / max(1, len(group)), 4)
        out[kind] = row
    sizes = [f.size_px for fs in faces.values() for f in fs]
    out["faces"] = len(sizes)
    out["faces_by_size"] = {f"{lo}-{hi}px": sum(lo <= s < hi for s in sizes) for lo, hi in SIZE_BINS}
    return out, faces


CROP = 0.1  # the cropped copy loses this fraction on each side


def variants(img: Image.Image) -> dict[str, Image.Image]:
    """The edits a phone archive really has."""
    w, h = img.size
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=60)
    buf.seek(0)
    return {
        "half": img.resize((w // 2, h // 2), Image.Resampling.LANCZOS),
        "jpeg60": Image.open(buf).convert("RGB"),
        "bright": ImageEnhance.Brightness(img).enhance(1.4),
        "mirror": ImageOps.mirror(img),
        "crop": img.crop((int(w * CROP), int(h * CROP), int(w * (1 - CROP)), int(h * (1 - CROP)))),
    }


def box_in(kind: str, b: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    """Where an original box (fractions) lies in an edited copy."""
    if kind == "mirror":
        return (1 - b[0] - b[2], b[1], b[2], b[3])
    if kind == "crop":
        s = 1 - 2 * CROP
        return ((b[0] - CROP) / s, (b[1] - CROP) / s, b[2] / s, b[3] / s)
    return b


def _catalog(tmp: Path, names: list[str]) -> tuple[Catalog, dict[str, int]]:
    cat = Catalog(tmp / "catalog.sqlite")
    folder = cat.add_folder(str(tmp))
    ids = {}
    with cat.transaction() as db:
        for n in names:
            ids[n] = cat.insert_photo(db, f"{tmp}/{n}", folder, 1, 1, n)
            cat.store_decoded(db, ids[n], 1, 1, None)
    return cat, ids


def collapse(faces: dict[str, list[Face]], tmp: Path, **thresholds: float) -> dict:
    """Group only the originals: different photos must not fall into a few people."""
    names = sorted(faces)
    # Nearest face of another photo, per good face: how often would a threshold
    # put two different photos' faces together (mostly different people)?
    owner = [n for n in names for f in faces[n] if f.quality >= people.MIN_START_QUALITY]
    vecs = [f.embedding for n in names for f in faces[n] if f.quality >= people.MIN_START_QUALITY]
    nearest: list[float] = []
    if len(vecs) > 1:
        m = np.stack(vecs)
        d = np.sqrt(np.maximum((m * m).sum(1)[:, None] + (m * m).sum(1)[None] - 2 * m @ m.T, 0))
        same_photo = np.array(owner)[:, None] == np.array(owner)[None, :]
        d[same_photo] = np.inf
        nearest = d.min(1).tolist()
    near_other = {f"below_{t}": round(float(np.mean(np.array(nearest) < t)), 4)
                  for t in (0.4, 0.45, 0.5, 0.55, 0.6)} if nearest else {}
    cat, ids = _catalog(tmp, names)
    with cat.transaction() as db:
        for n in names:
            people.replace_faces(db, ids[n], faces[n])
    people.group_faces(cat, **thresholds)
    found = people.people(cat)
    total = people.face_count(cat)
    largest = max((p.faces for p in found), default=0)
    cat.close()
    return {"faces": total, "good_faces": len(vecs),
            "nearest_other_photo_face": near_other, "people": len(found),
            "faces_in_people": sum(p.faces for p in found),
            "largest_person_faces": largest,
            "largest_share": round(largest / max(1, total), 4)}


def find_copies(engine: FaceEngine, faces: dict[str, list[Face]], limit: int) -> tuple[list, dict]:
    """The good faces of the originals, and the faces found in each edited copy."""
    good = [(n, i) for n in sorted(faces) for i, f in enumerate(faces[n])
            if f.quality >= people.MIN_START_QUALITY][:limit]
    copies: dict[str, dict[str, list[Face]]] = {}
    for n in sorted({n for n, _ in good}):
        img = Image.open(DATA / "images" / n).convert("RGB")
        copies[n] = {kind: engine.faces_in(edited) for kind, edited in variants(img).items()}
    return good, copies


def stability(faces: dict[str, list[Face]], good: list, copies: dict, tmp: Path,
              **thresholds: float) -> dict:
    photos = sorted(copies)
    names = sorted(faces) + [f"{n}#{k}" for n in photos for k in copies[n]]
    cat, ids = _catalog(tmp, names)
    with cat.transaction() as db:
        for n in sorted(faces):
            people.replace_faces(db, ids[n], faces[n])
    people.group_faces(cat, **thresholds)  # the originals, as an archive grown over time
    with cat.transaction() as db:
        for n in photos:
            for k, fs in copies[n].items():
                people.replace_faces(db, ids[f"{n}#{k}"], fs)
    people.group_faces(cat, **thresholds)  # the copies arrive later
    per_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # same, other/none, not found
    gaps: dict[str, list[float]] = defaultdict(list)  # original-to-copy embedding distance
    for n, i in good:
        orig = people.faces_of_photo(cat, ids[n])
        box = faces[n][i].box
        mine = max(orig, key=lambda r: people.iou(r.box, box))
        for k, fs in copies[n].items():
            rows = people.faces_of_photo(cat, ids[f"{n}#{k}"])
            want = box_in(k, box)
            match = max(rows, key=lambda r: people.iou(r.box, want), default=None)
            if match is None or people.iou(match.box, want) < 0.3:
                per_kind[k][2] += 1
            else:
                twin = max(fs, key=lambda f: people.iou(f.box, want))  # noqa: B023
                gaps[k].append(float(np.linalg.norm(faces[n][i].embedding - twin.embedding)))
            if match is None or people.iou(match.box, want) < 0.3:
                pass
            elif match.person_id is not None and match.person_id == mine.person_id:
                per_kind[k][0] += 1
            else:
                per_kind[k][1] += 1
    cat.close()
    out: dict = {"good_faces": len(good), "by_edit": {}}
    same = found = 0
    for k, (s, o, miss) in sorted(per_kind.items()):
        out["by_edit"][k] = {"same_person": s, "other_or_none": o, "not_refound": miss,
                             "same_fraction": round(s / max(1, s + o), 4),
                             "distance_median": round(float(np.median(gaps[k])), 3) if gaps[k] else None,
                             "distance_p95": round(float(np.percentile(gaps[k], 95)), 3) if gaps[k] else None}
        same, found = same + s, found + s + o
    out["same_fraction"] = round(same / max(1, found), 4)
    out["refound_fraction"] = round(found / max(1, found + sum(v[2] for v in per_kind.values())), 4)
    return out


def speed(engine: FaceEngine, folder: Path) -> dict:
    """Photos per second of the face pass alone, on photos decoded beforehand at the
    pass's size (the index runner decodes once for all pixel passes)."""
    paths = sorted(p for p in folder.rglob("*")
                   if p.suffix.lower() in {".jpg", ".jpeg", ".png", ".webp"})
    images = [imaging.make_thumbnail(p, engine.max_side) for p in paths]
    engine.faces_in(images[0])  # load the models before timing
    start = time.monotonic()
    found = sum(len(engine.faces_in(im)) for im in images)
    seconds = time.monotonic() - start
    return {"folder": str(folder), "photos": len(images), "faces": found,
            "seconds": round(seconds, 2), "photos_per_s": round(len(images) / seconds, 2)}


def cost(n: int, model: str, tmp: Path) -> dict:
    from glimpse.core.library import Library

    src = sorted((DATA / "images").glob("*.jpg"))[:n]
    out: dict = {"photos": len(src), "model": model}
    for label, with_faces in (("faces_off", False), ("faces_on", True)):
        folder = tmp / f"photos_{label}"
        folder.mkdir(parents=True)
        for p in src:
            shutil.copy(p, folder / p.name)
        lib = Library(tmp / f"lib_{label}", model=model)
        lib.add_folder(folder)
        lib.encoder  # load before timing  # noqa: B018
        t = time.monotonic()
        report = lib.index(skip={"ocr", "faces"})
        encode_s = time.monotonic() - t
        row = {"index_s": round(encode_s, 2), "index_photos_per_s": round(report.encode.encoded / encode_s, 2)}
        if with_faces:
            lib.engines.get("faces", FaceEngine)
            t = time.monotonic()
            lib.find_faces()
            faces_s = time.monotonic() - t
            row["faces_s"] = round(faces_s, 2)
            row["faces_s_per_photo"] = round(faces_s / len(src), 4)
            row["faces_share_of_index_plus_faces"] = round(faces_s / (faces_s + encode_s), 4)
        lib.close()
        out[label] = row
    out["encode_rate_on_over_off"] = round(
        out["faces_on"]["index_photos_per_s"] / out["faces_off"]["index_photos_per_s"], 3)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=0, help="first N photos (0 = all 1000)")
    ap.add_argument("--stability-faces", type=int, default=150)
    ap.add_argument("--cost-photos", type=int, default=200)
    ap.add_argument("--model", default="ViT-B-32:random")
    ap.add_argument("--skip-cost", action="store_true")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--cache", type=Path, help="keep the detections here and reuse them")
    ap.add_argument("--sweep", action="store_true", help="grouping under other thresholds")
    ap.add_argument("--detector", default=DEFAULT_DETECTOR, choices=sorted(DETECTORS))
    ap.add_argument("--align", choices=ALIGNMENTS, default=None,
                    help="how the descriptor's chip is aligned (default: the engine's)")
    ap.add_argument("--max-side", type=int, default=0, help="detector input's longest side "
                    "(0 = the detector's default)")
    ap.add_argument("--min-prob", type=float, default=MIN_PROB, help="MTCNN's last threshold")
    ap.add_argument("--min-face", type=int, default=MIN_FACE_PX, help="MTCNN's smallest face, px")
    ap.add_argument("--small-side", type=int, default=SMALL_PHOTO_SIDE,
                    help="photos smaller than the detector's size are searched as if upscaled "
                         "to this long side (0 = not)")
    ap.add_argument("--speed", type=Path, help="also time faces_in on the photos of this folder "
                    "(the sample photos), decoded once beforehand as the index runner does")
    ap.add_argument("--speed-only", action="store_true", help="only the --speed measurement")
    ap.add_argument("--speed-against", choices=sorted(DETECTORS),
                    help="also time this detector (at its default size) in the same run and "
                         "print the ratio")
    args = ap.parse_args()
    if not (DATA / "captions.csv").is_file():
        print(f"{DATA} is missing: nothing to measure.", file=sys.stderr)
        return 1
    caps = load_captions()
    names = sorted(caps)[: args.limit or None]
    engine = FaceEngine(args.max_side or None, detector=args.detector, min_prob=args.min_prob,
                        align=args.align, min_face=args.min_face, small_side=args.small_side)
    result: dict = {"detector": {"name": args.detector, "max_side": engine.max_side,
                                 "min_prob": args.min_prob, "min_face": args.min_face,
                                 "align": engine.align, "small_side": args.small_side}}
    if args.speed:
        result["speed"] = speed(engine, args.speed)
        if args.speed_against:
            base = speed(FaceEngine(detector=args.speed_against), args.speed)
            result["speed"]["baseline"] = {"detector": args.speed_against, **base}
            result["speed"]["ratio"] = round(result["speed"]["photos_per_s"]
                                             / base["photos_per_s"], 2)
        print(json.dumps(result["speed"], indent=1), flush=True)
        if args.speed_only:
            return 0
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        if args.cache and args.cache.is_file():
            result["detect"], faces, good, copies = pickle.loads(args.cache.read_bytes())
        else:
            result["detect"], faces = detect(engine, names, caps)
            good, copies = find_copies(engine, faces, args.stability_faces)
            if args.cache:
                args.cache.write_bytes(pickle.dumps((result["detect"], faces, good, copies)))
        print(json.dumps(result["detect"], indent=1), flush=True)
        result["collapse"] = collapse(faces, tmp / "collapse")
        print(json.dumps(result["collapse"], indent=1), flush=True)
        result["stability"] = stability(faces, good, copies, tmp / "stability")
        print(json.dumps(result["stability"], indent=1), flush=True)
        if args.sweep:
            result["sweep"] = []
            print("join  start  people  largest_share  in_people  stable  (different photos / edits)")
            for join in (0.35, 0.4, 0.45, 0.5):
                for start in (0.35, 0.4, 0.45):
                    t = {"join_distance": join, "start_distance": start}
                    c = collapse(faces, tmp / f"c{join}{start}", **t)
                    st = stability(faces, good, copies, tmp / f"s{join}{start}", **t)
                    row = {**t, "people": c["people"], "largest_share": c["largest_share"],
                           "faces_in_people": c["faces_in_people"], "stable": st["same_fraction"]}
                    result["sweep"].append(row)
                    print(f"{join:4.2f}  {start:5.2f}  {c['people']:6d}  {c['largest_share']:13.3f}  "
                          f"{c['faces_in_people']:9d}  {st['same_fraction']:.4f}", flush=True)
        if not args.skip_cost:
            result["cost"] = cost(args.cost_photos, args.model, tmp)
            print(json.dumps(result["cost"], indent=1), flush=True)
    result["thresholds"] = {"join": people.JOIN_DISTANCE, "start": people.START_DISTANCE,
                            "min_faces": people.MIN_FACES_TO_START,
                            "min_quality": people.MIN_START_QUALITY}
    if args.out:
        args.out.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
