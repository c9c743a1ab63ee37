"""One writer per library: an advisory lock file beside the catalog.

SQLite alone would let two indexers interleave their scans (each deciding
from a stale view what is new or gone) and make the loser fail with "database
is locked". Instead, every job that writes (scan, encode, folder changes)
holds this lock; a second process waits a bounded time for it, then refuses
with a message naming the holder. Readers (searches) never take it: WAL lets
them read while the writer writes.

The lock is an OS lock on an open file (flock / msvcrt.locking), so it is
released when the holder exits, however it exits (kill -9 included): no stale
lock files to clean up. The file's text (pid and command) is only a label.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from glimpse.core import settings
from glimpse.core.errors import GlimpseError

LOCK_NAME = "writer.lock"
WAIT_ENV = settings.setting("lock_wait_s").env
DEFAULT_WAIT_S = 10.0
_POLL_S = 0.1


class LibraryBusyError(GlimpseError):
    """Another process is writing to this library."""


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


def describe_holder(path: Path) -> str:
    try:
        text = path.read_text("utf-8", errors="replace").strip()
    except OSError:
        text = ""
    return text or "another Glimpse process"


class WriterLock:
    """Exclusive between processes, shared within one: the GUI's threads (an
    indexing job, adding a folder) already serialise their writes through the
    catalog's own lock, as before; the file lock only keeps other processes out."""

    def __init__(self, library_dir: Path, label: str | None = None) -> None:
        self.path = Path(library_dir) / LOCK_NAME
        self.label = label or _command_line()
        self._thread_lock = threading.RLock()
        self._depth = 0
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    @contextmanager
    def hold(self, wait_s: float | None = None) -> Iterator[None]:
        """Hold the lock for the block; wait up to `wait_s` (default GLIMPSE_LOCK_WAIT_S
        or 10 s) for another process to let go, then raise LibraryBusyError."""
        with self._thread_lock:
            if self._depth == 0:
                self._acquire(_wait_s(wait_s))
            self._depth += 1
        try:
            yield
        finally:
            with self._thread_lock:
                self._depth -= 1
                if self._depth == 0:
                    self._release()

    def _acquire(self, wait_s: float) -> None:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            raise GlimpseError(
                f"Cannot write in the library folder {self.path.parent} ({exc.strerror}). "
                "Check that it is writable (not on a read-only disk), or choose another "
                "with --library."
            ) from exc
        deadline = time.monotonic() + wait_s
        while not _try_lock(fd):
            if time.monotonic() >= deadline:
                os.close(fd)
                raise LibraryBusyError(
                    f"The library {self.path.parent} is being updated by another process "
                    f"({describe_holder(self.path)}). Searches still work; wait for it to "
                    "finish (or stop it), then try again."
                )
            time.sleep(_POLL_S)
        try:
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, f"pid {os.getpid()}: {self.label}\n".encode("utf-8", "replace"))
        except OSError:
            pass  # the label is a courtesy; the lock is what matters
        self._fd = fd

    def _release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.ftruncate(fd, 0)
            _unlock(fd)
        except OSError:
            pass
        finally:
            os.close(fd)


def _command_line() -> str:
    """How this process was started, as a user would recognise it ("glimpse watch ~/Photos")."""
    program = os.path.basename(sys.argv[0] or "python")
    if program in ("__main__.py", "-m", "-c", ""):
        program = "glimpse"
    return " ".join([program, *sys.argv[1:]])


def _wait_s(wait_s: float | None) -> float:
    if wait_s is not None:
        return max(0.0, wait_s)
    try:
        return max(0.0, settings.number("lock_wait_s"))
    except ValueError:  # a malformed GLIMPSE_LOCK_WAIT_S: wait the usual time
        return DEFAULT_WAIT_S
