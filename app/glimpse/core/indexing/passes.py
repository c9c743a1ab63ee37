"""The runner of signal passes (core/signals/base.py defines what a pass is).

Photos still to do are read from the catalog's pass_state; each batch of
results is committed in one transaction with the photos marked done, so a
crash or cancel loses at most the batch in flight.

Passes that look at pixels run together, photo by photo, and share one decode
of each photo at the largest size any of them asks for (each gets a copy
scaled to its own size). Decoding once at 1600 px and scaling to 800 costs
0.59x decoding at both sizes, and text plus faces over the 40 largest sample
photos took 0.91x the time grouped (scripts/bench_index.py --passes). The
next photo is decoded in a thread while the passes read this one: on 2 cores,
text plus faces over the 277 sample photos went from 3.70 to 4.50 photos/s
(README "Reading text").
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Generator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from typing import Any

from glimpse.core.errors import EngineUnavailable, GlimpseError, ImageDecodeError
from glimpse.core.faults import pause_point
from glimpse.core.jobs import CancelToken, Progress, ProgressCallback
from glimpse.core.media import imaging, video
from glimpse.core.signals.base import CatalogPass, PassReport
from glimpse.core.storage.catalog import Catalog, PhotoRow

log = logging.getLogger(__name__)

# Joins the names of passes run together into one progress phase ("ocr+faces").
PHASE_JOIN = "+"
# Photos decoded ahead, in a thread, of the one the passes are reading.
DECODE_AHEAD = 1


def pending(catalog: Catalog, p: CatalogPass, after_model_key: int | None = None) -> list[PhotoRow]:
    """Photos this pass has not read yet (in path order)."""
    ids = catalog.ids_needing_pass(p.name, p.version, after_model_key, p.by_path)
    rows = catalog.photos_by_ids(ids)
    return [rows[i] for i in ids if i in rows]


def run_pass(
    catalog: Catalog,
    p: CatalogPass,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    after_model_key: int | None = None,
    batch_size: int = 8,
) -> PassReport:
    """One pass over every photo that needs it (see run_passes)."""
    return run_passes(catalog, [p], progress, cancel, after_model_key, batch_size)[p.name]


def run_passes(
    catalog: Catalog,
    group: Sequence[CatalogPass],
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    after_model_key: int | None = None,
    batch_size: int = 8,
) -> dict[str, PassReport]:
    """Run passes over every photo that needs any of them, committing every
    `batch_size` photos; one report per pass, by name.

    Progress is reported with ``phase`` set to the passes' names joined by
    PHASE_JOIN. The cancel token's pause blocks between photos; cancel stops
    after the photo in hand (the finished ones of its batch are committed first).
    EngineUnavailable (a model that cannot run here) stops the run after committing
    what is finished, and propagates."""
    reports = {p.name: PassReport(p.name) for p in group}
    todo = {p.name: set(catalog.ids_needing_pass(p.name, p.version, after_model_key, p.by_path))
            for p in group}
    every = set().union(*todo.values()) if todo else set()
    rows = catalog.photos_by_ids(every)
    # Newest first (the highest ids arrived last): a photo just copied in gets its
    # text and faces before the back catalogue does.
    ordered = sorted(rows.values(), key=lambda r: -r.id)
    phase = PHASE_JOIN.join(p.name for p in group)
    start = time.monotonic()
    batch: list[tuple[CatalogPass, PhotoRow, Any, str | None]] = []
    in_batch = 0

    def commit() -> None:
        if not batch:
            return
        with catalog.transaction() as db:
            for p, row, result, error in batch:
                if error is None:
                    p.store(catalog, db, row, result)
                key = catalog.pass_key(row.fingerprint, row.path, p.by_path)
                catalog.mark_pass_done(db, p.name, p.version, row.id, key, error)
            for name in dict.fromkeys(p.name for p, *_ in batch):
                pause_point(f"pass:{name}")  # the batch written, not yet committed
        batch.clear()

    needing = {row.id: [p for p in group if row.id in todo[p.name]] for row in ordered}
    with closing(_decoded_ahead(ordered, needing)) as decoded:
        for n, row in enumerate(ordered, 1):
            if cancel is not None and cancel.checkpoint():
                for r in reports.values():
                    r.cancelled = True
                break
            try:
                results = _process_photo(row, needing[row.id], next(decoded))
            except EngineUnavailable:
                commit()
                raise
            for p, result, error in results:
                batch.append((p, row, result, error))
                report = reports[p.name]
                if error is None:
                    report.done += 1
                else:
                    report.failed += 1
                    report.errors.append((row.path, error))
            in_batch += 1
            if in_batch >= batch_size:
                commit()
                in_batch = 0
            if progress is not None:
                elapsed = max(time.monotonic() - start, 1e-9)
                rate = n / elapsed
                progress(Progress(phase, n, len(ordered), rate, (len(ordered) - n) / rate, row.path))
    commit()
    seconds = time.monotonic() - start
    for p in group:
        r = reports[p.name]
        r.remaining = len(todo[p.name]) - r.done - r.failed
        r.seconds = seconds
    return reports


def _pixel_passes(row: PhotoRow, passes: Sequence[CatalogPass]) -> list[CatalogPass]:
    return [p for p in passes if p.pixels and not video.is_video(row.path)]


def _decode(row: PhotoRow, passes: Sequence[CatalogPass]) -> tuple[Any, str | None]:
    """(image, None) at the largest size the passes that read pixels ask for,
    (None, reason) when it cannot be decoded, (None, None) when none reads pixels."""
    reads_pixels = _pixel_passes(row, passes)
    if not reads_pixels:
        return None, None
    try:
        return imaging.make_thumbnail(row.path, max(p.pixels or 0 for p in reads_pixels)), None
    except ImageDecodeError as exc:
        return None, str(exc)
    except Exception as exc:  # a decoder bug must cost one photo, not the pass
        return None, f"could not decode: {type(exc).__name__}: {exc}"


def _decoded_ahead(
    ordered: Sequence[PhotoRow], needing: dict[int, list[CatalogPass]]
) -> Generator[tuple[Any, str | None], None, None]:
    """Each photo's _decode, in order, with the next photo's already decoding in a
    thread while the caller's models read this one: decoding (Pillow releases the
    GIL) then fills the core the models leave idle (DECODE_AHEAD photos ahead).
    Closing the generator drops what was decoded ahead."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="glimpse-pass-decode") as pool:
        queue: deque[Future[tuple[Any, str | None]]] = deque()
        rows = iter(ordered)
        try:
            while True:
                while len(queue) <= DECODE_AHEAD:
                    row = next(rows, None)
                    if row is None:
                        break
                    queue.append(pool.submit(_decode, row, needing[row.id]))
                if not queue:
                    return
                yield queue.popleft().result()
        finally:
            for f in queue:
                f.cancel()


