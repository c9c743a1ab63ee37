"""Scanning: bring the catalog's file list in line with the disk (mark and sweep).

A file whose size and mtime are unchanged is not touched; a new or changed
file is fingerprinted, so a rename or move is matched to its old row (keeping
its vectors) and an exact copy reuses the vectors of its twin.
"""

from __future__ import annotations

import errno
import os
import stat
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from glimpse.core.jobs import CancelToken, ProgressCallback, progress_at
from glimpse.core.media import imaging, video
from glimpse.core.storage.catalog import MISSING, Catalog, PhotoRow


@dataclass
class ScanReport:
    added: int = 0
    changed: int = 0
    moved: int = 0
    copied: int = 0
    removed: int = 0
    unchanged: int = 0
    restored: int = 0  # came back after a deletion: kept vectors reused
    purged: int = 0  # deleted photos whose kept vectors were finally dropped
    offline: list[str] = field(default_factory=list)  # folders skipped: root absent
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason): see scan_folder


# -- scanning -----------------------------------------------------------------


def scan_folder(
    root: Path, skipped: list[tuple[str, str]] | None = None
) -> dict[str, tuple[int, int]]:
    """{absolute path: (size, mtime_ns)} for every supported image under root.

    Hidden files and folders (".thumbnails", ".Trash") are skipped: they hold
    caches and deleted files, not the user's photos. Only regular files count:
    a FIFO or a device named x.jpg would block or never end when read.
    Symlinked files are followed (a link to a photo elsewhere is indexed under
    the link's path); symlinked folders are not (no loops, no photo seen twice).
    Names that are not valid UTF-8 cannot be stored in the catalog and are skipped.
    Every file skipped that looks like a photo goes into `skipped` with the
    reason (`glimpse errors` lists them: nothing is left out without a word).
    """
    found: dict[str, tuple[int, int]] = {}
    skip = skipped.append if skipped is not None else (lambda entry: None)
    for dirpath, dirnames, filenames in os.walk(root, onerror=lambda e: None):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        stills = _still_stems(filenames)
        for name in filenames:
            if name.startswith(".") or not (imaging.is_supported(name) or video.is_video(name)):
                continue
            stem, ext = os.path.splitext(name)
            if ext.lower() == ".mov" and stem.casefold() in stills:
                # The clip of a Live Photo (always .MOV): the still stands for both.
                # Other clips sharing a photo's name (holiday.mp4 + holiday.jpg) stay.
                continue
            path = os.path.join(dirpath, name)
            if not _storable(path):
                skip((readable_path(path), NOT_UTF8))
                continue
            try:
                st = os.stat(path)  # follows a symlink; a loop raises ELOOP
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    skip((path, SYMLINK_LOOP))
                elif os.path.islink(path):
                    skip((path, BROKEN_LINK))
                continue  # otherwise it vanished between listing and stat
            if stat.S_ISREG(st.st_mode):
                found[path] = (st.st_size, st.st_mtime_ns)
            else:
                skip((path, NOT_REGULAR))
    return found


NOT_UTF8 = "skipped: the name is not valid UTF-8 (rename the file to index it)"
SYMLINK_LOOP = "skipped: symlink loop"
BROKEN_LINK = "skipped: broken symlink (what it points to is gone)"
NOT_REGULAR = "skipped: not a regular file (a FIFO, device or socket named like a photo)"


