"""Places benchmark: city and country queries, --place recall, and the suburb -> city rule.

    python scripts/bench_places.py [--per-city 5] [--no-gps 20] [--seed 0]

Builds the set of issue 25 in a temporary library: PER_CITY GPS-tagged photos
in each of 12 cities, each placed uniformly at random within 2.5 km of the
city's centre (so many fall in a suburb: Darlinghurst, Kopavogur, Eminonu ...),
plus NO_GPS photos without GPS; indexed with the tiny random-weight model, so
only the place signal can help. Reports, per city and overall:

- top-5 precision of a query that is just the city's name (and of the
  country's name): the share of the top 5 taken in that city (country);
- `--place CITY` recall: the share of the city's photos the place filter finds.
- "rule": for 200 random points within 2.5 km of each centre, the share that
  the suburb -> city rule names as that city, for urban-area radius floors of
  4, 8 and 12 km, and how many of 12 distinct big neighbours (Yokohama beside
  Tokyo, Newark beside New York ...) each floor wrongly merges into the city.

The baseline, same set and seed: BENCH_APP=/work/main/app python scripts/bench_places.py
runs the queries against another checkout's code (the rule needs this one's).

Run under `flock /tmp/glimpse-cpu.lock` on shared machines.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, os.environ.get("BENCH_APP") or str(Path(__file__).resolve().parents[1] / "app"))

from glimpse.core.library import Library  # noqa: E402
from glimpse.core.search.ranking import Filters  # noqa: E402
from glimpse.core.signals import places  # noqa: E402

try:
    from glimpse.core.signals import place_hierarchy
except ImportError:  # a checkout from before the hierarchy (the baseline)
    place_hierarchy = None  # type: ignore[assignment]

# (query name, country query, centre)
CITIES = [
    ("Reykjavik", "Iceland", (64.1466, -21.9426)),
    ("Mumbai", "India", (19.0760, 72.8777)),
    ("Sydney", "Australia", (-33.8688, 151.2093)),
    ("Istanbul", "Turkey", (41.0082, 28.9784)),
    ("Mexico City", "Mexico", (19.4326, -99.1332)),
    ("Munich", "Germany", (48.1351, 11.5820)),
    ("Lisbon", "Portugal", (38.7223, -9.1393)),
    ("Paris", "France", (48.8566, 2.3522)),
    ("Tokyo", "Japan", (35.6762, 139.6503)),
    ("Cape Town", "South Africa", (-33.9249, 18.4241)),
    ("Buenos Aires", "Argentina", (-34.6037, -58.3816)),
    ("New York", "United States", (40.7128, -74.0060)),
]
# Big cities next to the ones above that must keep their own name.
NEIGHBOURS = [
    ("Yokohama", "JP", (35.4437, 139.6380)), ("Newark", "US", (40.7357, -74.1724)),
    ("Augsburg", "DE", (48.3705, 10.8978)), ("Pune", "IN", (18.5204, 73.8567)),
    ("Puebla", "MX", (19.0414, -98.2063)), ("Toluca", "MX", (19.2826, -99.6557)),
    ("Wollongong", "AU", (-34.4278, 150.8931)), ("Izmit", "TR", (40.7654, 29.9408)),
    ("La Plata", "AR", (-34.9214, -57.9545)), ("Chiba", "JP", (35.6074, 140.1065)),
    ("Stellenbosch", "ZA", (-33.9321, 18.8602)), ("Kawaguchi", "JP", (35.8077, 139.7241)),
]
RADIUS_KM = 2.5


def point_near(rng: np.random.Generator, lat: float, lon: float, km: float) -> tuple[float, float]:
    """A point uniform in the disc of `km` around (lat, lon)."""
    r, a = km * math.sqrt(rng.random()), rng.random() * 2 * math.pi
    dlat = r * math.cos(a) / 111.32
    dlon = r * math.sin(a) / (111.32 * math.cos(math.radians(lat)))
    return lat + dlat, lon + dlon


def gps_photo(path: Path, seed: int, where: tuple[float, float] | None) -> None:
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(path, "JPEG")
    if where is None:
        return
    exif = Image.Exif()
    gps = exif.get_ifd(0x8825)

    def dms(x: float) -> tuple[float, float, float]:
        x = abs(x)
        d, m = int(x), int((abs(x) - int(x)) * 60)
        return (float(d), float(m), round((x - d - m / 60) * 3600, 4))

    lat, lon = where
    gps[1], gps[2] = ("N" if lat >= 0 else "S"), dms(lat)
    gps[3], gps[4] = ("E" if lon >= 0 else "W"), dms(lon)
    with Image.open(path) as im:
        im.load()
        im.save(path, "JPEG", exif=exif)


def rule_accuracy(rng: np.random.Generator, floor_km: float) -> tuple[float, int]:
    """(share of points near each centre named as that city, neighbours wrongly merged)."""
    old = place_hierarchy.MIN_RADIUS_KM
    place_hierarchy.MIN_RADIUS_KM = floor_km
    try:
        right = total = 0
        for name, _, (lat, lon) in CITIES:
            pts = [point_near(rng, lat, lon, RADIUS_KM) for _ in range(200)]
            right += sum(places.place_key(name) in _keys(p.city or "") for p in places.resolve(pts))
            total += len(pts)
        merged = sum(places.place_key(p.city or "") != places.place_key(n)
                     for (n, _, _), p in zip(NEIGHBOURS, places.resolve([c for _, _, c in NEIGHBOURS]),
                                             strict=True))
        return right / total, merged
    finally:
        place_hierarchy.MIN_RADIUS_KM = old


def _keys(name: str) -> set[str]:
    """A city's name and other names ("New York City" is also "New York")."""
    return {places.place_key(name), *(places.place_key(a) for a in place_hierarchy.aliases_of(name))}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--per-city", type=int, default=5)
    ap.add_argument("--no-gps", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "photos"
        root.mkdir()
        truth: dict[str, set[str]] = {}
        seed = 0
        for name, _, (lat, lon) in CITIES:
            for i in range(args.per_city):
                seed += 1
                path = root / f"{name.replace(' ', '_')}_{i}.jpg"
                gps_photo(path, seed, point_near(rng, lat, lon, RADIUS_KM))
                truth.setdefault(name, set()).add(str(path))
        for i in range(args.no_gps):
            seed += 1
            gps_photo(root / f"nogps_{i}.jpg", seed, None)
        with Library(Path(tmp) / "lib", model="GlimpseTiny:random") as lib:
            lib.add_folder(root)
            lib.index()
            print(f"{'city':14} {'suburbs':>7} {'city@5':>6} {'country@5':>9} {'--place':>7}")
            city_p, country_p, recall = [], [], []
            for name, country, _ in CITIES:
                mine = truth[name]
                try:
                    located = lib.catalog.read(
                        "SELECT COUNT(*) FROM places WHERE locality IS NOT NULL AND photo_id IN "
                        f"(SELECT id FROM photos WHERE path IN ({','.join('?' * len(mine))}))", sorted(mine))
                except Exception:  # noqa: BLE001 - the baseline has no locality column
                    located = [("-",)]
                top = [h.path for h in lib.search(name, k=5)]
                city_p.append(sum(p in mine for p in top) / 5)
                top = [h.path for h in lib.search(country, k=5)]
                country_p.append(sum(p in mine for p in top) / 5)
                found = {h.path for h in lib.search("photo", k=200, filters=Filters(place=name))}
                recall.append(len(found & mine) / len(mine))
                print(f"{name:14} {located[0][0]:>7} {city_p[-1]:>6.2f} {country_p[-1]:>9.2f} {recall[-1]:>7.2f}")
            print(f"{'all':14} {'':>7} {np.mean(city_p):>6.3f} {np.mean(country_p):>9.3f} {np.mean(recall):>7.3f}")
    if place_hierarchy is None:
        return 0
    print("\nsuburb -> city rule (200 points within 2.5 km of each centre):")
    for floor in (4.0, 8.0, 12.0):
        share, merged = rule_accuracy(np.random.default_rng(args.seed + 1), floor)
        print(f"  radius floor {floor:>4.0f} km: named the city {share:.3f}, "
              f"neighbours merged {merged} of {len(NEIGHBOURS)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
