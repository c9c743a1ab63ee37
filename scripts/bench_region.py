"""Search by a region: is a part of one photo re-found in another photo that holds it?

    python scripts/bench_region.py [--pairs 20] [--distractors 60] [--model SPEC] [--photos DIR]

From the sample photos (shared/scripts/get-sample-photos), each of PAIRS source
photos gives a random box (30-50 % of its width and height); the box is pasted,
scaled to 45 % of the host's shorter side, at a random place into a different
host photo. The library holds the sources, the composites, the hosts as they
were (the same scene without the pasted part: hard negatives) and DISTRACTORS
other photos, all at most 640 px. For each source: `similar(source,
region=box)` and, as the baseline, `similar(source)` of the whole photo;
reported is the share of composites in the top 5 (the source itself not
counted). Default model: the learned test model (tests/assets/flickr-small-clip),
then the tiny random-weight model for comparison.

Run under `flock /tmp/glimpse-cpu.lock` on shared machines.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "app"))

from glimpse.core.library import Library  # noqa: E402
from glimpse.core.media import imaging  # noqa: E402
from glimpse.core.search.region import Region  # noqa: E402

LEARNED = f"GlimpseFlickrSmall:{ROOT / 'tests/assets/flickr-small-clip/GlimpseFlickrSmall.pt'}"


def sample_photos(folder: str | None) -> list[Path]:
    if folder is None:
        out = subprocess.run([str(ROOT.parent / "shared/scripts/get-sample-photos")],
                             capture_output=True, text=True, check=True)
        folder = out.stdout.strip().splitlines()[-1]
    return sorted(p for p in Path(folder).rglob("*") if imaging.is_supported(p.name))


def small(path: Path) -> Image.Image:
    return imaging.fit_within(imaging.decode_for_model(path, 640).image, 640)


def build(out: Path, photos: list[Path], pairs: int, distractors: int, seed: int) -> list[tuple[Path, Region, Path]]:
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(photos))
    need = 2 * pairs + distractors
    if len(order) < need:
        sys.exit(f"{len(order)} sample photos; {need} needed")
    chosen = [photos[i] for i in order[:need]]
    cases = []
    for i in range(pairs):
        src, host = small(chosen[i]), small(chosen[pairs + i])
        w, h = rng.uniform(0.3, 0.5, 2)
        x, y = rng.uniform(0, 1 - w), rng.uniform(0, 1 - h)
        box = Region(float(x), float(y), float(w), float(h))
        part = box.cut(src)
        side = 0.45 * min(host.size)
        scale = side / max(part.size)
        part = part.resize((max(1, round(part.width * scale)), max(1, round(part.height * scale))))
        composite = host.copy()
        composite.paste(part, (int(rng.integers(0, host.width - part.width + 1)),
                               int(rng.integers(0, host.height - part.height + 1))))
        src.save(out / f"source{i}.jpg", quality=92)
        host.save(out / f"host{i}.jpg", quality=92)
        composite.save(out / f"composite{i}.jpg", quality=92)
        cases.append((out / f"source{i}.jpg", box, out / f"composite{i}.jpg"))
    for j, p in enumerate(chosen[2 * pairs:]):
        small(p).save(out / f"other{j}.jpg", quality=92)
    return cases


def measure(model: str, folder: Path, cases: list[tuple[Path, Region, Path]], work: Path) -> tuple[float, float]:
    with Library(work / model.split(":")[0], model=model) as lib:
        lib.add_folder(folder)
        lib.index(only={"scan", "encode"})

        def found(source: Path, target: Path, region: Region | None) -> bool:
            hits = [h.path for h in lib.similar(source, k=6, region=region, collapse=None)]
            return str(target.resolve()) in [p for p in hits if p != str(source.resolve())][:5]

        with_region = np.mean([found(s, t, r) for s, r, t in cases])
        whole = np.mean([found(s, t, None) for s, _, t in cases])
    return float(with_region), float(whole)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", type=int, default=20)
    ap.add_argument("--distractors", type=int, default=60)
    ap.add_argument("--photos")
    ap.add_argument("--model", action="append")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "photos"
        folder.mkdir()
        cases = build(folder, sample_photos(args.photos), args.pairs, args.distractors, args.seed)
        print(f"{len(cases)} pasted regions, {len(list(folder.iterdir()))} photos in the library")
        for model in args.model or [LEARNED, "GlimpseTiny:random"]:
            region_top5, whole_top5 = measure(model, folder, cases, Path(tmp))
            print(f"{model.split(':')[0]:20} region: composite in top 5 {region_top5:.2f}; "
                  f"whole photo (baseline) {whole_top5:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
