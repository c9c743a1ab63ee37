"""Encoding: decode pool -> CLIP encoder -> one committed transaction per batch.

Decoding runs in a thread pool a few batches ahead of the model; each encoded
batch is committed in one transaction, so a crash or Ctrl-C loses at most the
batch in flight.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable, Generator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from glimpse.core.encoding.encoder import Encoder
from glimpse.core.errors import ImageDecodeError
from glimpse.core.faults import pause_point
from glimpse.core.jobs import CancelToken, ProgressCallback, progress_at
from glimpse.core.media import imaging, video
from glimpse.core.signals import places
from glimpse.core.storage.catalog import Catalog, PhotoRow
from glimpse.core.storage.vector_index import VectorIndex


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
            progress(progress_at("encode", done, len(todo), start, None))

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


