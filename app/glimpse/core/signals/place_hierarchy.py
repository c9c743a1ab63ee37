"""Which city a suburb or district belongs to, offline: GeoNames' cities of 100,000+ people.

reverse_geocoder names the nearest populated place, which inside a big city is
usually a suburb ("Darlinghurst" in Sydney, "Kopavogur" in greater Reykjavik,
"Eminonu" in Istanbul). People search for the city. The city of a point is the
major city (data/major_cities.tsv, made by scripts/make_major_cities.py) of the
same country that "pulls" it hardest: population / distance^1.5 among those
whose urban area reaches it (a radius growing with the square root of the
population: an urban area's surface grows roughly with its population). The
exponent makes a district of a metropolis (Fatih, 356,000 people, inside
Istanbul, 15.7 million) belong to the metropolis while a big neighbour
(Yokohama next to Tokyo) stays itself. A point no major city reaches keeps its
locality as its city. scripts/bench_places.py measures the choice.

The table also gives the other names cities go by ("Lisboa", "Munchen").
"""

from __future__ import annotations

import re
import threading
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

DATA = Path(__file__).with_name("data") / "major_cities.tsv"
# Urban-area radius in km = RADIUS_PER_SQRT_PEOPLE * sqrt(population), within
# [MIN_RADIUS_KM, MAX_RADIUS_KM]: Reykjavik (119,000) reaches 8 km (the floor:
# Seltjarnarnes, 5 km out, is greater Reykjavik), Munich (1.5 M) 15 km,
# Sydney (5.6 M) 28 km, Istanbul and Mumbai 30 km.
RADIUS_PER_SQRT_PEOPLE = 0.012
MIN_RADIUS_KM, MAX_RADIUS_KM = 8.0, 30.0
PULL_EXPONENT = 1.5
_EARTH_KM = 6371.0


@dataclass(frozen=True)
class MajorCities:
    names: tuple[str, ...]
    countries: np.ndarray  # ISO codes
    lat: np.ndarray  # radians
    lon: np.ndarray
    population: np.ndarray
    aliases: tuple[tuple[str, ...], ...]

    def radius_km(self, scale: float = RADIUS_PER_SQRT_PEOPLE) -> np.ndarray:
        return np.clip(scale * np.sqrt(self.population), MIN_RADIUS_KM, MAX_RADIUS_KM)


_lock = threading.Lock()


def place_key(text: str) -> str:
    """Lower case, accents and punctuation dropped, spaces collapsed: how names are compared.

    German-style "ae/oe/ue" fold to the bare vowel as "ä/ö/ü" do, because
    GeoNames writes some names that way ("Eminoenue" for Eminönü): "Eminonu",
    "Eminönü" and "Eminoenue" are one key."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    plain = re.sub(r"([aou])e", r"\1", plain)
    return " ".join(re.sub(r"[^\w]+", " ", plain).split())


@lru_cache(maxsize=1)
def major_cities() -> MajorCities:
    """The table, read once (about 6,000 rows, tens of milliseconds)."""
    with _lock:
        names, ccs, lats, lons, pops, aliases = [], [], [], [], [], []
        for line in DATA.read_text("utf-8").splitlines():
            if not line or line.startswith("#"):
                continue
            name, lat, lon, pop, cc, alt = line.split("\t")
            names.append(name)
            ccs.append(cc)
            lats.append(float(lat))
            lons.append(float(lon))
            pops.append(float(pop))
            aliases.append(tuple(a for a in alt.split(";") if a))
        return MajorCities(tuple(names), np.array(ccs), np.radians(lats), np.radians(lons),
                           np.array(pops), tuple(aliases))


def distances_km(lat: float, lon: float, table: MajorCities) -> np.ndarray:
    """Great-circle distance from a point (degrees) to every major city."""
    la, lo = np.radians(lat), np.radians(lon)
    h = (np.sin((table.lat - la) / 2) ** 2
         + np.cos(la) * np.cos(table.lat) * np.sin((table.lon - lo) / 2) ** 2)
    return 2 * _EARTH_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


def city_of(lat: float, lon: float, country_code: str,
            radius_scale: float = RADIUS_PER_SQRT_PEOPLE) -> int | None:
    """Row of the major city a point belongs to, or None when none reaches it."""
    table = major_cities()
    d = distances_km(lat, lon, table)
    reach = (d <= table.radius_km(radius_scale)) & (table.countries == country_code.upper())
    if not reach.any():
        return None
    pull = np.where(reach, table.population / np.maximum(d, 1.0) ** PULL_EXPONENT, -1.0)
    return int(np.argmax(pull))


@lru_cache(maxsize=1)
def _rows_by_key() -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for i, name in enumerate(major_cities().names):
        out.setdefault(place_key(name), []).append(i)
    return out


def aliases_of(city: str) -> tuple[str, ...]:
    """Other names of a major city ("Lisboa", "Lissabon" for Lisbon); () for others."""
    rows = _rows_by_key().get(place_key(city), [])
    table = major_cities()
    return tuple(dict.fromkeys(a for i in rows for a in table.aliases[i]))
