"""Synthetic libraries: a catalog of generated rows and vectors, no photos.

Scale work (scripts/bench_scale.py, the 1M-row GUI test) needs a library the
size of a twenty-year family archive without a million files or hours of
encoding. The rows look like a phone archive's: folders of a few thousand
photos, dates spread over twenty years, a place for one photo in four; the
vectors are unit vectors scattered around cluster centres (bursts of similar
shots), written in the catalog's own float16 format.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from glimpse.core.signals.places import MIGRATIONS as PLACES_MIGRATIONS
from glimpse.core.signals.places import PLACES_STAGE, PLACES_VERSION, match_key
from glimpse.core.storage.catalog import Catalog, vector_to_blob

PHOTOS_PER_FOLDER = 2000
_CHUNK = 20_000
_PLACES = [
    ("Lisbon", "Lisbon", "Portugal"),
    ("Paris", "Ile-de-France", "France"),
    ("Berlin", "Berlin", "Germany"),
    ("Kyoto", "Kyoto", "Japan"),
    ("Denver", "Colorado", "United States"),
]


def unit_rows(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def clustered_vectors(
    n: int, dim: int, rng: np.random.Generator, spread: float = 0.06
) -> tuple[np.ndarray, Callable[[int], np.ndarray]]:
    """(n unit vectors around n/30 centres, a function making queries near those centres).

    Noise of 0.06 per dimension puts a point at cosine ~0.75 from its centre in
    512-d, about how near-duplicate photos sit around the shot they vary."""
    centres = unit_rows(rng.standard_normal((max(n // 30, 10), dim), dtype=np.float32))
    out = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, 100_000):
        m = min(100_000, n - start)
        pick = rng.integers(0, len(centres), m)
        out[start : start + m] = unit_rows(
            centres[pick] + spread * rng.standard_normal((m, dim), dtype=np.float32)
        )

    def queries(count: int) -> np.ndarray:
        pick = rng.integers(0, len(centres), count)
        return unit_rows(centres[pick] + spread * rng.standard_normal((count, dim), dtype=np.float32))

    return out, queries


def uniform_vectors(n: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    out = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, 100_000):
        m = min(100_000, n - start)
        out[start : start + m] = unit_rows(rng.standard_normal((m, dim), dtype=np.float32))
    return out


def build_catalog(
    path: Path,
    vectors: np.ndarray,
    model_id: str = "synthetic:random",
    root: str = "/archive",
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Write a catalog holding one 'ok' photo row per vector; returns its model key."""
    rng = np.random.default_rng(seed)
    n, dim = vectors.shape
    catalog = Catalog(path)
    catalog.migrate_part(PLACES_STAGE, PLACES_MIGRATIONS)  # the places' own columns, as a Library adds
    try:
        # A bulk load: no durability needed until the end, and a crash only
        # loses a generated file.
        catalog._db.execute("PRAGMA synchronous=OFF")
        key = catalog.model_key(model_id, dim)
        folders = (n + PHOTOS_PER_FOLDER - 1) // PHOTOS_PER_FOLDER
        now = time.time()
        start_s = time.mktime((2006, 1, 1, 0, 0, 0, 0, 0, -1))
        with catalog.transaction() as db:
            db.executemany(
                "INSERT INTO folders(id, path, added_at) VALUES (?, ?, ?)",
                [(f + 1, f"{root}/{2006 + f * 20 // folders}/album-{f:05d}", now) for f in range(folders)],
            )
        for lo in range(0, n, _CHUNK):
            hi = min(n, lo + _CHUNK)
            ids = range(lo + 1, hi + 1)
            # Dates rise with the id, as a phone's do, with jitter inside a folder.
            seconds = start_s + (np.arange(lo, hi) / n) * 20 * 365 * 86400 + rng.uniform(0, 3600, hi - lo)
            photo_rows = []
            for i, s in zip(ids, seconds, strict=True):
                folder = (i - 1) // PHOTOS_PER_FOLDER + 1
                taken = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(float(s)))
                photo_rows.append(
                    (i, f"{root}/{2006 + (folder - 1) * 20 // folders}/album-{folder - 1:05d}/IMG_{i:07d}.jpg",
                     folder, 2_000_000 + i % 1000, int(s * 1e9), f"fp{i:012x}", 4032, 3024, taken, "ok", now)
                )
            place_rows = []
            for i in ids:
                if i % 4 == 0:
                    city, region, country = _PLACES[(i // 4) % len(_PLACES)]
                    place_rows.append((i, 38.7, -9.1, city, region, country, match_key(city, region, country)))
            with catalog.transaction() as db:
                db.executemany(
                    """INSERT INTO photos(id, path, folder_id, size, mtime_ns, fingerprint, width, height,
                       taken_at, status, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)""",
                    photo_rows,
                )
                db.executemany(
                    "INSERT INTO embeddings(photo_id, model_key, vector) VALUES (?, ?, ?)",
                    [(i, key, vector_to_blob(vectors[i - 1])) for i in ids],
                )
                db.executemany(
                    """INSERT INTO places(photo_id, lat, lon, city, region, country, match_key)
                       VALUES (?,?,?,?,?,?,?)""",
                    place_rows,
                )
                # Made-up names at one point: current, so the places pass does not
                # name them again from the coordinates (all would become Lisbon).
                db.execute("UPDATE places SET version = ? WHERE photo_id BETWEEN ? AND ?",
                           (PLACES_VERSION, lo + 1, hi))
            if progress:
                progress(hi, n)
        catalog._db.execute("PRAGMA synchronous=NORMAL")
        return key
    finally:
        catalog.close()
