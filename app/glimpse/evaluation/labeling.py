"""A labeling session: offer photos one at a time, record what a person says about them.

The GUI's Label tab and ``glimpse label`` are both thin shells around
:class:`LabelingSession`, so the rules live in one place:

- candidates are the library's indexed photos, optionally only those under
  one folder; the order is a seeded :class:`~glimpse.evaluation.labels.Sampler`
  permutation, so a session is reproducible and a resumed one (same file, any
  labeler) continues without ever re-offering a photo that has a row;
- every save, skip-as-unsuitable and correction hits the disk before the call
  returns (the :class:`~glimpse.evaluation.labels.LabelSet` guarantees), so closing
  or killing the program loses at most the text being typed;
- Back re-opens only the *last* row (the only one the file format lets us
  replace atomically and cheaply); saving while it is open replaces it.

Paths in the label set are relative to the *watched folder root* that holds
the photo, with ``/`` separators (e.g. ``trip/img_07.jpg``), never to a
sub-folder chosen for sampling: the same photo gets the same path whichever
folder a session was limited to, and the set survives moving the whole
library. They are resolved back by trying every watched root (in sorted
order) and, failing that, by the content fingerprint stored beside them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from glimpse.core.errors import GlimpseError
from glimpse.core.media import imaging
from glimpse.core.storage.catalog import OK, PhotoRow
from glimpse.evaluation.labels import (
    STATUS_LABELED,
    STATUS_UNSUITABLE,
    LabelRow,
    LabelSet,
    Sampler,
    utc_now_iso,
)

if TYPE_CHECKING:
    from glimpse.core.library import Library

DEFAULT_TARGET = 100
DEFAULT_SEED = 0
# Below this many words a long label rarely says enough about objects,
# colours and positions to tell the photo apart; worth a gentle warning.
LONG_LABEL_MIN_WORDS = 8


class LabelingError(GlimpseError):
    """A labeling action the session cannot do now (nothing to save, no row to go back to)."""


@dataclass(frozen=True)
class Offer:
    """The photo currently shown: where it is on disk and how the set names it."""

    rel_path: str  # as stored in the label set
    abs_path: str | None  # None when a re-opened row's photo is no longer in the library
    photo_id: int | None
    fingerprint: str


@dataclass(frozen=True)
class Saved:
    """What a save wrote, plus advice the labeler may want to act on (never blocking)."""

    row: LabelRow
    replaced: bool
    warnings: tuple[str, ...]


def relative_to_root(path: str, roots: Iterable[str]) -> tuple[str, str] | None:
    """(root, POSIX path relative to it) for the deepest watched root holding ``path``."""
    best: tuple[str, str] | None = None
    for root in roots:
        try:
            rel = Path(path).relative_to(root)
        except ValueError:
            continue
        if best is None or len(root) > len(best[0]):
            best = (root, PurePosixPath(*rel.parts).as_posix())
    return best


def resolve_label_path(library: Library, rel_path: str, fingerprint: str = "") -> PhotoRow | None:
    """The indexed catalog photo a label row names: by path under a watched root,
    then by content fingerprint (the photo was moved or renamed since)."""
    for root in sorted(library.folder_paths()):
        row = library.catalog.photo_by_path(os.path.join(root, *PurePosixPath(rel_path).parts))
        if row is not None and row.status == OK:
            return row
    if fingerprint:
        for row in library.catalog.find_by_fingerprint(fingerprint):
            if row.status == OK:
                return row
    return None


def label_warnings(short: str, long: str) -> tuple[str, ...]:
    """Advice about a label that is allowed but likely to make a weak query."""
    warnings: list[str] = []
    if not long.strip():
        warnings.append("The long label is empty; long-label evaluation will skip this photo.")
    elif len(long.split()) < LONG_LABEL_MIN_WORDS:
        warnings.append(
            "The long label is short; say which objects, colours and positions you see."
        )
    if len(short.split()) > 25:
        warnings.append("The short label is long; a few words or one short sentence is enough.")
    return tuple(warnings)


class LabelingSession:
    """One person labeling photos of one library into one label-set file."""

    def __init__(
        self,
        library: Library,
        label_set_path: str | os.PathLike[str],
        folder: str | os.PathLike[str] | None = None,
        seed: int = DEFAULT_SEED,
        labeler: str = "",
        target: int = DEFAULT_TARGET,
    ) -> None:
        self.library = library
        self.labeler = labeler.strip()
        self.seed = int(seed)
        self.target = max(1, int(target))
        self.label_set = LabelSet.open(label_set_path)
        self.folder = str(Path(folder).expanduser().resolve()) if folder else None
        self._by_rel = self._candidates()
        self._sampler = Sampler(list(self._by_rel), self.seed, self.label_set.labeled_paths())
        self._editing: LabelRow | None = None
        self._return_to: Offer | None = None
        self.current: Offer | None = None
        self._advance()

    # -- what the labeler sees ---------------------------------------------

    @property
    def path(self) -> Path:
        return self.label_set.path

    @property
    def done(self) -> int:
        """Rows usable as queries; unsuitable photos do not count toward the target."""
        return self.label_set.done_count()

    @property
    def candidates(self) -> int:
        return len(self._by_rel)

    @property
    def remaining(self) -> int:
        """Photos not yet offered (the current one excluded)."""
        return self._sampler.remaining()

    @property
    def editing(self) -> LabelRow | None:
        """The row re-opened by :meth:`back`, which the next save replaces."""
        return self._editing

    @property
    def reached_target(self) -> bool:
        return self.done >= self.target

    # -- actions -----------------------------------------------------------

    def save(self, short: str, long: str, category: str = "") -> Saved:
        """Write the labels for the current photo (or replace the re-opened row), then move on.

        The short label is required: it is the query most people would type.
        Text is stored exactly as given (no trimming), because the set must
        hold what the labeler typed.
        """
        if not short.strip():
            raise LabelingError("Write a short label first (a few words about the photo).")
        offer = self._require_current()
        row = self._row(offer, short, long, STATUS_LABELED, category.strip())
        replaced = self._write(row)
        return Saved(row, replaced, label_warnings(short, long))

    def mark_unsuitable(self, reason: str = "") -> LabelRow:
        """Record that the current photo cannot be labeled (blurry, blank), then move on.

        It is written to the set, so no session offers it again; the reason
        goes in the ``long`` column.
        """
        offer = self._require_current()
        row = self._row(offer, "", reason.strip() or "unsuitable", STATUS_UNSUITABLE)
        self._write(row)
        return row

    def skip(self) -> Offer | None:
        """Sample again: leave the current photo unlabeled (a later session may offer it)."""
        if self._editing is not None:
            return self.cancel_back()
        self._advance()
        return self.current

    def back(self) -> LabelRow:
        """Re-open the last row of the set for correction; the next save replaces it."""
        if not self.label_set.rows:
            raise LabelingError("There is no saved label to go back to yet.")
        last = self.label_set.rows[-1]
        if self._editing is None:
            self._return_to = self.current
        self._editing = last
        self.current = self._offer_for_row(last)
        return last

    def cancel_back(self) -> Offer | None:
        """Leave the re-opened row as it was and return to the photo shown before Back."""
        if self._editing is None:
            return self.current
        self._editing = None
        self.current, self._return_to = self._return_to, None
        if self.current is None:
            self._advance()
        return self.current

    # -- internals ---------------------------------------------------------

    def _candidates(self) -> dict[str, PhotoRow]:
        roots = sorted(self.library.folder_paths())
        if self.folder is not None and relative_to_root(self.folder, roots) is None:
            raise LabelingError(
                f"{self.folder} is not inside a library folder; add it to the library first."
            )
        prefix = None if self.folder is None else self.folder.rstrip(os.sep) + os.sep
        by_rel: dict[str, PhotoRow] = {}
        for photo in self.library.indexed_photos():
            if prefix is not None and not photo.path.startswith(prefix):
                continue
            found = relative_to_root(photo.path, roots)
            if found is not None:
                # Same relative path under two roots: the first root wins (documented).
                by_rel.setdefault(found[1], photo)
        if not by_rel:
            where = self.folder or "the library"
            raise LabelingError(f"There are no indexed photos in {where}; index it first.")
        return by_rel

    def _require_current(self) -> Offer:
        if self.current is None:
            raise LabelingError("Every photo has been labeled or skipped; nothing is shown.")
        return self.current

    def _row(self, offer: Offer, short: str, long: str, status: str, category: str = "") -> LabelRow:
        return LabelRow(
            path=offer.rel_path,
            fingerprint=offer.fingerprint,
            short=short,
            long=long,
            labeler=self.labeler,
            created_at=utc_now_iso(),
            status=status,
            category=category,
        )

    def _write(self, row: LabelRow) -> bool:
        if self._editing is not None:
            self.label_set.replace_last(row)
            self._editing = None
            self.current, self._return_to = self._return_to, None
            if self.current is None:
                self._advance()
            return True
        self.label_set.append(row)
        self._advance()
        return False

    def _advance(self) -> None:
        rel = self._sampler.next()
        self.current = None if rel is None else self._offer_for_photo(rel, self._by_rel[rel])

    def _offer_for_photo(self, rel: str, photo: PhotoRow) -> Offer:
        fingerprint = photo.fingerprint or ""
        if not fingerprint:
            try:
                fingerprint = imaging.file_fingerprint(photo.path)
            except OSError:
                fingerprint = ""
        return Offer(rel, photo.path, photo.id, fingerprint)

    def _offer_for_row(self, row: LabelRow) -> Offer:
        photo = self._by_rel.get(row.path) or resolve_label_path(
            self.library, row.path, row.fingerprint
        )
        if photo is None:
            return Offer(row.path, None, None, row.fingerprint)
        return Offer(row.path, photo.path, photo.id, row.fingerprint or photo.fingerprint or "")

