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
from dataclasses import dataclass, field
from typing import Any

from glimpse.core.storage.catalog import Catalog, PhotoRow


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


