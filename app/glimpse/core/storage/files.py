"""Replacing files so that a crash or power loss leaves the old file or the new one, never half.

Index files, label sets, reports and settings all go through here. Errors are
plain OSError: each caller turns them into the message its user needs.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
from collections.abc import Callable
from pathlib import Path

from glimpse.core.errors import GlimpseError

_O_BINARY: int = getattr(os, "O_BINARY", 0)  # Windows: no newline translation


def fsync_dir(directory: Path) -> None:
    """Persist a rename; only possible (and only needed) on POSIX. Best effort:
    it runs after the file was replaced, so failing here would report a write
    that in fact happened."""
    if os.name != "posix":
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def replace_atomically(path: Path, write: Callable[[Path], None]) -> None:
    """Have `write` fill a temporary file beside `path`, make it durable, then
    rename it over `path`.

    The temporary file sits in the same folder, so the rename never crosses file
    systems; it is created new (0o666, so the umask decides as for any new
    file) and takes an existing file's mode. It is removed if anything fails.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_BINARY, 0o666))
    try:
        if path.exists():
            os.chmod(tmp, stat.S_IMODE(path.stat().st_mode))
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """replace_atomically, with a full disk turned into an error a user can act on."""
    try:
        replace_atomically(path, write)
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise GlimpseError(
                f"The disk holding {path.parent} is full; {path.name} was not updated. "
                "Free some space; the previous file is intact."
            ) from exc
        raise


def text_writer(text: str) -> Callable[[Path], None]:
    """A `write` for replace_atomically: UTF-8, exactly as given (no newline translation)."""

    def write(tmp: Path) -> None:
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)

    return write


def write_text_atomically(path: Path, text: str) -> None:
    replace_atomically(path, text_writer(text))
