"""Signal passes: resumable jobs that add one kind of knowledge (text, places, faces ...) per photo.

CLIP encoding is the first pass over the catalog; every further signal is a
pass of this shape, so each gets incremental, crash-safe, cancellable work for
free:

- A pass has a ``name`` and a ``version``. The catalog's ``pass_state`` table
  records, per photo, which version of which pass has read which content
  (the photo's fingerprint). The photos still to do are the indexed ones with
  no record for this name, this version and their current fingerprint; so a
  changed file is read again, a moved one is not, and bumping ``version``
  re-reads everything.
- ``process(row)`` does the slow work for one photo with no database access
  and returns a result (or raises GlimpseError: recorded as done, with the
  reason, so a bad file is not retried on every run).
- ``store(catalog, db, row, result)`` writes the result inside the batch's
  transaction; the runner marks the photo done in that same transaction, so a
  crash or cancel loses at most the batch in flight.
- ``after_model_key``: a pass runs on photos that already have a CLIP vector for
  that model, which makes it lower priority than encoding: the photo becomes
  searchable by meaning first.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass, field
from typing import Any

from glimpse.core.catalog import Catalog, PhotoRow
from glimpse.core.errors import GlimpseError
from glimpse.core.indexer import CancelToken, Progress, ProgressCallback


class CatalogPass:
    """Subclass and set name/version; override process() and store()."""

    name: str = ""
    version: int = 1

    def process(self, row: PhotoRow) -> Any:  # noqa: ANN401 - each pass has its own result
        raise NotImplementedError

    def store(self, catalog: Catalog, db: sqlite3.Connection, row: PhotoRow, result: Any) -> None:  # noqa: ANN401
        raise NotImplementedError


@dataclass
class PassReport:
    name: str
    done: int = 0
    failed: int = 0
    remaining: int = 0
    cancelled: bool = False
    seconds: float = 0.0
    errors: list[tuple[str, str]] = field(default_factory=list)


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