def readable_path(path: str) -> str:
    """A name with undecodable bytes, printable: each such byte as \\xNN."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def skipped_files(folders: Iterable[str]) -> list[tuple[str, str]]:
    """(readable path, reason) of every file under the folders that looks like a
    photo but cannot be indexed. A walk of the folders (no file is opened)."""
    skipped: list[tuple[str, str]] = []
    for folder in folders:
        if os.path.isdir(folder):
            scan_folder(Path(folder), skipped)
    return sorted(skipped)


def _still_stems(filenames: list[str]) -> set[str]:
    """Stems of the photos in one folder (IMG_0001.HEIC -> "img_0001"), to pair Live Photo clips."""
    return {
        os.path.splitext(n)[0].casefold()
        for n in filenames
        if imaging.is_supported(n) and not n.startswith(".")
    }


def _storable(path: str) -> bool:
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes, kept by os.walk as surrogates
        return False
    return True


def folder_is_offline(root: str, known_photos: int) -> bool:
    """An absent or unreadable root, or an empty folder where the catalog knows
    photos (the bare mount point of an unplugged disk), means "offline", not
    "every photo deleted"."""
    try:
        with os.scandir(root) as entries:
            empty = next(entries, None) is None
    except OSError:  # missing, not a folder, no permission, dead network share
        return True
    return empty and known_photos > 0


def sync_catalog(
    catalog: Catalog,
    folders: Iterable[str],
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    workers: int = 4,
) -> ScanReport:
    """Bring the catalog's file list in line with the disk, all folders at once
    (so a move between two watched folders is seen as a move)."""
    report = ScanReport()
    on_disk: dict[str, tuple[int, tuple[int, int]]] = {}
    known: dict[str, PhotoRow] = {}
    was_offline = {f.path: f.offline_since is not None for f in catalog.folders()}
    for folder in folders:
        folder_id = catalog.folder_id(folder)
        if folder_id is None:
            continue
        rows = catalog.photos_under(folder_id)
        offline = folder_is_offline(folder, sum(r.status != MISSING for r in rows))
        if offline != was_offline.get(folder, False):
            catalog.set_offline(folder_id, offline)
        if offline:
            report.offline.append(folder)
            continue  # its photos keep rows and vectors until it comes back
        for path, st in scan_folder(Path(folder), report.skipped).items():
            on_disk.setdefault(path, (folder_id, st))
        for row in rows:
            known[row.path] = row

    gone = [row for path, row in known.items() if path not in on_disk and row.status != MISSING]
    to_hash = [
        path
        for path, (_, (size, mtime)) in on_disk.items()
        if path not in known
        or known[path].status == MISSING
        or (known[path].size, known[path].mtime_ns) != (size, mtime)
    ]
    report.unchanged = len(on_disk) - len(to_hash)
    fingerprints = _fingerprint_all(to_hash, progress, cancel, workers)
    if cancel is not None and cancel.cancelled:
        return report

    with catalog.transaction() as db:
        catalog.mark_missing(db, (row.id for row in gone))
        # Rows a new file may take over (keeping id and vectors): files gone in
        # this scan (a move) and deleted ones still kept (a restore, a re-copy).
        # Newest first (this scan's first), each row once.
        gone_by_fp: dict[str, list[PhotoRow]] = {}
        for row in catalog.missing_rows(db):
            if row.fingerprint and row.path not in on_disk:
                gone_by_fp.setdefault(row.fingerprint, []).append(row)
        gone_ids = {row.id for row in gone}
        reused: set[int] = set()
        for path in to_hash:
            fp = fingerprints.get(path)
            if fp is None:
                continue  # unreadable or vanished while hashing: next scan will see it
            folder_id, (size, mtime) = on_disk[path]
            old = known.get(path)
            if old is not None and old.status == MISSING:
                # Deleted earlier, back at the same path: the same bytes reuse the row.
                if old.fingerprint == fp:
                    catalog.move_photo(db, old.id, path, folder_id, size, mtime)
                    report.restored += 1
                else:
                    catalog.mark_changed(db, old.id, size, mtime, fp)
                    report.added += 1
            elif old is not None:
                if old.fingerprint == fp:
                    catalog.touch(db, old.id, size, mtime)
                    report.unchanged += 1
                else:
                    catalog.mark_changed(db, old.id, size, mtime, fp)
                    report.changed += 1
            elif gone_by_fp.get(fp):
                moved = gone_by_fp[fp].pop(0)
                catalog.move_photo(db, moved.id, path, folder_id, size, mtime)
                reused.add(moved.id)
                if moved.id in gone_ids:
                    report.moved += 1
                else:
                    report.restored += 1
            else:
                new_id = catalog.insert_photo(db, path, folder_id, size, mtime, fp)
                twins = catalog.twin_ids(db, fp, new_id)
                if twins and catalog.copy_embeddings(db, twins[0], new_id) > 0:
                    report.copied += 1
                else:
                    report.added += 1
        report.removed = len(gone_ids - reused)
        report.purged = len(catalog.purge_missing(db))
    return report


def _fingerprint_all(
    paths: list[str],
    progress: ProgressCallback | None,
    cancel: CancelToken | None,
    workers: int,
) -> dict[str, str]:
    out: dict[str, str] = {}
    if not paths:
        return out
    start = time.monotonic()

    def one(path: str) -> tuple[str, str | None]:
        if cancel is not None and cancel.cancelled:
            return path, None
        try:
            return path, imaging.file_fingerprint(path)
        except OSError:
            return path, None

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="glimpse-hash") as pool:
        for n, (path, fp) in enumerate(pool.map(one, paths), 1):
            if fp is not None:
                out[path] = fp
            if progress is not None and (n % 64 == 0 or n == len(paths)):
                progress(progress_at("scan", n, len(paths), start, path))
    return out


