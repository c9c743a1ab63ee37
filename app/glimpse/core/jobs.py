"""The contract of every long job: a cancel/pause token and progress reports.

Every engine job (scan, encode, a signal pass, a download, a preset run) takes
a ProgressCallback and a CancelToken and never touches Qt; the GUI wraps them
in workers, the CLI in a progress line. They live here, below everything else,
so that any layer can use them without importing the indexer.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


class CancelToken:
    """Cooperative cancel and pause, checked between batches (never mid-write)."""

    def __init__(self) -> None:
        self._cancelled = threading.Event()
        self._running = threading.Event()
        self._running.set()

    def cancel(self) -> None:
        self._cancelled.set()
        self._running.set()  # a paused job must wake up to notice

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def checkpoint(self) -> bool:
        """Block while paused; True when the job should stop."""
        self._running.wait()
        return self.cancelled


class YieldingToken(CancelToken):
    """A job's token for work that gives way: it stops when the parent is cancelled
    (and pauses with it), and also as soon as `should_yield()` says newer work waits,
    so that work runs first (meaning before text and faces: core/indexing/pipeline.py).
    A stop because of yielding leaves `yielded` True; the stopped work resumes later."""

    def __init__(self, parent: CancelToken | None, should_yield: Callable[[], bool]) -> None:
        super().__init__()
        self._parent = parent
        self._should_yield = should_yield
        self.yielded = False

    @property
    def cancelled(self) -> bool:
        if self._cancelled.is_set() or (self._parent is not None and self._parent.cancelled):
            return True
        if not self.yielded and self._should_yield():
            self.yielded = True
        return self.yielded

    @property
    def paused(self) -> bool:
        return self._parent is not None and self._parent.paused

    def checkpoint(self) -> bool:
        if self._parent is not None and self._parent.checkpoint():
            return True
        return self.cancelled


@dataclass(frozen=True)
class Progress:
    phase: str  # "scan" or "encode"
    done: int
    total: int
    rate: float  # items per second over the run so far
    eta_s: float | None
    current: str | None = None


ProgressCallback = Callable[[Progress], None]




def progress_at(phase: str, done: int, total: int, start: float, current: str | None) -> Progress:
    elapsed = max(time.monotonic() - start, 1e-9)
    rate = done / elapsed
    eta = (total - done) / rate if rate > 0 else None
    return Progress(phase, done, total, rate, eta, current)
