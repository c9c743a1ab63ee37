"""Label sets for known-item evaluation: which photo a person would describe how.

A label set is a CSV file that a person fills in one photo at a time (or that is
imported from a caption data set). Each row says: for the photo at ``path``, a
short description and a long one, written by ``labeler`` at ``created_at``.
Evaluation later asks every model to find that exact photo from each text.

The file format is deliberately plain so a labeler can open it in a
spreadsheet, and so a crash never costs more than the row being typed:

- UTF-8, header exactly ``path,fingerprint,short,long,labeler,created_at,status``;
- ``path`` is relative to the library folder root the photo lives in, with
  POSIX ``/`` separators, so the set survives moving the library;
- ``status`` is ``labeled`` or ``unsuitable``; an unsuitable photo (blurry,
  blank) is still recorded so it is not offered again, with the reason in
  ``long``;
- an optional eighth column ``category`` (objects, actions, abstract...)
  groups queries for per-category results. It is written only once some row
  has a category, so sets without categories keep the seven-column format;
- every :meth:`LabelSet.append` is flushed and fsynced before it returns.

Spreadsheet formula injection: a cell that starts with ``=``, ``+``, ``-``,
``@``, TAB or CR would be run as a formula by Excel/LibreOffice. Such cells
are written with a single quote ``'`` in front, which spreadsheets show as
text. To keep the round trip exact for *every* string, a cell that itself
starts with ``'`` also gets one extra ``'`` in front. Reading removes exactly
one leading ``'`` from any cell that has one. So ``=1+1`` is stored as
``'=1+1``, ``'quoted`` as ``''quoted``, and both read back as typed.
"""

from __future__ import annotations

import csv
import hashlib
import importlib
import io
import os
import random
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import astuple, dataclass, fields
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath

from glimpse.core.errors import LabelSetError
from glimpse.core.storage.files import write_text_atomically

HEADER: tuple[str, ...] = (
    "path",
    "fingerprint",
    "short",
    "long",
    "labeler",
    "created_at",
    "status",
)
CATEGORY = "category"
# How `glimpse labels import --long` turns several captions per image into labels.
LONG_EACH = "each"
LONG_MODES: tuple[str, ...] = (LONG_EACH, "longest", "joined", "none")
HEADER_WITH_CATEGORY: tuple[str, ...] = (*HEADER, CATEGORY)
STATUS_LABELED = "labeled"
STATUS_UNSUITABLE = "unsuitable"
STATUSES: frozenset[str] = frozenset({STATUS_LABELED, STATUS_UNSUITABLE})

# Characters that make a spreadsheet treat a cell as a formula (OWASP list).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_QUOTE = "'"


def escape_cell(value: str) -> str:
    """Make a cell inert in spreadsheets while keeping it exactly recoverable.

    See the module docstring for the rule; :func:`unescape_cell` inverts it.
    """
    if value.startswith(_FORMULA_STARTS) or value.startswith(_QUOTE):
        return _QUOTE + value
    return value


def unescape_cell(value: str) -> str:
    """Undo :func:`escape_cell`: drop exactly one leading single quote."""
    return value[1:] if value.startswith(_QUOTE) else value


