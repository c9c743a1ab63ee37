"""The runner of signal passes (core/signals/base.py defines what a pass is).

Photos still to do are read from the catalog's pass_state; each batch of
results is committed in one transaction with the photos marked done, so a
crash or cancel loses at most the batch in flight.
"""

from __future__ import annotations

import time
from typing import Any

from glimpse.core.errors import GlimpseError
from glimpse.core.jobs import CancelToken, Progress, ProgressCallback
from glimpse.core.signals.base import CatalogPass, PassReport
from glimpse.core.storage.catalog import Catalog, PhotoRow


def pending(catalog: Catalog, p: CatalogPass, after_model_key: int | None = None) -> list[PhotoRow]:
    """Photos this pass has not read yet (in path order)."""
    ids = catalog.ids_needing_pass(p.name, p.version, after_model_key)
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
    """Run a pass over every photo that needs it, committing every `batch_size` photos.

    Progress is reported with ``phase`` set to the pass's name. The cancel
    token's pause blocks between photos; cancel stops after the photo in hand
    (the finished ones of its batch are committed first)."""
    report = PassReport(p.name)
    todo = pending(catalog, p, after_model_key)
    start = time.monotonic()
    batch: list[tuple[PhotoRow, Any, str | None]] = []

    def commit() -> None:
        if not batch:
            return
        with catalog.transaction() as db:
            for row, result, error in batch:
                if error is None:
                    p.store(catalog, db, row, result)
                catalog.mark_pass_done(db, p.name, p.version, row.id, row.fingerprint, error)
        batch.clear()

    for n, row in enumerate(todo, 1):
        if cancel is not None and cancel.checkpoint():
            report.cancelled = True
            break
        try:
            batch.append((row, p.process(row), None))
            report.done += 1
        except GlimpseError as exc:
            batch.append((row, None, str(exc)))
            report.failed += 1
            report.errors.append((row.path, str(exc)))
        if len(batch) >= batch_size:
            commit()
        if progress is not None:
            elapsed = max(time.monotonic() - start, 1e-9)
            rate = n / elapsed
            progress(Progress(p.name, n, len(todo), rate, (len(todo) - n) / rate, row.path))
    commit()
    report.remaining = len(todo) - report.done - report.failed
    report.seconds = time.monotonic() - start
    return report
