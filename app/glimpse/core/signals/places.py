"""Where a photo was taken: GPS from EXIF or an XMP sidecar, turned into place names offline.

Coordinates become (locality, city, region, country) with reverse_geocoder,
which ships GeoNames' cities over 1,000 people and answers from a k-d tree in
memory: no network, ever. Its nearest place is the locality (often a suburb:
"Darlinghurst"); the city is the major city it belongs to ("Sydney",
core/signals/place_hierarchy.py). A photo matches its locality, its city (and
the city's other names: "Lisboa"), its region and its country. Its table takes about a second to load, so it is loaded once,
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

from glimpse.core.errors import CatalogError, ImageDecodeError
from glimpse.core.jobs import CancelToken, Progress, ProgressCallback
from glimpse.core.media import imaging
from glimpse.core.signals import place_hierarchy, typos
from glimpse.core.signals.base import PassReport, SignalStage
from glimpse.core.signals.countries import COUNTRY_ALIASES, COUNTRY_NAMES
from glimpse.core.signals.place_hierarchy import place_key
from glimpse.core.storage.catalog import Catalog

Coordinates = tuple[float, float]


@dataclass(frozen=True)
class Place:
    lat: float
    lon: float
    city: str | None
    region: str | None
    country: str | None
    locality: str | None = None  # the geocoder's nearest place, when not the city itself

    @property
    def label(self) -> str:
        """What the grid shows under a thumbnail: "Lisbon, Portugal"."""
        return place_label(self.city, self.region, self.country)


def place_label(city: str | None, region: str | None, country: str | None) -> str:
    first = city or region
    return ", ".join(p for p in (first, country) if p)


def match_key(city: str | None, region: str | None, country: str | None,
              locality: str | None = None, aliases: Sequence[str] = ()) -> str:
    """The catalog's searchable form of a place: "|lisbon|lisbon|portugal|", and with a
    locality and the city's other names "|darlinghurst|sydney|...|new south wales|australia|"
    (a place filter matches any one of the names between bars)."""
    names = ([locality] if locality else []) + [city, *aliases, region, country]
    return "|" + "|".join(place_key(p or "") for p in names) + "|"


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
        locality = answer.get("name") or None
        row = place_hierarchy.city_of(lat, lon, code) if code else None
        city = place_hierarchy.major_cities().names[row] if row is not None else locality
        places.append(
            Place(
                lat,
                lon,
                city,
                answer.get("admin1") or None,
                COUNTRY_NAMES.get(code, code or None),
                locality if locality and locality != city else None,
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
    # A one-letter typo in a place's name written with a capital ("Sidney" for
    # Sydney): lower-case words are left alone ("pairs" is not Paris).
    plain = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    capital = [w[:1].isupper() for w in re.findall(r"[^\W_]+|_+", plain)]
    if len(capital) != len(words):  # a word the key folds differently: no guessing
        return found
    for n in range(min(_MAX_PLACE_WORDS, len(words)), 0, -1):
        for start in range(len(words) - n + 1):
            span = " ".join(words[start : start + n])
            if any(used[start : start + n]) or not capital[start] or not typos.forgivable(span.replace(" ", "")):
                continue
            near = {name for key, name in by_key.items()  # (length first: the cheap test)
                    if abs(len(key) - len(span)) <= 1 and len(key) >= typos.MIN_LENGTH
                    and typos.within_one_edit(span, key)}
            name = near.pop() if len(near) == 1 else None
            if name is not None and name not in found:
                found.append(name)
                for i in range(start, start + n):
                    used[i] = True
    return found


def filter_key(catalog: Catalog, name: str) -> str:
    """The place key a place filter (`--place`, the Place box) looks for: the name's
    own key, or, when no photo has that name, the one stored name one letter from
    it ("Sidney" -> sydney) if exactly one is."""
    key = place_key(name)
    if not typos.forgivable(key.replace(" ", "")):
        return key
    stored = {part for (keys,) in catalog.read(
        "SELECT DISTINCT match_key FROM places WHERE match_key IS NOT NULL")
        for part in keys.strip("|").split("|")}
    if key in stored:
        return key
    near = {s for s in stored if abs(len(s) - len(key)) <= 1 and len(s) >= typos.MIN_LENGTH
            and typos.within_one_edit(key, s)}
    return near.pop() if len(near) == 1 else key


_PLACE_PREPOSITIONS = {"in", "at", "from", "near", "around", "of"}


def without_places(text: str, names: Sequence[str]) -> str:
    """The query without the places it names and the word that led to them
    ("beach in Sydney" -> "beach"), for ranking the place's photos by the rest."""
    tokens = text.split()
    keys = [place_key(t) for t in tokens]
    drop: set[int] = set()
    for name in names:
        want = place_key(name).split()
        n = len(want)
        for start in range(len(tokens) - n + 1):
            span = " ".join(keys[start:start + n])
            near = span.split() == want or (
                typos.forgivable(span.replace(" ", "")) and typos.within_one_edit(span, " ".join(want)))
            if near and not drop & set(range(start, start + n)):
                drop.update(range(start, start + n))
                if start > 0 and keys[start - 1] in _PLACE_PREPOSITIONS:
                    drop.add(start - 1)
                break
    return " ".join(t for i, t in enumerate(tokens) if i not in drop)


