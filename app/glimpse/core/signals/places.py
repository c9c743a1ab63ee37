"""Where a photo was taken: GPS from EXIF or an XMP sidecar, turned into place names offline.

Coordinates become (city, region, country) with reverse_geocoder, which ships
GeoNames' cities over 1,000 people and answers from a k-d tree in memory: no
network, ever. Its table takes about a second to load, so it is loaded once,
lazily, the first time a photo with GPS turns up (a library without GPS never
pays for it). mode=1 keeps it in this process: its multi-process mode forks
workers, which is slower for the few hundred points of one batch and unsafe
inside a GUI.

Place names are matched case- and accent-insensitively ("lisboa", "Lisboa",
"São Paulo" / "sao paulo") through `place_key`.
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from glimpse.core.errors import ImageDecodeError
from glimpse.core.jobs import CancelToken, Progress, ProgressCallback
from glimpse.core.media import imaging
from glimpse.core.signals.base import PassReport, SignalStage
from glimpse.core.signals.countries import COUNTRY_NAMES
from glimpse.core.storage.catalog import Catalog

Coordinates = tuple[float, float]


@dataclass(frozen=True)
class Place:
    lat: float
    lon: float
    city: str | None
    region: str | None
    country: str | None

    @property
    def label(self) -> str:
        """What the grid shows under a thumbnail: "Lisbon, Portugal"."""
        return place_label(self.city, self.region, self.country)


def place_label(city: str | None, region: str | None, country: str | None) -> str:
    first = city or region
    return ", ".join(p for p in (first, country) if p)


def place_key(text: str) -> str:
    """Lower case, accents and punctuation dropped, spaces collapsed: how names are compared."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return " ".join(re.sub(r"[^\w]+", " ", plain).split())


def match_key(city: str | None, region: str | None, country: str | None) -> str:
    """The catalog's searchable form of a place: "|lisbon|lisbon|portugal|"."""
    return "|" + "|".join(place_key(p or "") for p in (city, region, country)) + "|"


# -- reading coordinates -----------------------------------------------------

_XMP_GPS = {
    name: re.compile(
        rf"""exif:{name}\s*(?:=\s*["']([^"']+)["']|>\s*([^<]+)<)""", re.IGNORECASE
    )
    for name in ("GPSLatitude", "GPSLongitude")
}
_XMP_COORD = re.compile(r"^\s*(\d+(?:\.\d+)?)(?:,(\d+(?:\.\d+)?))?(?:,(\d+(?:\.\d+)?))?\s*([NSEW])\s*$")


def sidecar_paths(path: str) -> list[str]:
    """`IMG_1.jpg.xmp` (darktable, digiKam) and `IMG_1.xmp` (Lightroom), in that order."""
    stem = os.path.splitext(path)[0]
    return [path + ".xmp", path + ".XMP", stem + ".xmp", stem + ".XMP"]


def read_sidecar_gps(path: str) -> Coordinates | None:
    """GPS from an XMP sidecar next to the photo, if there is one that says where."""
    for candidate in sidecar_paths(path):
        try:
            with open(candidate, "rb") as fh:
                text = fh.read(1 << 20).decode("utf-8", "replace")
        except OSError:
            continue
        coords = parse_xmp_gps(text)
        if coords is not None:
            return coords
    return None


def parse_xmp_gps(text: str) -> Coordinates | None:
    """XMP writes GPS as "DDD,MM.mmN" or "DDD,MM,SSN" (the EXIF 2.2 XMP mapping)."""
    values = []
    for name in ("GPSLatitude", "GPSLongitude"):
        m = _XMP_GPS[name].search(text)
        if m is None:
            return None
        value = _xmp_degrees(m.group(1) or m.group(2))
        if value is None:
            return None
        values.append(value)
    lat, lon = values
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or (lat == 0 and lon == 0):
        return None
    return lat, lon


def _xmp_degrees(raw: str) -> float | None:
    m = _XMP_COORD.match(raw)
    if m is None:
        return None
    parts = [float(g) for g in m.groups()[:3] if g is not None]
    degrees = sum(p / 60**i for i, p in enumerate(parts))
    return -degrees if m.group(4).upper() in ("S", "W") else degrees


def locate(path: str, exif_gps: Coordinates | None) -> Coordinates | None:
    """A sidecar's GPS wins over the file's own: it is where users correct places."""
    return read_sidecar_gps(path) or exif_gps


def read_location(path: str) -> Coordinates | None:
    """GPS of a file on disk (sidecar, then EXIF), for photos indexed before places existed."""
    try:
        exif = imaging.read_gps(path)
    except ImageDecodeError:
        exif = None
    return locate(path, exif)


# -- reverse geocoding -------------------------------------------------------