def utc_now_iso() -> str:
    """Timestamp for ``created_at``: ISO 8601 in UTC, so sets merge across zones."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class LabelRow:
    """One labeled (or rejected) photo; field order is the CSV column order."""

    path: str
    fingerprint: str
    short: str
    long: str
    labeler: str
    created_at: str
    status: str = STATUS_LABELED
    category: str = ""  # optional query category, for per-category results

    def validate(self) -> None:
        """Refuse rows that would make the file unusable for evaluation later."""
        for f in fields(self):
            if not isinstance(getattr(self, f.name), str):
                raise LabelSetError(f"Label field {f.name!r} must be text.")
        if self.status not in STATUSES:
            raise LabelSetError(
                f"Label status must be one of {sorted(STATUSES)}, not {self.status!r}."
            )
        if not self.path:
            raise LabelSetError("A label row needs the photo's path.")
        if "\\" in self.path or PurePosixPath(self.path).is_absolute() or _has_drive(self.path):
            raise LabelSetError(
                f"Label paths must be relative to the library folder with '/' "
                f"separators, not {self.path!r}."
            )


def _has_drive(path: str) -> bool:
    """True for Windows-style ``C:...`` paths, which are never library-relative."""
    return len(path) >= 2 and path[1] == ":" and path[0].isalpha()


def _encode_rows(rows: Iterable[LabelRow], with_header: bool, with_category: bool = False) -> str:
    """Render rows as CSV text, escaped; one place so append and rewrite agree.

    Without ``with_category`` the category column is left out (the rows must
    have none; :class:`LabelSet` switches a file to eight columns first).
    """
    buf = io.StringIO()
    # CRLF as RFC 4180 says; it also makes csv quote cells holding a lone CR,
    # which it does not do for a "\n" terminator (the round trip would break).
    writer = csv.writer(buf, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    if with_header:
        writer.writerow(HEADER_WITH_CATEGORY if with_category else HEADER)
    width = len(HEADER_WITH_CATEGORY if with_category else HEADER)
    for row in rows:
        writer.writerow([escape_cell(cell) for cell in astuple(row)[:width]])
    return buf.getvalue()


class LabelSet:
    """A label set file and its rows, kept in step: every change hits disk first."""

    def __init__(self, path: Path, rows: list[LabelRow], with_category: bool = False) -> None:
        # Use LabelSet.open(); this only holds already-validated state.
        self.path = Path(path)
        self.rows: list[LabelRow] = rows
        self.with_category = with_category or any(r.category for r in rows)

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> LabelSet:
        """Open a label set, creating it with just the header if it does not exist.

        A last row cut short by a crash in the middle of an append (the only
        partial write the format allows) is dropped, since its append never
        returned; any other malformed row is an error the user must fix.
        """
        p = Path(path)
        try:
            if not p.exists():
                p.parent.mkdir(parents=True, exist_ok=True)
                write_text_atomically(p, _encode_rows([], with_header=True))
            raw = p.read_bytes()
        except OSError as exc:
            raise LabelSetError(f"Cannot open label set {p}: {exc.strerror or exc}.") from exc
        rows, needs_rewrite, with_category = _parse(raw, p)
        label_set = cls(p, rows, with_category)
        if needs_rewrite:
            label_set._rewrite()
        return label_set

    def append(self, row: LabelRow) -> None:
        """Add one row durably: when this returns, the row survives a power cut."""
        row.validate()
        if row.category and not self.with_category:
            # First category in a seven-column file: rewrite it with the column.
            self.rows.append(row)
            self.with_category = True
            try:
                self._rewrite()
            except LabelSetError:
                self.rows.pop()
                self.with_category = False
                raise
            return
        text = _encode_rows([row], with_header=False, with_category=self.with_category)
        try:
            with open(self.path, "a", encoding="utf-8", newline="") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            raise LabelSetError(
                f"Cannot write to label set {self.path}: {exc.strerror or exc}."
            ) from exc
        self.rows.append(row)

    def replace_last(self, row: LabelRow) -> None:
        """Correct the most recent row (the labeler pressed Back), atomically."""
        row.validate()
        if not self.rows:
            raise LabelSetError("There is no label to correct yet.")
        old, had_category = self.rows[-1], self.with_category
        self.rows[-1] = row
        self.with_category = had_category or bool(row.category)
        try:
            self._rewrite()
        except LabelSetError:
            self.rows[-1], self.with_category = old, had_category
            raise

    def labeled_paths(self) -> set[str]:
        """Paths that have any row, labeled or unsuitable: never offer these again."""
        return {row.path for row in self.rows}

    def done_count(self) -> int:
        """Rows usable as queries (status ``labeled``); unsuitable ones do not count."""
        return sum(1 for row in self.rows if row.status == STATUS_LABELED)

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[LabelRow]:
        return iter(self.rows)

    def _rewrite(self) -> None:
        try:
            write_text_atomically(
                self.path, _encode_rows(self.rows, with_header=True, with_category=self.with_category)
            )
        except OSError as exc:
            raise LabelSetError(
                f"Cannot rewrite label set {self.path}: {exc.strerror or exc}."
            ) from exc


def _parse(raw: bytes, path: Path) -> tuple[list[LabelRow], bool, bool]:
    """Read rows from file bytes; return them, whether the file must be rewritten,
    and whether it has the category column.

    A file that does not end with a line break either lost the end of its last
    row in a crash (the row is dropped) or was saved that way by an editor; in
    both cases the next append would glue onto the last line, so the caller
    rewrites the file cleanly.
    """
    try:
        # utf-8-sig: a spreadsheet that saved the file may have added a BOM.
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LabelSetError(f"Label set {path} is not UTF-8 text: {exc}.") from exc
    try:
        records = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise LabelSetError(f"Label set {path} is not valid CSV: {exc}.") from exc
    if not records:
        raise LabelSetError(f"Label set {path} is empty; expected the header {','.join(HEADER)}.")
    header = tuple(records[0])
    if header not in (HEADER, HEADER_WITH_CATEGORY):
        raise LabelSetError(
            f"Label set {path} has header {','.join(records[0])!r}; "
            f"expected exactly {','.join(HEADER)!r} (optionally followed by ',{CATEGORY}')."
        )
    ends_cleanly = text.endswith(("\n", "\r"))
    rows: list[LabelRow] = []
    body = records[1:]
    for i, record in enumerate(body):
        try:
            rows.append(_row_from_record(record, path, len(header)))
        except LabelSetError:
            if i == len(body) - 1 and not ends_cleanly:
                break  # torn by a crash mid-append: that append never returned
            raise
    return rows, not ends_cleanly, header == HEADER_WITH_CATEGORY


def _row_from_record(record: list[str], path: Path, width: int = len(HEADER)) -> LabelRow:
    if len(record) != width:
        raise LabelSetError(
            f"Label set {path} has a row with {len(record)} fields, expected "
            f"{width}: {record!r}."
        )
    row = LabelRow(*(unescape_cell(cell) for cell in record))
    try:
        row.validate()
    except LabelSetError as exc:
        raise LabelSetError(f"Label set {path}: {exc}") from exc
    return row


class Sampler:
    """Offers photos to label in a random order that a seed reproduces.

    The order is a fixed permutation of the *sorted* candidates, so it does not
    depend on how the caller listed them nor on what was already labeled: a
    resumed session with the same seed continues the same sequence and simply
    skips what is done.
    """

    def __init__(self, candidates: Sequence[str], seed: int, exclude: set[str]) -> None:
        order = sorted(set(candidates))
        random.Random(seed).shuffle(order)
        self._order = order
        self._pos = 0
        self._skip: set[str] = set(exclude)

    def next(self) -> str | None:
        """The next photo to label, or None when every candidate was offered."""
        while self._pos < len(self._order):
            candidate = self._order[self._pos]
            self._pos += 1
            if candidate not in self._skip:
                self._skip.add(candidate)
                return candidate
        return None

    def exclude(self, path: str) -> None:
        """Never offer ``path`` from now on (e.g. labeled in another window)."""
        self._skip.add(path)

    def remaining(self) -> int:
        """How many candidates are still to be offered."""
        return sum(1 for c in self._order[self._pos :] if c not in self._skip)


def _file_fingerprint(path: Path) -> str:
    """Content hash that identifies a photo across renames: blake2b-128 hex of its bytes.

    Same definition as the catalog uses, so label rows can be matched to
    catalog entries even after the photo was moved.
    """
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fingerprint_function() -> Callable[[Path], str]:
    """Prefer the shared helper in imaging.py once it exists; same definition."""
    try:
        imaging = importlib.import_module("glimpse.core.media.imaging")
    except ImportError:
        return _file_fingerprint
    found: Callable[[Path], str] = getattr(imaging, "file_fingerprint", _file_fingerprint)
    return found


def import_captions(
    csv_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    image_root: str | os.PathLike[str],
    long: str = LONG_EACH,
) -> LabelSet:
    """Turn a caption file (columns ``image,caption``) into a new label set.

    Public caption sets give a quick evaluation before anyone has labeled
    their own photos. With ``long="each"`` (the default) each caption becomes
    its own ``labeled`` row (short=caption, long=""), so an image with five
    captions yields five queries. The other modes give one row per image
    whose short label is its shortest caption (fewest characters, first on a
    tie) and whose long label is its longest caption (``longest``), all its
    other captions joined by a space (``joined``), or empty (``none``), so
    short and long descriptions can be compared. ``image`` is taken relative to ``image_root``; the fingerprint is
    computed when the image file exists there and left empty otherwise.
    Blank captions are skipped. ``out_path`` must not already hold rows, so a
    repeated import cannot silently double every query.
    """
    src = Path(csv_path)
    root = Path(image_root)
    out = Path(out_path)
    pairs = _read_caption_pairs(src)
    if out.exists() and LabelSet.open(out).rows:
        raise LabelSetError(
            f"Label set {out} already has rows; choose a new file to import {src.name} into."
        )
    fingerprint = _fingerprint_function()
    cache: dict[str, str] = {}
    created_at = utc_now_iso()
    labeler = f"import:{src.name}"
    rows: list[LabelRow] = []
    for image, short, long_text in _caption_queries(pairs, long):
        rel = PurePosixPath(image.replace("\\", "/")).as_posix()
        if rel not in cache:
            cache[rel] = _fingerprint_if_present(fingerprint, root / rel)
        row = LabelRow(rel, cache[rel], short, long_text, labeler, created_at, STATUS_LABELED)
        row.validate()
        rows.append(row)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomically(out, _encode_rows(rows, with_header=True))
    except OSError as exc:
        raise LabelSetError(f"Cannot write label set {out}: {exc.strerror or exc}.") from exc
    return LabelSet.open(out)


def _caption_queries(pairs: Sequence[tuple[str, str]], long: str) -> list[tuple[str, str, str]]:
    """(image, short, long) rows from caption pairs, per :func:`import_captions`'s ``long`` mode."""
    if long not in LONG_MODES:
        raise LabelSetError(f"The long-label mode must be one of {list(LONG_MODES)}, not {long!r}.")
    if long == LONG_EACH:
        return [(image, caption, "") for image, caption in pairs]
    per_image: dict[str, list[str]] = {}
    for image, caption in pairs:
        per_image.setdefault(image, []).append(caption)
    out: list[tuple[str, str, str]] = []
    for image, captions in per_image.items():
        short = min(captions, key=len)  # min/max keep the first of equal length
        rest = list(captions)
        rest.remove(short)
        if long == "longest":
            long_text = max(rest, key=len) if rest else ""
        elif long == "joined":
            long_text = " ".join(rest)
        else:
            long_text = ""
        out.append((image, short, long_text))
    return out