# -- backfill ----------------------------------------------------------------


# Version of what a place row holds: 2 added the locality and the city it belongs
# to. Rows of an older version are named again from their stored coordinates
# (no file is read), so an old library gets cities without re-indexing.
PLACES_VERSION = 2
# The places table's own columns (Catalog.migrate_part, declared in STAGE).
MIGRATIONS = (
    """
    ALTER TABLE places ADD COLUMN locality TEXT;
    ALTER TABLE places ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
    CREATE INDEX places_locality ON places(locality);
    CREATE INDEX places_version ON places(version);
    """,
)


def store(db: sqlite3.Connection, photo_id: int, place: Place | None) -> None:
    """Record a photo's place; None records "looked, no GPS" so it is not read again."""
    if place is None:
        values: tuple[object, ...] = (None,) * 7
    else:
        aliases = (*(place_hierarchy.aliases_of(place.city) if place.city else ()),
                   *(aliases_of_country(place.country) if place.country else ()))
        values = (place.lat, place.lon, place.city, place.region, place.country,
                  match_key(place.city, place.region, place.country, place.locality, aliases),
                  place.locality)
    db.execute(
        "INSERT OR REPLACE INTO places(photo_id, lat, lon, city, region, country, match_key, "
        "locality, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (photo_id, *values, PLACES_VERSION),
    )


def stale_ids(catalog: Catalog) -> list[int]:
    """Photos whose place was named by an older version (PLACES_VERSION)."""
    try:
        rows = catalog.read("SELECT photo_id FROM places WHERE version < ? ORDER BY photo_id",
                              (PLACES_VERSION,))
    except CatalogError:  # a read-only catalog not yet upgraded (no locality column)
        return []
    return [r[0] for r in rows]


def rename_stale(catalog: Catalog, cancelled: Callable[[], bool] | None = None,
                 chunk: int = 512) -> int:
    """Name again, from their stored coordinates, the places of an older version."""
    todo = stale_ids(catalog)
    for start in range(0, len(todo), chunk):
        if cancelled is not None and cancelled():
            break
        ids = todo[start : start + chunk]
        marks = ",".join("?" * len(ids))
        rows = catalog.read(f"SELECT photo_id, lat, lon FROM places WHERE photo_id IN ({marks})", ids)
        located = [(r[0], (float(r[1]), float(r[2]))) for r in rows if r[1] is not None]
        named = dict(zip((pid for pid, _ in located), resolve([c for _, c in located]), strict=True))
        with catalog.transaction() as db:
            for pid in ids:
                store(db, pid, named.get(pid))
    return len(todo)


def known_names(catalog: Catalog, names: Iterable[str]) -> list[str]:
    """What the planner recognises as places: the library's cities, regions and
    countries (`names`), their localities and the cities' other names."""
    out = list(names)
    try:
        out += [r[0] for r in catalog.read(
            "SELECT DISTINCT locality FROM places WHERE locality IS NOT NULL")]
    except CatalogError:  # a read-only catalog not yet upgraded (no locality column)
        pass
    for name in list(out):
        out += [*place_hierarchy.aliases_of(name), *aliases_of_country(name)]
    return list(dict.fromkeys(out))


_CODE_OF = {name: code for code, name in COUNTRY_NAMES.items()}


def aliases_of_country(name: str) -> tuple[str, ...]:
    """Other names of a country ("Turkey" for Türkiye); () for anything else."""
    return COUNTRY_ALIASES.get(_CODE_OF.get(name, ""), ())


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

    stop = (lambda: cancel.cancelled) if cancel is not None else None
    renamed = rename_stale(catalog, stop)
    done = renamed + backfill(catalog, report, stop)
    left = len(catalog.ids_without_place()) + len(stale_ids(catalog))
    return PassReport(PLACES_STAGE, done=done, remaining=left,
                      cancelled=bool(left and cancel is not None and cancel.cancelled),
                      seconds=time.monotonic() - start)


def _counts(catalog: Catalog) -> tuple[int, int]:
    indexed = catalog.counts().get("ok", 0)
    return indexed - len(catalog.ids_without_place()) - len(stale_ids(catalog)), indexed


PLACES_STAGE = "places"
STAGE = SignalStage(
    name=PLACES_STAGE,
    verb="Reading the places of",
    did="Read the places of",
    noun="places (GPS)",
    reads="file",
    run=_run_stage,
    counts=_counts,
    version=PLACES_VERSION,
    migrations=MIGRATIONS,
)
