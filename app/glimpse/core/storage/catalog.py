"""The SQLite catalog: the source of truth for photos, folders and embeddings.

The in-memory vector index (core/storage/vector_index.py) is built from the embeddings stored
here, the one stored copy of every vector, so a crash at any point loses at
most the batch being committed. WAL mode lets the GUI read while the indexer writes.
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from glimpse.core.errors import CatalogError
from glimpse.core.faults import pause_point

log = logging.getLogger(__name__)

SCHEMA_VERSION = 7

# Each entry upgrades the schema from version i to i + 1. Never edit an entry
# that has shipped: add a new one, so every old catalog upgrades step by step.
_MIGRATIONS: list[str] = [
    """
    CREATE TABLE folders (
        id INTEGER PRIMARY KEY,
        path TEXT NOT NULL UNIQUE,
        added_at REAL NOT NULL
    );
    CREATE TABLE photos (
        id INTEGER PRIMARY KEY,
        path TEXT NOT NULL UNIQUE,
        folder_id INTEGER REFERENCES folders(id) ON DELETE CASCADE,
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        fingerprint TEXT,
        width INTEGER,
        height INTEGER,
        taken_at TEXT,
        status TEXT NOT NULL DEFAULT 'pending',
        error TEXT,
        updated_at REAL NOT NULL
    );
    CREATE INDEX photos_fingerprint ON photos(fingerprint);
    CREATE INDEX photos_folder ON photos(folder_id);
    CREATE INDEX photos_taken_at ON photos(taken_at);
    CREATE TABLE models (
        id INTEGER PRIMARY KEY,
        model_id TEXT NOT NULL UNIQUE,
        dim INTEGER NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE TABLE embeddings (
        photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
        model_key INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
        vector BLOB NOT NULL,
        PRIMARY KEY (photo_id, model_key)
    ) WITHOUT ROWID;
    CREATE INDEX embeddings_model ON embeddings(model_key);
    """,
    # Places and videos (issue 10). A place row means "GPS was looked for":
    # NULL coordinates say the photo has none, so it is not read again.
    # A video's first sampled keyframe is its row in `embeddings`; its other
    # keyframes live in `frames`, each its own label in the HNSW index.
    """
    CREATE TABLE places (
        photo_id INTEGER PRIMARY KEY REFERENCES photos(id) ON DELETE CASCADE,
        lat REAL,
        lon REAL,
        city TEXT,
        region TEXT,
        country TEXT,
        match_key TEXT
    );
    CREATE TABLE videos (
        photo_id INTEGER PRIMARY KEY REFERENCES photos(id) ON DELETE CASCADE,
        duration REAL NOT NULL,
        first_t REAL NOT NULL
    );
    CREATE TABLE frames (
        id INTEGER PRIMARY KEY,
        photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
        model_key INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
        t_seconds REAL NOT NULL,
        vector BLOB NOT NULL,
        UNIQUE (photo_id, model_key, t_seconds)
    );
    CREATE INDEX frames_model ON frames(model_key);
    """,
    # 2 -> 3: a folder whose root is absent (an unplugged disk, an unmounted
    # share) is offline since this time; its photos keep rows and vectors.
    # Deleted photos ('missing') are kept for a while: index their age.
    """
    ALTER TABLE folders ADD COLUMN offline_since REAL;
    CREATE INDEX photos_status_updated ON photos(status, updated_at);
    """,
    # 3 -> 4: signal passes (core/indexing/passes.py) and the text read in photos (core/signals/text.py).
    # pass_state: which version of which pass has read which content of a photo.
    # photo_text: full-text index, rowid = photo id; accents folded so "cafe"
    # finds "Café". Rows of deleted photos are swept by sweep_text().
    """
    CREATE TABLE pass_state (
        pass TEXT NOT NULL,
        photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
        version INTEGER NOT NULL,
        fingerprint TEXT,
        error TEXT,
        done_at REAL NOT NULL,
        PRIMARY KEY (pass, photo_id)
    ) WITHOUT ROWID;
    CREATE VIRTUAL TABLE photo_text USING fts5(
        text, extra, tokenize = 'unicode61 remove_diacritics 2'
    );
    """,
    # People (core/signals/faces.py, core/signals/people.py). people: user data (names, hidden,
    # merges), never recomputed. faces: one row per face found, box as fractions
    # of the upright photo, dlib 128-d embedding; manual = the user put it there;
    # rejected = ids of people the user moved it out of (comma-separated).
    """
    CREATE TABLE people (
        id INTEGER PRIMARY KEY,
        name TEXT,
        hidden INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL
    );
    CREATE TABLE faces (
        id INTEGER PRIMARY KEY,
        photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
        x REAL NOT NULL, y REAL NOT NULL, w REAL NOT NULL, h REAL NOT NULL,
        size_px INTEGER NOT NULL,
        sharpness REAL NOT NULL,
        score REAL NOT NULL,
        quality REAL NOT NULL,
        embedding BLOB NOT NULL,
        person_id INTEGER REFERENCES people(id) ON DELETE SET NULL,
        manual INTEGER NOT NULL DEFAULT 0,
        rejected TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX faces_photo ON faces(photo_id);
    CREATE INDEX faces_person ON faces(person_id);
    """,
    # 5 -> 6: faces in video keyframes (core/signals/faces.py): t_seconds is the keyframe's
    # time, NULL for a photo. The face pass recorded videos as unreadable before;
    # forgetting that makes it look at them (photos are not read again).
    """
    ALTER TABLE faces ADD COLUMN t_seconds REAL;
    DELETE FROM pass_state WHERE pass = 'faces' AND photo_id IN (SELECT photo_id FROM videos);
    """,
    # 6 -> 7: embeddings in an ordinary rowid table. As a WITHOUT ROWID table each
    # 1 KB vector spilled into an overflow page of its own: 5 GB of catalog for
    # 1M photos, where 1.2 GB holds them (scripts/bench_scale.py). Same columns,
    # same rows; the freed pages are returned by a VACUUM after the upgrade.
    # Indexes that let filters and the folder counts answer at 1M rows without
    # a full scan: place keys, and (folder, status) for the counts per folder.
    """
    CREATE TABLE embeddings_rowid (
        photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
        model_key INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
        vector BLOB NOT NULL,
        UNIQUE (photo_id, model_key)
    );
    INSERT INTO embeddings_rowid(photo_id, model_key, vector)
        SELECT photo_id, model_key, vector FROM embeddings ORDER BY photo_id, model_key;
    DROP TABLE embeddings;
    ALTER TABLE embeddings_rowid RENAME TO embeddings;
    CREATE INDEX embeddings_model ON embeddings(model_key, photo_id);
    CREATE INDEX places_match_key ON places(match_key);
    DROP INDEX photos_folder;
    CREATE INDEX photos_folder_status ON photos(folder_id, status);
    """,
]

# HNSW labels of video keyframes beyond the first: far above any photo id.
FRAME_LABEL_BASE = 1 << 40

# Deleted photos keep their row and vectors this long (and at most this many
# rows), so a file restored from the trash or copied back is not re-encoded.
MISSING_KEEP_S = 30 * 24 * 3600.0
MISSING_KEEP_ROWS = 20_000

# SQL true for a photo whose folder is online (`p` is the photos alias).
_ONLINE = "p.folder_id NOT IN (SELECT id FROM folders WHERE offline_since IS NOT NULL)"

# Photo states. 'missing' rows keep their embeddings for a while so that a
# file that reappears elsewhere (a move seen as delete + create) is matched by
# fingerprint and not encoded again.
PENDING, OK, ERROR, MISSING = "pending", "ok", "error", "missing"

# Matched words in a text snippet are wrapped in these (control characters that
# OCR never outputs), so front ends can highlight them their own way.
SNIPPET_OPEN, SNIPPET_CLOSE = "\x02", "\x03"


@dataclass(frozen=True)
class PhotoRow:
    id: int
    path: str
    folder_id: int | None
    size: int
    mtime_ns: int
    fingerprint: str | None
    width: int | None
    height: int | None
    taken_at: str | None
    status: str
    error: str | None


@dataclass(frozen=True)
class FolderRow:
    id: int
    path: str
    indexed: int
    pending: int
    failed: int
    offline_since: float | None = None  # seconds since the epoch; None when present


_IDS_PER_QUERY = 500  # well under SQLite's parameter limit (999 in older builds)

_PHOTO_COLUMNS = "id, path, folder_id, size, mtime_ns, fingerprint, width, height, taken_at, status, error"


def vector_to_blob(vector: np.ndarray) -> bytes:
    """Embeddings are stored as float16: half the space, no loss that matters for ranking."""
    return np.asarray(vector, dtype="<f2").tobytes()


def _checked_vectors(
    rows: Sequence[tuple], dim: int
) -> tuple[np.ndarray, np.ndarray, list[tuple[int, str]]]:
    """(ids, float32 matrix, damaged (id, what is wrong)) of (id, blob) rows: a blob
    of the wrong length or with a non-finite value (a torn write, a flipped bit,
    a vector of another model) is left out.
    The catalog is the one stored copy of the vectors, so each is checked as it
    is read: one bad row must not break every search."""
    if not rows:
        return np.zeros(0, np.int64), np.zeros((0, dim), np.float32), []
    ids = np.fromiter((r[0] for r in rows), np.int64, len(rows))
    blobs = [r[1] for r in rows]
    damaged: list[tuple[int, str]] = []
    if any(not isinstance(b, bytes) or len(b) != 2 * dim for b in blobs):
        keep = [isinstance(b, bytes) and len(b) == 2 * dim for b in blobs]
        damaged = [(int(i), _wrong_size(b, dim))
                   for i, b, k in zip(ids, blobs, keep, strict=True) if not k]
        ids = ids[np.array(keep, bool)]
        blobs = [b for b, k in zip(blobs, keep, strict=True) if k]
    if not blobs:
        return ids, np.zeros((0, dim), np.float32), damaged
    matrix = np.frombuffer(b"".join(blobs), dtype="<f2").reshape(len(blobs), dim).astype(np.float32)
    finite = np.isfinite(matrix).all(axis=1)
    if not finite.all():
        damaged += [(int(i), "holds values that are not numbers (NaN or infinity)")
                    for i in ids[~finite]]
        ids, matrix = ids[finite], matrix[finite]
    return ids, matrix, damaged


def _wrong_size(blob: object, dim: int) -> str:
    if not isinstance(blob, bytes):
        return f"is not a vector (a stored {type(blob).__name__})"
    return f"has {len(blob) // 2} values where the model has {dim} (cut short, or another model's)"


# The log of damage found and repaired (`glimpse errors`, `glimpse check`): one
# row per photo and problem. The catalog's own part (Catalog.migrate_part), so
# it needs no step in _MIGRATIONS. model_key: whose vector it was (NULL: not a vector).
_REPAIR_STEPS = (
    """
    CREATE TABLE repairs (
        id INTEGER PRIMARY KEY,
        photo_id INTEGER REFERENCES photos(id) ON DELETE CASCADE,
        model_key INTEGER,
        what TEXT NOT NULL,
        action TEXT NOT NULL,
        found_at REAL NOT NULL
    );
    CREATE INDEX repairs_photo ON repairs(photo_id);
    """,
)


@dataclass(frozen=True)
class RepairRow:
    path: str
    what: str  # "its stored vector has 256 values where the model has 512 ..."
    action: str  # what was done about it
    found_at: float
    fixed: bool  # the photo has a vector for that model again


class Catalog:
    """One SQLite file. Safe to share between threads: one connection, one lock."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._dims: dict[int, int] = {}  # model key -> vector width (fixed per model)
        try:
            self._db = sqlite3.connect(
                self.path, check_same_thread=False, isolation_level=None, timeout=30
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
            self.migrate_part("repairs", _REPAIR_STEPS)
        except sqlite3.DatabaseError as exc:
            if "unable to open" in str(exc) or "readonly" in str(exc):
                raise CatalogError(
                    f"The catalog at {self.path} cannot be opened for writing ({exc}). Check "
                    f"that {self.path.parent} is writable (not a read-only disk or share), "
                    "or choose another library folder with --library."
                ) from exc
            raise CatalogError(
                f"The catalog at {self.path} cannot be opened ({exc}). Move it aside "
                "(rename it) and run `glimpse index` to start a fresh library from your "
                "folders; your photos are untouched."
            ) from exc

    # -- plumbing -----------------------------------------------------------

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise CatalogError(
                f"The catalog at {self.path} was written by a newer Glimpse "
                f"(schema {version}, this one knows {SCHEMA_VERSION}). Update Glimpse."
            )
        for step in range(version, SCHEMA_VERSION):
            with self.transaction() as db:
                for statement in _split_sql(_MIGRATIONS[step]):
                    db.execute(statement)
                db.execute(f"PRAGMA user_version={step + 1}")
                pause_point("migration")
        if version < SCHEMA_VERSION:
            self._return_free_pages()

    def migrate_part(self, part: str, steps: Sequence[str]) -> None:
        """Bring one signal's own tables up to date: its steps this catalog lacks, each
        once and in order, recorded in schema_parts. A signal owns its tables and its
        steps (core/signals/), so adding one never touches the catalog's own list.
        Reads first, so an up-to-date catalog on a read-only disk still opens."""
        try:
            row = self._db.execute(
                "SELECT version FROM schema_parts WHERE part = ?", (part,)).fetchone()
            have = int(row[0]) if row else 0
        except sqlite3.OperationalError:  # no schema_parts yet: nothing applied
            have = 0
        if have > len(steps):
            raise CatalogError(
                f"The catalog at {self.path} was written by a newer Glimpse (its '{part}' "
                f"tables are at version {have}, this one knows {len(steps)}). Update Glimpse."
            )
        if have == len(steps):
            return
        if not os.access(self.path, os.W_OK):
            # A catalog on a read-only disk is searched as it is; the part's tables
            # come with the next write (its word searches find nothing meanwhile).
            return
        with self.transaction() as db:
            db.execute("""CREATE TABLE IF NOT EXISTS schema_parts (
                              part TEXT PRIMARY KEY, version INTEGER NOT NULL)""")
            for step in steps[have:]:
                for statement in _split_sql(step):
                    db.execute(statement)
            db.execute("INSERT OR REPLACE INTO schema_parts(part, version) VALUES (?, ?)",
                       (part, len(steps)))
            pause_point("migration")

    def _return_free_pages(self) -> None:
        """After an upgrade that rewrote a big table, give the freed space back
        to the disk (a VACUUM cannot run inside the migration's transaction)."""
        free = self._db.execute("PRAGMA freelist_count").fetchone()[0]
        total = self._db.execute("PRAGMA page_count").fetchone()[0]
        if free > 256 and free * 4 > total:
            self._db.execute("VACUUM")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """All-or-nothing writes: a crash mid-batch leaves the previous state."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.DatabaseError as exc:  # another writer held it past the timeout
                raise CatalogError(_disk_message(exc, self.path)) from exc
            self._local.in_transaction = True  # this thread's reads must see its writes
            try:
                yield self._db
                self._db.execute("COMMIT")
            except sqlite3.DatabaseError as exc:
                self._rollback()
                raise CatalogError(_disk_message(exc, self.path)) from exc
            except BaseException:
                self._rollback()
                raise
            finally:
                self._local.in_transaction = False

    def _rollback(self) -> None:
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")

    def read(self, sql: str, params: Sequence[object] = ()) -> list[tuple]:
        """A read-only query for modules that own their tables (core/signals/people.py)."""
        return self._query(sql, params)

    def _query(self, sql: str, params: Sequence[object] = ()) -> list[tuple]:
        if getattr(self._local, "in_transaction", False):
            with self._lock:
                try:
                    return self._db.execute(sql, params).fetchall()
                except sqlite3.DatabaseError as exc:
                    raise CatalogError(_disk_message(exc, self.path)) from exc
        try:
            return self._reader().execute(sql, params).fetchall()
        except sqlite3.DatabaseError as exc:
            raise CatalogError(_disk_message(exc, self.path)) from exc

    def _reader(self) -> sqlite3.Connection:
        """This thread's own read-only connection. WAL lets readers run beside the
        writer and each other, so a quick read on the GUI thread never waits for
        a worker's long query (folder counts, a million vectors read for the index)
        or an indexing commit; each read sees the last committed state."""
        conn = getattr(self._local, "reader", None)
        if conn is None:
            conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
            conn.execute("PRAGMA query_only=ON")
            self._local.reader = conn
            with self._lock:
                self._readers.append(conn)
        return conn

    def _query_ids(
        self, sql: str, ids: Iterable[int], params: Sequence[object] = ()
    ) -> list[tuple]:
        """Run `sql` (with `{ids}` where the id list goes) over ids in chunks:
        SQLite caps the number of parameters in one statement."""
        id_list = list(ids)
        rows: list[tuple] = []
        for start in range(0, len(id_list), _IDS_PER_QUERY):
            chunk = id_list[start : start + _IDS_PER_QUERY]
            marks = ",".join("?" * len(chunk))
            rows += self._query(sql.format(ids=marks), [*params, *chunk])
        return rows

    def close(self) -> None:
        with self._lock:
            for conn in self._readers:
                conn.close()
            self._readers.clear()
            self._db.close()

    # -- folders ------------------------------------------------------------

    def add_folder(self, path: str) -> int:
        with self.transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO folders(path, added_at) VALUES (?, ?)", (path, time.time())
            )
            return int(db.execute("SELECT id FROM folders WHERE path=?", (path,)).fetchone()[0])

    def remove_folder(self, path: str) -> list[int]:
        """Forget a folder and its photos; returns the photo ids removed."""
        with self.transaction() as db:
            row = db.execute("SELECT id FROM folders WHERE path=?", (path,)).fetchone()
            if row is None:
                return []
            ids = [r[0] for r in db.execute("SELECT id FROM photos WHERE folder_id=?", (row[0],))]
            db.execute("DELETE FROM photos WHERE folder_id=?", (row[0],))
            db.execute("DELETE FROM folders WHERE id=?", (row[0],))
            return ids

    def folders(self) -> list[FolderRow]:
        """Each folder with its photo counts, from the (folder_id, status) index
        alone, without reading a photo row."""
        counts: dict[int, dict[str, int]] = {}
        for folder_id, status, n in self._query(
            "SELECT folder_id, status, COUNT(*) FROM photos GROUP BY folder_id, status"
        ):
            counts.setdefault(folder_id, {})[status] = n
        rows = self._query("SELECT id, path, offline_since FROM folders ORDER BY path")
        return [
            FolderRow(
                fid, path,
                counts.get(fid, {}).get("ok", 0),
                counts.get(fid, {}).get("pending", 0),
                counts.get(fid, {}).get("error", 0),
                offline,
            )
            for fid, path, offline in rows
        ]

    def folder_paths(self) -> list[str]:
        return [r[0] for r in self._query("SELECT path FROM folders ORDER BY path")]

    def set_offline(self, folder_id: int, offline: bool) -> None:
        """Remember since when a folder's root has been absent (kept if already set)."""
        with self.transaction() as db:
            if offline:
                db.execute(
                    "UPDATE folders SET offline_since=? WHERE id=? AND offline_since IS NULL",
                    (time.time(), folder_id),
                )
            else:
                db.execute("UPDATE folders SET offline_since=NULL WHERE id=?", (folder_id,))

    def move_folder(self, old: str, new: str) -> int:
        """Re-point a folder and its photos' paths (keeping ids and vectors);
        returns the number of photos re-pointed."""
        with self.transaction() as db:
            row = db.execute("SELECT id FROM folders WHERE path=?", (old,)).fetchone()
            if row is None:
                raise CatalogError(f"{old} is not a watched folder.")
            prefix = old.rstrip(os.sep) + os.sep
            db.execute(
                "UPDATE folders SET path=?, offline_since=NULL WHERE id=?", (new, row[0])
            )
            cur = db.execute(
                "UPDATE photos SET path = ? || substr(path, ?) WHERE folder_id=? "
                "AND substr(path, 1, ?) = ?",
                (new.rstrip(os.sep) + os.sep, len(prefix) + 1, row[0], len(prefix), prefix),
            )
            return cur.rowcount

    def folder_id(self, path: str) -> int | None:
        rows = self._query("SELECT id FROM folders WHERE path=?", (path,))
        return int(rows[0][0]) if rows else None

    # -- photos -------------------------------------------------------------

    def photos_under(self, folder_id: int) -> list[PhotoRow]:
        rows = self._query(f"SELECT {_PHOTO_COLUMNS} FROM photos WHERE folder_id=?", (folder_id,))
        return [PhotoRow(*r) for r in rows]

    def photo(self, photo_id: int) -> PhotoRow | None:
        rows = self._query(f"SELECT {_PHOTO_COLUMNS} FROM photos WHERE id=?", (photo_id,))
        return PhotoRow(*rows[0]) if rows else None

    def photo_by_path(self, path: str) -> PhotoRow | None:
        rows = self._query(f"SELECT {_PHOTO_COLUMNS} FROM photos WHERE path=?", (path,))
        return PhotoRow(*rows[0]) if rows else None

    def photos_by_ids(self, ids: Iterable[int]) -> dict[int, PhotoRow]:
        rows = self._query_ids(f"SELECT {_PHOTO_COLUMNS} FROM photos WHERE id IN ({{ids}})", ids)
        return {r[0]: PhotoRow(*r) for r in rows}

    def photos_with_status(self, status: str, limit: int | None = None) -> list[PhotoRow]:
        sql = f"SELECT {_PHOTO_COLUMNS} FROM photos WHERE status=? ORDER BY path"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [PhotoRow(*r) for r in self._query(sql, (status,))]

    def find_by_fingerprint(self, fingerprint: str) -> list[PhotoRow]:
        rows = self._query(
            f"SELECT {_PHOTO_COLUMNS} FROM photos WHERE fingerprint=?", (fingerprint,)
        )
        return [PhotoRow(*r) for r in rows]

    def counts(self) -> dict[str, int]:
        rows = self._query("SELECT status, COUNT(*) FROM photos GROUP BY status")
        counts = {PENDING: 0, OK: 0, ERROR: 0, MISSING: 0}
        counts.update({status: n for status, n in rows})
        # Kept but not searchable: photos of folders whose disk is absent.
        counts["offline"] = self._query(
            f"SELECT COUNT(*) FROM photos p WHERE status<>'missing' AND NOT ({_ONLINE})"
        )[0][0]
        return counts

    def photo_ids_matching(
        self,
        folder: str | None = None,
        after: str | None = None,
        before: str | None = None,
        place_key: str | None = None,
    ) -> set[int]:
        """Ids of indexed, searchable photos passing the filters (dates are ISO
        strings; place_key is places.place_key() of a city, region or country name)."""
        # "+status": not from the status index (nearly every row is 'ok'), so that
        # SQLite answers from the filter's own index instead (a range of paths,
        # of dates, a list of place keys): at 1M rows a full scan per filter
        # costs hundreds of ms (scripts/bench_scale.py).
        clauses: list[str] = ["+status='ok'", _ONLINE]
        params: list[object] = []
        if place_key:
            keys = self._place_keys_matching(place_key)
            if not keys:
                return set()
            marks = ",".join("?" * len(keys))
            clauses.append(f"id IN (SELECT photo_id FROM places WHERE match_key IN ({marks}))")
            params += keys
        if folder is not None:
            prefix = folder.rstrip(os.sep) + os.sep
            # Paths under the folder sort between "folder/" and "folder0" ("0" follows "/").
            clauses.append("(path = ? OR (path >= ? AND path < ?))")
            params += [folder, prefix, prefix[:-1] + chr(ord(os.sep) + 1)]
        # A photo with no EXIF date is dated by its file's mtime, which for
        # phone exports is usually close to when it was taken.
        if after is not None or before is not None:
            lo, hi = after or "0000", before or "9999"
            from_mtime = "strftime('%Y-%m-%dT%H:%M:%S', mtime_ns / 1e9, 'unixepoch', 'localtime')"
            clauses.append(
                f"((taken_at >= ? AND taken_at < ?) OR "
                f"(taken_at IS NULL AND {from_mtime} >= ? AND {from_mtime} < ?))"
            )
            params += [lo, hi, lo, hi]
        rows = self._query(f"SELECT id FROM photos p WHERE {' AND '.join(clauses)}", params)
        return {r[0] for r in rows}

    def _place_keys_matching(self, place_key: str) -> list[str]:
        """The stored place keys naming this city, region or country: a few hundred
        distinct keys, read from their index, then matched here."""
        needle = f"|{place_key}|"
        rows = self._query("SELECT DISTINCT match_key FROM places WHERE match_key IS NOT NULL")
        return [r[0] for r in rows if needle in r[0]]

    # -- models and embeddings ---------------------------------------------

    def known_model(self, model_id: str) -> tuple[int, int] | None:
        """(key, dim) of a model seen before: lets a library use its vectors without loading it."""
        rows = self._query("SELECT id, dim FROM models WHERE model_id=?", (model_id,))
        return (int(rows[0][0]), int(rows[0][1])) if rows else None

    def model_key(self, model_id: str, dim: int) -> int:
        """The small integer that stands for a model in the embeddings table."""
        with self.transaction() as db:
            row = db.execute("SELECT id, dim FROM models WHERE model_id=?", (model_id,)).fetchone()
            if row is not None:
                if row[1] != dim:
                    raise CatalogError(
                        f"Model {model_id} now gives {dim}-d vectors but the catalog holds "
                        f"{row[1]}-d ones; the checkpoint changed under the same name."
                    )
                return int(row[0])
            cur = db.execute(
                "INSERT INTO models(model_id, dim, created_at) VALUES (?, ?, ?)",
                (model_id, dim, time.time()),
            )
            return int(cur.lastrowid or 0)

    def known_models(self) -> list[tuple[str, int, int]]:
        """(model id, dim, number of embeddings) for every model ever used here."""
        return [
            (r[0], r[1], r[2])
            for r in self._query(
                """SELECT m.model_id, m.dim, COUNT(e.photo_id) FROM models m
                   LEFT JOIN embeddings e ON e.model_key = m.id GROUP BY m.id ORDER BY m.model_id"""
            )
        ]

    def last_used_model(self) -> str | None:
        """The model most recently added here that holds vectors: the library's
        model when nothing else names one (an index lookup per model, not a count)."""
        rows = self._query(
            """SELECT m.model_id FROM models m
               WHERE EXISTS (SELECT 1 FROM embeddings e WHERE e.model_key = m.id)
               ORDER BY m.created_at DESC, m.id DESC LIMIT 1"""
        )
        return rows[0][0] if rows else None

    def ids_needing_embedding(self, model_key: int) -> list[int]:
        """Photos that are pending, or indexed by another model but not this one."""
        rows = self._query(
            f"""SELECT p.id FROM photos p
               WHERE p.status IN ('pending', 'ok') AND {_ONLINE}
                 AND NOT EXISTS (SELECT 1 FROM embeddings e
                                 WHERE e.photo_id = p.id AND e.model_key = ?)
               ORDER BY p.path""",
            (model_key,),
        )
        return [r[0] for r in rows]

    def embedding_ids(self, model_key: int) -> np.ndarray:
        """Ids of photos that are indexed ('ok'), searchable (their folder is online)
        and have a vector for this model: exactly what the HNSW index holds."""
        rows = self._query(
            f"""SELECT e.photo_id FROM embeddings e JOIN photos p ON p.id = e.photo_id
               WHERE e.model_key=? AND p.status='ok' AND {_ONLINE} ORDER BY e.photo_id""",
            (model_key,),
        )
        return np.array([r[0] for r in rows], dtype=np.int64)

    def embeddings(
        self, model_key: int, ids: Sequence[int] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(ids, float32 matrix) of live photos' vectors for one model (all searchable
        photos when `ids` is None; exactly those ids otherwise)."""
        if ids is None:
            rows = self._query(
                f"""SELECT e.photo_id, e.vector FROM embeddings e JOIN photos p ON p.id = e.photo_id
                   WHERE e.model_key=? AND p.status='ok' AND {_ONLINE} ORDER BY e.photo_id""",
                (model_key,),
            )
        else:
            rows = self._query_ids(
                "SELECT photo_id, vector FROM embeddings WHERE model_key=? "
                "AND photo_id IN ({ids}) ORDER BY photo_id",
                ids,
                [model_key],
            )
        if not rows:
            return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
        ids_out, matrix, damaged = _checked_vectors(rows, self._dim_of(model_key))
        self._drop_damaged("embeddings", model_key, damaged)
        return ids_out, matrix

    def _dim_of(self, model_key: int) -> int:
        if model_key not in self._dims:
            rows = self._query("SELECT dim FROM models WHERE id=?", (model_key,))
            if not rows:
                raise CatalogError(f"No model {model_key} in {self.path}")
            self._dims[model_key] = int(rows[0][0])
        return self._dims[model_key]

    def _drop_damaged(self, table: str, model_key: int, damaged: Sequence[tuple[int, str]]) -> None:
        """Delete damaged vectors so that the next index run encodes those photos
        again (a photo without a vector is pending for its model); said in the log
        and recorded for `glimpse errors`."""
        if not damaged:
            return
        ids = [int(i) for i, _ in damaged]
        shown = ", ".join(str(i) for i in ids[:10]) + (" ..." if len(ids) > 10 else "")
        key = "photo_id" if table == "embeddings" else "id"
        action = ("removed; `glimpse index` encodes the photo again" if table == "embeddings"
                  else "removed; the video's other keyframes still find it")
        try:
            with self.transaction() as db:
                if table == "frames":
                    owner = dict(self._query_ids("SELECT id, photo_id FROM frames WHERE id IN ({ids})", ids))
                else:
                    owner = {i: i for i in ids}
                db.executemany(f"DELETE FROM {table} WHERE {key}=? AND model_key=?",
                               [(i, model_key) for i in ids])
                self.record_repairs(db, [
                    (owner[i], model_key if table == "embeddings" else None,
                     f"its stored {'vector' if table == 'embeddings' else 'keyframe vector'} {what}",
                     action)
                    for i, what in damaged if i in owner])
            what = action
        except CatalogError as exc:  # a read-only catalog, another writer: still searchable
            what = f"left out of searches (could not remove them: {exc})"
        log.warning("%d damaged stored vector(s) in %s (%s %s): %s", len(ids), table,
                    "photo ids" if table == "embeddings" else "frame ids", shown, what)

    @staticmethod
    def record_repairs(
        db: sqlite3.Connection, rows: Sequence[tuple[int | None, int | None, str, str]]
    ) -> None:
        """Log damage found: (photo id, model key of a removed vector, what, action)."""
        now = time.time()
        db.executemany(
            "INSERT INTO repairs(photo_id, model_key, what, action, found_at) VALUES (?, ?, ?, ?, ?)",
            [(pid, key, what, action, now) for pid, key, what, action in rows],
        )

    def repairs(self, limit: int | None = None) -> list[RepairRow]:
        """Damage found in this catalog, newest first, with whether it is mended."""
        sql = """SELECT p.path, r.what, r.action, r.found_at,
                        r.model_key IS NULL OR EXISTS (SELECT 1 FROM embeddings e
                            WHERE e.photo_id = r.photo_id AND e.model_key = r.model_key)
                 FROM repairs r JOIN photos p ON p.id = r.photo_id
                 ORDER BY r.found_at DESC, r.id DESC"""
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        try:
            rows = self._query(sql)
        except CatalogError:  # a read-only catalog from before the repairs log
            return []
        return [RepairRow(str(a), str(b), str(c), float(d), bool(e)) for a, b, c, d, e in rows]

    # -- writes (inside `with catalog.transaction() as db`) -----------------

    @staticmethod
    def insert_photo(
        db: sqlite3.Connection, path: str, folder_id: int, size: int, mtime_ns: int, fingerprint: str
    ) -> int:
        cur = db.execute(
            """INSERT INTO photos(path, folder_id, size, mtime_ns, fingerprint, status, updated_at)
               VALUES (?, ?, ?, ?, ?, 'pending', ?)""",
            (path, folder_id, size, mtime_ns, fingerprint, time.time()),
        )
        return int(cur.lastrowid or 0)

    @staticmethod
    def mark_changed(
        db: sqlite3.Connection, photo_id: int, size: int, mtime_ns: int, fingerprint: str
    ) -> None:
        """New content at a known path: its old vectors no longer describe it."""
        db.execute("DELETE FROM embeddings WHERE photo_id=?", (photo_id,))
        for table in ("frames", "videos", "places"):
            db.execute(f"DELETE FROM {table} WHERE photo_id=?", (photo_id,))
        db.execute(
            """UPDATE photos SET size=?, mtime_ns=?, fingerprint=?, status='pending', error=NULL,
               updated_at=? WHERE id=?""",
            (size, mtime_ns, fingerprint, time.time(), photo_id),
        )

    @staticmethod
    def touch(db: sqlite3.Connection, photo_id: int, size: int, mtime_ns: int) -> None:
        """Same content, new stat (e.g. `touch`, a copy preserving bytes): no re-encode."""
        db.execute(
            "UPDATE photos SET size=?, mtime_ns=?, updated_at=? WHERE id=?",
            (size, mtime_ns, time.time(), photo_id),
        )

    @staticmethod
    def move_photo(
        db: sqlite3.Connection, photo_id: int, path: str, folder_id: int, size: int, mtime_ns: int
    ) -> None:
        """A renamed or moved file keeps its row, id and vectors."""
        db.execute(
            """UPDATE photos SET path=?, folder_id=?, size=?, mtime_ns=?,
               status=CASE WHEN status='missing' THEN
                   (CASE WHEN width IS NULL AND error IS NULL THEN 'pending'
                         WHEN error IS NOT NULL THEN 'error' ELSE 'ok' END)
                   ELSE status END,
               updated_at=? WHERE id=?""",
            (path, folder_id, size, mtime_ns, time.time(), photo_id),
        )

    @staticmethod
    def mark_missing(db: sqlite3.Connection, ids: Iterable[int]) -> None:
        db.executemany(
            "UPDATE photos SET status='missing', updated_at=? WHERE id=?",
            [(time.time(), i) for i in ids],
        )

    @staticmethod
    def missing_rows(db: sqlite3.Connection) -> list[PhotoRow]:
        """Deleted photos still kept for their vectors, newest first."""
        rows = db.execute(
            f"SELECT {_PHOTO_COLUMNS} FROM photos WHERE status='missing' "
            "ORDER BY updated_at DESC"
        ).fetchall()
        return [PhotoRow(*r) for r in rows]

    @staticmethod
    def purge_missing(
        db: sqlite3.Connection,
        keep_s: float = MISSING_KEEP_S,
        keep_rows: int = MISSING_KEEP_ROWS,
        now: float | None = None,
    ) -> list[int]:
        """Forget deleted photos gone longer than `keep_s`, and the oldest beyond
        `keep_rows`: until then a file that comes back reuses its vectors."""
        cutoff = (time.time() if now is None else now) - keep_s
        ids = [
            r[0]
            for r in db.execute(
                "SELECT id FROM photos WHERE status='missing' AND "
                "(updated_at < ? OR id NOT IN (SELECT id FROM photos WHERE status='missing' "
                "ORDER BY updated_at DESC LIMIT ?))",
                (cutoff, max(0, int(keep_rows))),
            )
        ]
        for start in range(0, len(ids), _IDS_PER_QUERY):
            chunk = ids[start : start + _IDS_PER_QUERY]
            db.execute(f"DELETE FROM photos WHERE id IN ({','.join('?' * len(chunk))})", chunk)
        return ids

    @staticmethod
    def store_decoded(
        db: sqlite3.Connection, photo_id: int, width: int, height: int, taken_at: str | None
    ) -> None:
        db.execute(
            """UPDATE photos SET width=?, height=?, taken_at=?, status='ok', error=NULL,
               updated_at=? WHERE id=?""",
            (width, height, taken_at, time.time(), photo_id),
        )

    @staticmethod
    def store_error(db: sqlite3.Connection, photo_id: int, reason: str) -> None:
        db.execute(
            "UPDATE photos SET status='error', error=?, updated_at=? WHERE id=?",
            (reason, time.time(), photo_id),
        )

    @staticmethod
    def store_embedding(
        db: sqlite3.Connection, photo_id: int, model_key: int, vector: np.ndarray
    ) -> None:
        db.execute(
            "INSERT OR REPLACE INTO embeddings(photo_id, model_key, vector) VALUES (?, ?, ?)",
            (photo_id, model_key, vector_to_blob(vector)),
        )

    @staticmethod
    def twin_ids(db: sqlite3.Connection, fingerprint: str, exclude_id: int) -> list[int]:
        """Other live photos with the same bytes, those already indexed first."""
        return [
            r[0]
            for r in db.execute(
                """SELECT id FROM photos WHERE fingerprint=? AND id<>? AND status<>'missing'
                   ORDER BY status<>'ok', id""",
                (fingerprint, exclude_id),
            )
        ]

    @staticmethod
    def copy_embeddings(db: sqlite3.Connection, source_id: int, target_id: int) -> int:
        """An exact copy of a known photo reuses its vectors (and decoded facts)."""
        cur = db.execute(
            """INSERT OR IGNORE INTO embeddings(photo_id, model_key, vector)
               SELECT ?, model_key, vector FROM embeddings WHERE photo_id=?""",
            (target_id, source_id),
        )
        db.execute(
            """UPDATE photos SET (width, height, taken_at, status, error) =
               (SELECT width, height, taken_at, status, error FROM photos WHERE id=?)
               WHERE id=?""",
            (source_id, target_id),
        )
        db.execute(
            """INSERT OR IGNORE INTO frames(photo_id, model_key, t_seconds, vector)
               SELECT ?, model_key, t_seconds, vector FROM frames WHERE photo_id=?""",
            (target_id, source_id),
        )
        for table, cols in (("videos", "duration, first_t"),
                            ("places", "lat, lon, city, region, country, match_key")):
            db.execute(
                f"INSERT OR IGNORE INTO {table}(photo_id, {cols}) SELECT ?, {cols} "
                f"FROM {table} WHERE photo_id=?",
                (target_id, source_id),
            )
        return cur.rowcount

    # -- places and video frames (issue 10) ---------------------------------

    @staticmethod
    def store_place(
        db: sqlite3.Connection, photo_id: int, lat: float | None, lon: float | None,
        city: str | None, region: str | None, country: str | None, match_key: str | None,
    ) -> None:
        db.execute(
            "INSERT OR REPLACE INTO places(photo_id, lat, lon, city, region, country, match_key) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (photo_id, lat, lon, city, region, country, match_key),
        )

    def ids_without_place(self) -> list[int]:
        """Indexed photos whose GPS was never looked for (indexed before places existed)."""
        rows = self._query(
            """SELECT id FROM photos p WHERE status='ok'
               AND NOT EXISTS (SELECT 1 FROM places WHERE photo_id = p.id) ORDER BY id"""
        )
        return [r[0] for r in rows]

    def places_by_ids(self, ids: Iterable[int]) -> dict[int, tuple[str | None, str | None, str | None]]:
        rows = self._query_ids(
            "SELECT photo_id, city, region, country FROM places "
            "WHERE country IS NOT NULL AND photo_id IN ({ids})", ids,
        )
        return {r[0]: (r[1], r[2], r[3]) for r in rows}

    def place_rows(self) -> list[tuple[str | None, str | None, str | None, int]]:
        """(city, region, country, number of indexed photos) for every place in the library."""
        return [
            (r[0], r[1], r[2], r[3])
            for r in self._query(
                """SELECT pl.city, pl.region, pl.country, COUNT(*) FROM places pl
                   JOIN photos p ON p.id = pl.photo_id
                   WHERE p.status='ok' AND pl.country IS NOT NULL
                   GROUP BY pl.city, pl.region, pl.country"""
            )
        ]

    @staticmethod
    def store_video(
        db: sqlite3.Connection, photo_id: int, model_key: int, duration: float,
        first_t: float, frames: Sequence[tuple[float, np.ndarray]],
    ) -> list[int]:
        """A video's duration and its keyframes beyond the first; returns their HNSW labels."""
        db.execute(
            "INSERT OR REPLACE INTO videos(photo_id, duration, first_t) VALUES (?, ?, ?)",
            (photo_id, duration, first_t),
        )
        db.execute("DELETE FROM frames WHERE photo_id=? AND model_key=?", (photo_id, model_key))
        labels = []
        for t, vector in frames:
            cur = db.execute(
                "INSERT INTO frames(photo_id, model_key, t_seconds, vector) VALUES (?, ?, ?, ?)",
                (photo_id, model_key, t, vector_to_blob(vector)),
            )
            labels.append(FRAME_LABEL_BASE + int(cur.lastrowid or 0))
        return labels

    def videos_by_ids(self, ids: Iterable[int]) -> dict[int, tuple[float, float]]:
        """{photo id: (duration, time of the keyframe stored as its main vector)}."""
        rows = self._query_ids(
            "SELECT photo_id, duration, first_t FROM videos WHERE photo_id IN ({ids})", ids
        )
        return {r[0]: (r[1], r[2]) for r in rows}

    def keyframe_times(self) -> dict[int, list[float]]:
        """{video's photo id: the times of its stored keyframes (the first one and the
        others, of any model)}, ascending. The face pass looks at these frames."""
        out: dict[int, set[float]] = {}
        for pid, t in self._query(
            "SELECT photo_id, first_t FROM videos UNION SELECT photo_id, t_seconds FROM frames"
        ):
            out.setdefault(int(pid), set()).add(float(t))
        return {pid: sorted(ts) for pid, ts in out.items()}

    def has_frames(self, model_key: int) -> bool:
        return bool(self._query("SELECT 1 FROM frames WHERE model_key=? LIMIT 1", (model_key,)))

    def frame_labels(self, model_key: int, photo_ids: Iterable[int] | None = None) -> np.ndarray:
        """HNSW labels of live videos' extra keyframes (all, or those of some videos)."""
        if photo_ids is None:
            rows = self._query(
                f"""SELECT f.id FROM frames f JOIN photos p ON p.id = f.photo_id
                   WHERE f.model_key=? AND p.status='ok' AND {_ONLINE} ORDER BY f.id""",
                (model_key,),
            )
        else:
            rows = self._query_ids(
                "SELECT id FROM frames WHERE model_key=? AND photo_id IN ({ids}) ORDER BY id",
                photo_ids, [model_key],
            )
        return np.array([FRAME_LABEL_BASE + r[0] for r in rows], dtype=np.int64)

    def vector_count(self, model_key: int) -> int:
        """Stored vectors of a model (photos and keyframes, any state): from the
        embeddings index, cheap, for progress totals."""
        photos = self._query("SELECT COUNT(*) FROM embeddings WHERE model_key=?", (model_key,))
        frames = self._query("SELECT COUNT(*) FROM frames WHERE model_key=?", (model_key,))
        return int(photos[0][0]) + int(frames[0][0])

    def iter_label_vectors(
        self, model_key: int, chunk: int = 2_000
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(labels, float32 vectors) of every searchable photo and live video keyframe
        for a model, in chunks: what the in-memory index holds. Each chunk is one
        short query (keyset paging), so writers and searches are never held up
        for the seconds a million rows take. The chunk is small because sqlite3's
        fetchall keeps the GIL while it builds rows: 20,000 rows held the GUI
        thread for up to 110 ms, 2,000 rows for 10 ms, at the same total time."""
        pages = (
            (0, f"""SELECT e.photo_id, e.vector FROM embeddings e JOIN photos p ON p.id = e.photo_id
                   WHERE e.model_key=? AND p.status='ok' AND {_ONLINE} AND e.photo_id > ?
                   ORDER BY e.photo_id LIMIT ?"""),
            (FRAME_LABEL_BASE, f"""SELECT f.id, f.vector FROM frames f JOIN photos p ON p.id = f.photo_id
                   WHERE f.model_key=? AND p.status='ok' AND {_ONLINE} AND f.id > ?
                   ORDER BY f.id LIMIT ?"""),
        )
        dim = self._dim_of(model_key)
        for (base, sql), table in zip(pages, ("embeddings", "frames"), strict=True):
            after = 0
            while rows := self._query(sql, (model_key, after, chunk)):
                after = rows[-1][0]
                ids, matrix, damaged = _checked_vectors(rows, dim)
                self._drop_damaged(table, model_key, damaged)
                yield base + ids, matrix

    def label_vectors(self, model_key: int, labels: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """(labels, vectors) for index labels of both kinds, in ascending label order."""
        photo_ids = sorted(int(i) for i in labels if i < FRAME_LABEL_BASE)
        frame_ids = sorted(int(i) - FRAME_LABEL_BASE for i in labels if i >= FRAME_LABEL_BASE)
        ids, matrix = self.embeddings(model_key, photo_ids) if photo_ids else (np.zeros(0, np.int64), None)
        rows = self._query_ids(
            "SELECT id, vector FROM frames WHERE id IN ({ids}) ORDER BY id", frame_ids
        )
        parts = [m for m in (matrix,) if m is not None and len(m)]
        frame_out, frame_matrix, damaged = _checked_vectors(rows, self._dim_of(model_key))
        self._drop_damaged("frames", model_key, damaged)
        if len(frame_out):
            parts.append(frame_matrix)
        out_ids = np.concatenate([ids, FRAME_LABEL_BASE + frame_out])
        if not parts:
            return out_ids, np.zeros((0, 0), dtype=np.float32)
        return out_ids, np.concatenate(parts)

    def frames_by_labels(self, labels: Iterable[int]) -> dict[int, tuple[int, float]]:
        """{frame label: (video's photo id, seconds into the video)}."""
        frame_ids = [int(i) - FRAME_LABEL_BASE for i in labels if i >= FRAME_LABEL_BASE]
        rows = self._query_ids(
            "SELECT id, photo_id, t_seconds FROM frames WHERE id IN ({ids})", frame_ids
        )
        return {FRAME_LABEL_BASE + r[0]: (r[1], r[2]) for r in rows}

    # -- signal passes and text (core/indexing/passes.py, core/signals/text.py) ----------------

    @staticmethod
    def _pass_key_sql(by_path: bool) -> str:
        """What a pass has read of a photo: its content (fingerprint), or for a pass
        that reads the path too (a photo's own words), its content at that path."""
        return "(p.fingerprint || '@' || p.path)" if by_path else "p.fingerprint"

    @staticmethod
    def pass_key(fingerprint: str | None, path: str, by_path: bool) -> str | None:
        """The key stored for a photo done (see _pass_key_sql; the same value)."""
        if not by_path or fingerprint is None:
            return fingerprint
        return f"{fingerprint}@{path}"

    def ids_needing_pass(
        self, name: str, version: int, after_model_key: int | None = None, by_path: bool = False
    ) -> list[int]:
        """Indexed photos whose current content (and path, `by_path`) this version of
        the pass has not read."""
        sql = f"""SELECT p.id FROM photos p
                 WHERE p.status = 'ok'
                   AND NOT EXISTS (SELECT 1 FROM pass_state s
                                   WHERE s.pass = ? AND s.photo_id = p.id AND s.version = ?
                                     AND s.fingerprint IS {self._pass_key_sql(by_path)})"""
        params: list[object] = [name, version]
        if after_model_key is not None:
            sql += """ AND EXISTS (SELECT 1 FROM embeddings e
                                   WHERE e.photo_id = p.id AND e.model_key = ?)"""
            params.append(after_model_key)
        return [r[0] for r in self._query(sql + " ORDER BY p.path", params)]

    @staticmethod
    def mark_pass_done(
        db: sqlite3.Connection, name: str, version: int, photo_id: int,
        fingerprint: str | None, error: str | None = None,
    ) -> None:
        """`fingerprint`: the pass's key for the photo (pass_key)."""
        db.execute(
            """INSERT OR REPLACE INTO pass_state(pass, photo_id, version, fingerprint, error, done_at)
               VALUES (?, ?, ?, ?, ?, ?)""",
            (name, photo_id, version, fingerprint, error, time.time()),
        )

    def pass_counts(self, name: str, version: int, by_path: bool = False) -> tuple[int, int]:
        """(photos done by this pass version, indexed photos)."""
        row = self._query(
            f"""SELECT (SELECT COUNT(*) FROM pass_state s JOIN photos p ON p.id = s.photo_id
                       WHERE s.pass = ? AND s.version = ?
                         AND s.fingerprint IS {self._pass_key_sql(by_path)}
                         AND p.status = 'ok'),
                      (SELECT COUNT(*) FROM photos WHERE status = 'ok')""",
            (name, version),
        )[0]
        return int(row[0]), int(row[1])

    @staticmethod
    def store_text(db: sqlite3.Connection, photo_id: int, text: str) -> None:
        """`text` as read (shown, and searched); `extra` holds the parts of words where
        letters and digits run together, which OCR does when it misses a space
        ("warning35018", "LH1234"), so "35018" and "1234" are found too."""
        db.execute("DELETE FROM photo_text WHERE rowid = ?", (photo_id,))
        if text:
            glued = re.findall(r"[^\W\d_]+|\d+", " ".join(
                t for t in re.findall(r"[^\W_]+", text) if not (t.isalpha() or t.isdigit())))
            db.execute(
                "INSERT INTO photo_text(rowid, text, extra) VALUES (?, ?, ?)",
                (photo_id, text, " ".join(glued)),
            )

    def sweep_text(self) -> int:
        return self.sweep_words("photo_text")

    def sweep_words(self, table: str) -> int:
        """Drop the words of photos that left the catalog (FTS rows have no foreign
        key), from the text read in photos or any signal's word table."""
        if not re.fullmatch(r"[a-z_]+", table):  # a declared name, never user input
            raise ValueError(f"not a word table name: {table!r}")
        with self.transaction() as db:
            cur = db.execute(f"DELETE FROM {table} WHERE rowid NOT IN (SELECT id FROM photos)")
            return cur.rowcount

    def photo_text(self, photo_id: int) -> str:
        rows = self._query("SELECT text FROM photo_text WHERE rowid = ?", (photo_id,))
        return str(rows[0][0]) if rows else ""

    def search_text(self, fts_query: str, limit: int) -> list[tuple[int, float, str]]:
        """The text read in photos (see search_words)."""
        return self.search_words("photo_text", fts_query, limit)

    def search_words(
        self, table: str, fts_query: str, limit: int, snippet_column: int = 0
    ) -> list[tuple[int, float, str]]:
        """(photo id, bm25 rank: lower is better, snippet) of indexed photos matching an
        FTS5 query in one word table (a signal's WordSource, whose rowid is the photo id);
        the snippet marks matched words with SNIPPET_OPEN/SNIPPET_CLOSE."""
        if not re.fullmatch(r"[a-z_]+", table):  # a declared name, never user input
            raise ValueError(f"not a word table name: {table!r}")
        try:
            rows = self._query(
                f"""SELECT t.rowid, bm25({table}),
                          snippet({table}, {int(snippet_column)}, char(2), char(3), '…', 32)
                   FROM {table} t JOIN photos p ON p.id = t.rowid
                   WHERE {table} MATCH ? AND p.status = 'ok' AND {_ONLINE}
                   ORDER BY bm25({table}) LIMIT ?""",
                (fts_query, int(limit)),
            )
        except sqlite3.OperationalError:
            return []  # a query FTS cannot parse matches nothing (or the table is not there)
        return [(int(r[0]), float(r[1]), str(r[2])) for r in rows]

    # -- checking the catalog (core/indexing/check.py) --------------------------

    def integrity_problems(self, limit: int = 20) -> list[str]:
        """SQLite's own check of the file (pages, b-trees, NOT NULL and UNIQUE);
        empty when the file is sound. quick_check skips matching every index
        entry to its row: O(N), about a second at 100k photos."""
        try:
            rows = self._query(f"PRAGMA quick_check({int(limit)})")
        except CatalogError as exc:
            return [str(exc)]
        found = [str(r[0]) for r in rows]
        return [] if found == ["ok"] else found

    def orphans(self, repair: bool = False) -> dict[str, int]:
        """Rows whose photo, model or person is gone ("table.column": count), found
        from every table's declared foreign keys (so a signal's own tables are
        covered too). A crash cannot leave them (each write is one transaction
        with foreign keys on), but an older Glimpse, a tool or damage can.
        `repair`: delete them, or clear the column where the key says SET NULL."""
        tables = [r[0] for r in self._query(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")]
        found: dict[str, int] = {}
        fixes: list[str] = []
        for table in tables:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", table):
                continue
            for fk in self._query(f"PRAGMA foreign_key_list({table})"):
                parent, column, target, on_delete = fk[2], fk[3], fk[4] or "rowid", fk[6]
                where = (f"{column} IS NOT NULL AND {column} NOT IN "
                         f"(SELECT {target} FROM {parent})")
                n = int(self._query(f"SELECT COUNT(*) FROM {table} WHERE {where}")[0][0])
                if n:
                    found[f"{table}.{column}"] = n
                    fixes.append(f"UPDATE {table} SET {column} = NULL WHERE {where}"
                                 if on_delete == "SET NULL" else f"DELETE FROM {table} WHERE {where}")
        if repair and fixes:
            with self.transaction() as db:
                for sql in fixes:
                    db.execute(sql)
        return found

    def words_without_photo(self, table: str) -> int:
        """Rows of a word table (rowid = photo id) whose photo is gone (sweep_words removes them)."""
        if not re.fullmatch(r"[a-z_]+", table):
            raise ValueError(f"not a word table name: {table!r}")
        try:
            return int(self._query(
                f"SELECT COUNT(*) FROM {table} WHERE rowid NOT IN (SELECT id FROM photos)")[0][0])
        except CatalogError:  # the table is not there yet (its signal never ran)
            return 0

    def word_index_damaged(self, table: str, repair: bool = False) -> str | None:
        """FTS5's own check of a word table's index against its stored text; None
        when sound (or the table is absent). `repair`: rebuild the index from the text."""
        if not re.fullmatch(r"[a-z_]+", table):
            raise ValueError(f"not a word table name: {table!r}")
        if not self._query("SELECT 1 FROM sqlite_master WHERE name = ?", (table,)):
            return None
        try:
            with self.transaction() as db:
                db.execute(f"INSERT INTO {table}({table}) VALUES ('integrity-check')")
            return None
        except CatalogError as exc:
            if not repair or "readonly" in str(exc).lower():
                return str(exc)
        with self.transaction() as db:
            db.execute(f"INSERT INTO {table}({table}) VALUES ('rebuild')")
        return "rebuilt"

    def check_vectors(self, model_key: int, repair: bool = False, chunk: int = 5_000) -> tuple[int, int]:
        """Read every stored vector of a model (photos in any state, and keyframes),
        checking each (_checked_vectors); (vectors read, damaged). `repair`: remove
        the damaged ones (recorded for `glimpse errors`) so they are encoded again."""
        dim = self._dim_of(model_key)
        read = bad = 0
        for table in ("embeddings", "frames"):
            key = "photo_id" if table == "embeddings" else "id"
            after = 0
            sql = (f"SELECT {key}, vector FROM {table} WHERE model_key = ? AND {key} > ? "
                   f"ORDER BY {key} LIMIT ?")
            while rows := self._query(sql, (model_key, after, chunk)):
                after = rows[-1][0]
                _, _, damaged = _checked_vectors(rows, dim)
                read += len(rows)
                bad += len(damaged)
                if repair:
                    self._drop_damaged(table, model_key, damaged)
        return read, bad

    def pass_names(self) -> dict[str, int]:
        """Pass name -> rows in pass_state (a pass no longer declared leaves rows behind)."""
        return {str(r[0]): int(r[1]) for r in self._query(
            "SELECT pass, COUNT(*) FROM pass_state GROUP BY pass")}

    def forget_pass(self, name: str) -> int:
        with self.transaction() as db:
            return db.execute("DELETE FROM pass_state WHERE pass = ?", (name,)).rowcount

    def pass_errors(
        self, name: str, version: int, by_path: bool = False, limit: int | None = None
    ) -> list[tuple[str, str]]:
        """(path, reason) of indexed photos this version of a pass could not read."""
        sql = f"""SELECT p.path, s.error FROM pass_state s JOIN photos p ON p.id = s.photo_id
                  WHERE s.pass = ? AND s.version = ? AND s.error IS NOT NULL AND p.status = 'ok'
                    AND s.fingerprint IS {self._pass_key_sql(by_path)} ORDER BY p.path"""
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [(str(a), str(b)) for a, b in self._query(sql, (name, version))]

    def ok_without_fingerprint(self, repair: bool = False) -> int:
        """Indexed photos with no content fingerprint: every pass keys on it, so
        none could ever be marked read. `repair`: make them pending (the next scan
        fingerprints and encodes them)."""
        n = int(self._query(
            "SELECT COUNT(*) FROM photos WHERE status = 'ok' AND fingerprint IS NULL")[0][0])
        if n and repair:
            with self.transaction() as db:
                db.execute("UPDATE photos SET status = 'pending', size = -1 "
                           "WHERE status = 'ok' AND fingerprint IS NULL")
        return n

    def embedding_for(self, photo_id: int, model_key: int) -> np.ndarray | None:
        rows = self._query(
            "SELECT vector FROM embeddings WHERE photo_id=? AND model_key=?", (photo_id, model_key)
        )
        if not rows:
            return None
        _, matrix, damaged = _checked_vectors([(photo_id, rows[0][0])], self._dim_of(model_key))
        self._drop_damaged("embeddings", model_key, damaged)
        return matrix[0] if len(matrix) else None


def _split_sql(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]


def _disk_message(exc: Exception, path: Path) -> str:
    text = str(exc).lower()
    if "malformed" in text or "not a database" in text or "corrupt" in text:
        return (
            f"The catalog at {path} is damaged ({exc}). Move it aside (rename it) and run "
            "`glimpse index` to rebuild it from your folders; your photos are untouched."
        )
    if "locked" in text or "busy" in text:
        return (
            f"Another program is writing to the catalog at {path} (another Glimpse "
            "window, `glimpse index` or `glimpse watch`). Wait for it to finish and try again."
        )
    if "full" in text:
        return (
            f"The disk holding the catalog ({path.parent}) is full. Free some space and run "
            "indexing again; nothing already indexed was lost."
        )
    return f"The catalog at {path} could not be written: {exc}"
