"""The indexing pipeline: scan -> diff with the catalog -> decode pool -> encode -> commit.

Scanning is mark-and-sweep: a file whose size and mtime are unchanged is not
touched; a new or changed file is fingerprinted, so a rename or move is matched
to its old row (keeping its vectors) and an exact copy reuses the vectors of
its twin. Decoding runs in a thread pool a few batches ahead of the model;
each encoded batch is committed in one transaction, so a crash or Ctrl-C
loses at most the batch in flight.
"""

from __future__ import annotations

import os
import stat
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from glimpse.core import imaging, places, video
from glimpse.core.catalog import MISSING, Catalog, PhotoRow
from glimpse.core.errors import ImageDecodeError
from glimpse.core.faults import pause_point
from glimpse.core.index import VectorIndex
from glimpse.core.models import Encoder


class CancelToken:
    """Cooperative cancel and pause, checked between batches (never mid-write)."""

    def __init__(self) -> None:
        self._cancelled = threading.Event()
        self._running = threading.Event()
        self._running.set()

    def cancel(self) -> None:
        self._cancelled.set()
        self._running.set()  # a paused job must wake up to notice

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def checkpoint(self) -> bool:
        """Block while paused; True when the job should stop."""
        self._running.wait()
        return self.cancelled


@dataclass(frozen=True)
class Progress:
    phase: str  # "scan" or "encode"
    done: int
    total: int
    rate: float  # items per second over the run so far
    eta_s: float | None
    current: str | None = None


ProgressCallback = Callable[[Progress], None]


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


@dataclass
class EncodeReport:
    encoded: int = 0
    failed: int = 0
    cancelled: bool = False
    seconds: float = 0.0
    errors: list[tuple[str, str]] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.encoded / self.seconds if self.seconds > 0 else 0.0


# -- scanning -----------------------------------------------------------------


def scan_folder(root: Path) -> dict[str, tuple[int, int]]:
    """{absolute path: (size, mtime_ns)} for every supported image under root.

    Hidden files and folders (".thumbnails", ".Trash") are skipped: they hold
    caches and deleted files, not the user's photos. Only regular files count:
    a FIFO or a device named x.jpg would block or never end when read.
    Symlinked files are followed (a link to a photo elsewhere is indexed under
    the link's path); symlinked folders are not (no loops, no photo seen twice).
    Names that are not valid UTF-8 cannot be stored in the catalog and are skipped.
    """
    found: dict[str, tuple[int, int]] = {}
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
                continue
            try:
                st = os.stat(path)  # follows a symlink; a loop raises ELOOP
            except OSError:
                continue  # vanished between listing and stat, or a dangling link
            if stat.S_ISREG(st.st_mode):
                found[path] = (st.st_size, st.st_mtime_ns)
    return found


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
        for path, st in scan_folder(Path(folder)).items():
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
                progress(_progress("scan", n, len(paths), start, path))
    return out


# -- encoding -----------------------------------------------------------------


@dataclass
class _Decoded:
    row: PhotoRow
    tensor: object | None = None
    width: int = 0
    height: int = 0
    taken_at: str | None = None
    error: str | None = None
    gps: tuple[float, float] | None = None
    # A video: its length, the time of `tensor`'s keyframe, and its other keyframes.
    duration: float | None = None
    first_t: float = 0.0
    frames: list[tuple[float, object]] = field(default_factory=list)


def encode_pending(
    catalog: Catalog,
    encoder: Encoder,
    model_key: int,
    index: VectorIndex | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    batch_size: int | None = None,
    workers: int | None = None,
) -> EncodeReport:
    """Encode every photo that lacks a vector for this model, committing per batch."""
    report = EncodeReport()
    ids = catalog.ids_needing_embedding(model_key)
    if not ids:
        return report
    rows = catalog.photos_by_ids(ids)
    todo = [rows[i] for i in ids if i in rows]
    batch_size = batch_size or encoder.batch_size
    workers = workers or max(2, os.cpu_count() or 2)
    start = time.monotonic()
    batch: list[_Decoded] = []

    def flush() -> None:
        _commit_batch(catalog, encoder, model_key, index, batch, report)
        batch.clear()
        if progress is not None:
            done = report.encoded + report.failed
            progress(_progress("encode", done, len(todo), start, None))

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="glimpse-decode") as pool:
        decoded = _read_ahead(pool, todo, lambda row: _decode(row, encoder), batch_size * 3)
        for item in decoded:
            batch.append(item)
            if len(batch) >= batch_size:
                flush()
                if cancel is not None and cancel.checkpoint():
                    report.cancelled = True
                    break
        else:
            if batch:
                flush()
        decoded.close()
    report.seconds = time.monotonic() - start
    return report