def _process_photo(
    row: PhotoRow, passes: Sequence[CatalogPass], decoded: tuple[Any, str | None] | None = None
) -> list[tuple[CatalogPass, Any, str | None]]:
    """(pass, result, error) for each pass: one decode for all that read pixels
    (`decoded`: _decode's answer for this photo, when it was decoded ahead)."""
    reads_pixels = _pixel_passes(row, passes)
    image, decode_error = decoded if decoded is not None else _decode(row, passes)
    out: list[tuple[CatalogPass, Any, str | None]] = []
    for p in passes:
        try:
            if p in reads_pixels:
                if decode_error is not None:
                    raise GlimpseError(decode_error)
                assert image is not None and p.pixels is not None
                result = p.process_image(row, imaging.fit_within(image, p.pixels))
            else:
                result = p.process(row)
            out.append((p, result, None))
        except EngineUnavailable:
            raise  # no photo's fault: the pass stops, nothing is marked done
        except GlimpseError as exc:
            out.append((p, None, str(exc)))
        except Exception as exc:  # a model bug must cost one photo, not the pass
            log.warning("%s pass failed on %s: %s: %s", p.name, row.path, type(exc).__name__, exc)
            out.append((p, None, f"{p.name} failed: {type(exc).__name__}: {exc}"))
    return out