def _fingerprint_if_present(fingerprint: Callable[[Path], str], file: Path) -> str:
    """Fingerprint of an image that exists; "" for one that is missing (still a query)."""
    if not file.is_file():
        return ""
    try:
        return fingerprint(file)
    except OSError as exc:
        raise LabelSetError(f"Cannot read image {file}: {exc.strerror or exc}.") from exc


def _read_caption_pairs(src: Path) -> list[tuple[str, str]]:
    """(image, caption) pairs from a caption CSV, blank captions dropped."""
    try:
        text = src.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise LabelSetError(f"Cannot read caption file {src}: {exc}.") from exc
    reader = csv.DictReader(io.StringIO(text, newline=""))
    names = [n.strip() for n in (reader.fieldnames or [])]
    if "image" not in names or "caption" not in names:
        raise LabelSetError(
            f"Caption file {src} needs columns 'image' and 'caption'; it has {names}."
        )
    reader.fieldnames = names
    pairs: list[tuple[str, str]] = []
    for line_no, rec in enumerate(reader, start=2):
        image = (rec.get("image") or "").strip()
        caption = (rec.get("caption") or "").strip()
        if not image:
            raise LabelSetError(f"Caption file {src}, record {line_no}: the image name is empty.")
        if caption:
            pairs.append((image, caption))
    return pairs