def _read_ahead(
    pool: ThreadPoolExecutor, items: list[PhotoRow], fn: Callable[[PhotoRow], _Decoded], depth: int
) -> Generator[_Decoded, None, None]:
    """Results in order, with at most `depth` decodes queued ahead of the consumer,
    so memory stays bounded however large the folder is."""
    pending: deque[Future[_Decoded]] = deque()
    it = iter(items)
    try:
        for item in it:
            pending.append(pool.submit(fn, item))
            if len(pending) >= depth:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for fut in pending:
            fut.cancel()


def _decode(row: PhotoRow, encoder: Encoder) -> _Decoded:
    if video.is_video(row.path):
        return _decode_video(row, encoder)
    try:
        photo = imaging.decode_for_model(row.path, min_side=encoder.image_size)
        tensor = encoder.preprocess(photo.image)
    except ImageDecodeError as exc:
        return _Decoded(row, error=str(exc))
    except Exception as exc:  # a decoder bug must cost one file, not the whole run
        return _Decoded(row, error=f"could not decode: {type(exc).__name__}: {exc}")
    taken = photo.taken_at.isoformat(timespec="seconds") if photo.taken_at else None
    gps = places.locate(row.path, photo.gps)
    return _Decoded(row, tensor, photo.width, photo.height, taken, gps=gps)


def _decode_video(row: PhotoRow, encoder: Encoder) -> _Decoded:
    try:
        clip = video.decode_video(row.path, min_side=encoder.image_size)
        tensors = [(t, encoder.preprocess(image)) for t, image in clip.frames]
    except ImageDecodeError as exc:
        return _Decoded(row, error=str(exc))
    except Exception as exc:  # a decoder bug must cost one file, not the whole run
        return _Decoded(row, error=f"could not decode video: {type(exc).__name__}: {exc}")
    taken = clip.taken_at.isoformat(timespec="seconds") if clip.taken_at else None
    (first_t, first), rest = tensors[0], tensors[1:]
    return _Decoded(
        row, first, clip.width, clip.height, taken, gps=places.locate(row.path, clip.gps),
        duration=clip.duration, first_t=first_t, frames=rest,
    )


def _commit_batch(
    catalog: Catalog,
    encoder: Encoder,
    model_key: int,
    index: VectorIndex | None,
    batch: list[_Decoded],
    report: EncodeReport,
) -> None:
    good = [d for d in batch if d.error is None]
    vectors = encoder.encode_images([d.tensor for d in good]) if good else np.zeros((0, 0))
    frame_vectors = _encode_frames(encoder, good)
    located = [d for d in good if d.gps is not None]
    names = places.resolve([d.gps for d in located if d.gps is not None])
    where = dict(zip((d.row.id for d in located), names, strict=True))
    frame_labels: list[int] = []
    with catalog.transaction() as db:
        for d, vec in zip(good, vectors, strict=True):
            catalog.store_decoded(db, d.row.id, d.width, d.height, d.taken_at)
            catalog.store_embedding(db, d.row.id, model_key, vec)
            places.store(db, d.row.id, where.get(d.row.id))
            if d.duration is not None:
                frame_labels += catalog.store_video(
                    db, d.row.id, model_key, d.duration, d.first_t, frame_vectors.get(d.row.id, [])
                )
        for d in batch:
            if d.error is not None:
                catalog.store_error(db, d.row.id, d.error)
                report.errors.append((d.row.path, d.error))
        pause_point("commit")  # the batch written, not yet committed
    if index is not None and good:
        index.add(np.array([d.row.id for d in good], dtype=np.int64), vectors)
    if index is not None and frame_labels:
        extra = np.stack([v for d in good for _, v in frame_vectors.get(d.row.id, [])])
        index.add(np.array(frame_labels, dtype=np.int64), extra)
    report.encoded += len(good)
    report.failed += len(batch) - len(good)


_FRAME_CHUNK = 64  # keyframes per model call: bounds memory for a batch full of videos


def _encode_frames(encoder: Encoder, good: list[_Decoded]) -> dict[int, list[tuple[float, np.ndarray]]]:
    """Vectors for videos' extra keyframes, {photo id: [(seconds, vector)]}."""
    flat = [(d.row.id, t, tensor) for d in good for t, tensor in d.frames]
    out: dict[int, list[tuple[float, np.ndarray]]] = {}
    for start in range(0, len(flat), _FRAME_CHUNK):
        chunk = flat[start : start + _FRAME_CHUNK]
        vecs = encoder.encode_images([tensor for _, _, tensor in chunk])
        for (photo_id, t, _), vec in zip(chunk, vecs, strict=True):
            out.setdefault(photo_id, []).append((t, vec))
    return out


def _progress(phase: str, done: int, total: int, start: float, current: str | None) -> Progress:
    elapsed = max(time.monotonic() - start, 1e-9)
    rate = done / elapsed
    eta = (total - done) / rate if rate > 0 else None
    return Progress(phase, done, total, rate, eta, current)
