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
- ``pixels``: a pass that looks at a still photo's pixels says at what size
  (longest side) and implements ``process_image(row, image)``; the runner
  decodes each photo once for all such passes (core/indexing/passes.py).

A signal module declares itself with one ``STAGE = SignalStage(...)`` and is
listed once in core/signals/registry.py (with the switch that turns it off); the pipeline, the CLI switches,
progress verbs, `glimpse status` and the word search all read the declaration
(docs/ARCHITECTURE.md, "How to add a signal").
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from glimpse.core.storage.catalog import Catalog, PhotoRow

if TYPE_CHECKING:
    from PIL import Image

    from glimpse.core.jobs import CancelToken, ProgressCallback


class CatalogPass:
    """Subclass and set name/version; override process() and store()."""

    name: str = ""
    version: int = 1
    pixels: int | None = None  # the longest side it looks at, when it reads pixels
    # Reads the photo's path too (its folder and file names): a renamed or moved
    # photo is read again, not only a changed one.
    by_path: bool = False

    def process(self, row: PhotoRow) -> Any:  # noqa: ANN401 - each pass has its own result
        raise NotImplementedError

    def process_image(self, row: PhotoRow, image: Image.Image) -> Any:  # noqa: ANN401
        """A still photo's result from pixels the runner decoded (at most `pixels` on
        the longest side). Videos and passes without `pixels` go through process()."""
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
    error: str | None = None  # the pass could not run at all (its model cannot load)




class Engines:
    """Models a signal loads once per library (an OCR engine, a face detector),
    shared by every run of its pass: loading them costs seconds."""

    def __init__(self, device: str | None = None) -> None:
        self.device = device  # the library's device setting: auto, cpu, cuda, gpu, mps
        self._providers: tuple[str, ...] | None = None
        self._made: dict[str, Any] = {}
        self._lock = threading.Lock()

    @property
    def providers(self) -> tuple[str, ...]:
        """ONNX Runtime's providers for these models (core/encoding/providers.py);
        asked on first use, so opening a library imports no onnxruntime."""
        if self._providers is None:
            from glimpse.core.encoding.providers import onnx_providers

            self._providers = onnx_providers(self.device)
        return self._providers

    def get(self, name: str, make: Callable[[], Any]) -> Any:  # noqa: ANN401
        with self._lock:
            if name not in self._made:
                self._made[name] = make()
            return self._made[name]


@dataclass(frozen=True)
class WordSource:
    """Words a signal indexes for search: an FTS5 table whose rowid is the photo id.

    The search fuses each source's ranking with meaning (core/search/fusion.py);
    `label` is what a result found through it says ("text in the photo")."""

    table: str
    label: str
    snippet_column: int = 0


@dataclass(frozen=True)
class SignalStage:
    """A signal's declaration: what the pipeline runs and what front ends show.

    - name: its key in pass_state, progress reports and `glimpse status`.
    - verb: progress: "Reading text in" 40 of 300 photos; did: the report after,
      "Read text in" 300 photos.
    - noun: what it finds, for status lines ("text in photos").
    - reads: "file" (the file's bytes or metadata), "pixels" (a decoded photo),
      "catalog" (other signals' results).
    - make_pass(catalog, engines): the per-photo pass (resumable through
      pass_state); or, for a stage with its own bookkeeping, run(catalog,
      progress, cancel) returning a PassReport, and counts(catalog) for status.
    - after(catalog): work once the pass is done (grouping faces into people).
    - summary(catalog): one line of what it has found, for reports and status.
    - migrations: this signal's own tables, applied in order, each once
      (Catalog.migrate_part).
    - words: the words it indexes for search, if any.
    """

    name: str
    verb: str
    did: str
    noun: str
    reads: str
    version: int = 1
    make_pass: Callable[[Catalog, Engines], CatalogPass] | None = None
    run: Callable[[Catalog, ProgressCallback | None, CancelToken | None], PassReport] | None = None
    counts: Callable[[Catalog], tuple[int, int]] | None = None
    after: Callable[[Catalog], object] | None = None
    summary: Callable[[Catalog], str] | None = None
    migrations: tuple[str, ...] = ()
    words: WordSource | None = None
    by_path: bool = False  # its pass reads paths too (CatalogPass.by_path), for status counts

    def progress_counts(self, catalog: Catalog) -> tuple[int, int]:
        """(photos this signal has read, indexed photos), from the catalog alone."""
        if self.counts is not None:
            return self.counts(catalog)
        return catalog.pass_counts(self.name, self.version, self.by_path)