_geocoder_lock = threading.Lock()
_geocoder: object | None = None


def _get_geocoder() -> object:
    global _geocoder
    with _geocoder_lock:
        if _geocoder is None:
            import reverse_geocoder

            _geocoder = reverse_geocoder.RGeocoder(mode=1, verbose=False)
        return _geocoder


def resolve(points: Sequence[Coordinates]) -> list[Place]:
    """Place names for coordinates, in order (one k-d tree query for all of them)."""
    if not points:
        return []
    geocoder = _get_geocoder()
    with _geocoder_lock:  # its query is not documented as thread-safe
        answers = geocoder.query([(float(lat), float(lon)) for lat, lon in points])  # type: ignore[attr-defined]
    places = []
    for (lat, lon), answer in zip(points, answers, strict=True):
        code = (answer.get("cc") or "").upper()
        places.append(
            Place(
                lat,
                lon,
                answer.get("name") or None,
                answer.get("admin1") or None,
                COUNTRY_NAMES.get(code, code or None),
            )
        )
    return places


# -- places in a query -------------------------------------------------------

_MAX_PLACE_WORDS = 4  # "Rio de Janeiro", "Bosnia and Herzegovina"


def places_in_query(text: str, known: Iterable[str]) -> list[str]:
    """Known place names mentioned in a query, longest first, without overlaps.

    Only places present in the library are candidates, so a word like "nice"
    is a place only in a library with photos from Nice.
    """
    by_key = {place_key(name): name for name in known if len(place_key(name)) >= 3}
    words = place_key(text).split()
    found: list[str] = []
    used = [False] * len(words)
    for n in range(min(_MAX_PLACE_WORDS, len(words)), 0, -1):
        for start in range(len(words) - n + 1):
            if any(used[start : start + n]):
                continue
            name = by_key.get(" ".join(words[start : start + n]))
            if name is not None and name not in found:
                found.append(name)
                for i in range(start, start + n):
                    used[i] = True
    return found


# -- backfill ----------------------------------------------------------------


def store(db: sqlite3.Connection, photo_id: int, place: Place | None) -> None:
    """Record a photo's place; None records "looked, no GPS" so it is not read again."""
    if place is None:
        Catalog.store_place(db, photo_id, None, None, None, None, None, None)
    else:
        Catalog.store_place(
            db, photo_id, place.lat, place.lon, place.city, place.region, place.country,
            match_key(place.city, place.region, place.country),
        )


def backfill(
    catalog: Catalog,
    progress: Callable[[int, int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
    chunk: int = 256,
) -> int:
    """Read GPS for indexed photos that have no place row yet (indexed before places were
    stored). Resumable: each chunk is committed, and only rows still lacking a place are
    read, so a cancelled or crashed run just continues next time. Returns photos checked."""
    todo = catalog.ids_without_place()
    done = 0
    for start in range(0, len(todo), chunk):
        if cancelled is not None and cancelled():
            break
        rows = catalog.photos_by_ids(todo[start : start + chunk])
        found: list[tuple[int, Coordinates | None]] = [
            (pid, read_location(row.path)) for pid, row in rows.items()
        ]
        located = [(pid, c) for pid, c in found if c is not None]
        names = dict(zip((pid for pid, _ in located), resolve([c for _, c in located]), strict=True))
        with catalog.transaction() as db:
            for pid, _ in found:
                store(db, pid, names.get(pid))
        done += len(found)
        if progress is not None:
            progress(done, len(todo))
    return done


def _run_stage(
    catalog: Catalog, progress: ProgressCallback | None, cancel: CancelToken | None
) -> PassReport:
    """Places of new photos are read while they are encoded (their GPS comes with
    the decode); this stage catches up with photos indexed before places existed."""
    import time

    start = time.monotonic()

    def report(done: int, total: int) -> None:
        if progress is not None:
            rate = done / max(time.monotonic() - start, 1e-9)
            progress(Progress(PLACES_STAGE, done, total, rate, (total - done) / rate if rate else None))

    done = backfill(catalog, report, (lambda: cancel.cancelled) if cancel is not None else None)
    left = len(catalog.ids_without_place())
    return PassReport(PLACES_STAGE, done=done, remaining=left,
                      cancelled=bool(left and cancel is not None and cancel.cancelled),
                      seconds=time.monotonic() - start)


def _counts(catalog: Catalog) -> tuple[int, int]:
    indexed = catalog.counts().get("ok", 0)
    return indexed - len(catalog.ids_without_place()), indexed


PLACES_STAGE = "places"
STAGE = SignalStage(
    name=PLACES_STAGE,
    verb="Reading the places of",
    did="Read the places of",
    noun="places (GPS)",
    reads="file",
    run=_run_stage,
    counts=_counts,
)
