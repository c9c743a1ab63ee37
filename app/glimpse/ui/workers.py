"""Run engine calls off the GUI thread and report back through signals.

The pattern follows napari/superqt's thread workers: a QRunnable on a
QThreadPool runs a plain function that takes a CancelToken and a progress
callback (exactly what the core's long jobs accept), and the runnable turns
the outcome into Qt signals. Signals emitted from the pool thread are queued
to receivers living in the GUI thread, so slots never race with painting.

Progress is throttled in the worker thread: the indexer may report hundreds
of times a second, and every emission costs the GUI an event. The latest value
is always delivered (just before `finished`), so the last state is never lost.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from glimpse.core.jobs import CancelToken

log = logging.getLogger(__name__)

ProgressFn = Callable[[Any], None]
JobFn = Callable[[CancelToken, ProgressFn], Any]

DEFAULT_PROGRESS_INTERVAL_S = 0.1


class _FlushingToken(CancelToken):
    """A CancelToken that delivers throttled-away progress before the job blocks on pause,
    so a paused job shows where it stopped, not where it was 100 ms earlier."""

    def __init__(self) -> None:
        super().__init__()
        self.before_block: Callable[[], None] | None = None

    def checkpoint(self) -> bool:
        if self.paused and self.before_block is not None:
            self.before_block()
        return super().checkpoint()


class WorkerSignals(QObject):
    """Lives in the GUI thread (created there); emitted from the pool thread."""

    progress = Signal(object)
    finished = Signal(object)  # the function's return value
    failed = Signal(object)  # the exception
    done = Signal()  # after finished or failed: lets owners drop their reference


class Worker(QRunnable):
    """One call of `fn(token, progress)` on a thread pool.

    Keep a reference to the worker (or connect to its signals) for as long as
    you care about the result; `token` cancels or pauses it cooperatively.
    """

    def __init__(
        self,
        fn: JobFn,
        name: str = "job",
        progress_interval_s: float = DEFAULT_PROGRESS_INTERVAL_S,
        token: CancelToken | None = None,
    ) -> None:
        super().__init__()
        self.setAutoDelete(False)  # Python owns it; Qt must not delete it under us
        self.fn = fn
        self.name = name
        self.token = token or _FlushingToken()
        if isinstance(self.token, _FlushingToken):
            self.token.before_block = self._flush_progress
        self.signals = WorkerSignals()
        self._interval = progress_interval_s
        self._last_emit = 0.0
        self._pending: Any = None
        self._has_pending = False
        self._lock = threading.Lock()
        self.started = threading.Event()
        self.ended = threading.Event()

    # Convenience pass-throughs so callers can write worker.finished.connect(...)
    @property
    def progress(self) -> Signal:
        return self.signals.progress

    @property
    def finished(self) -> Signal:
        return self.signals.finished

    @property
    def failed(self) -> Signal:
        return self.signals.failed

    def cancel(self) -> None:
        self.token.cancel()

    def _report(self, value: Any) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._last_emit < self._interval:
                self._pending, self._has_pending = value, True
                return
            self._last_emit = now
            self._pending, self._has_pending = None, False
        self.signals.progress.emit(value)

    def _flush_progress(self) -> None:
        with self._lock:
            value, has = self._pending, self._has_pending
            self._pending, self._has_pending = None, False
        if has:
            self.signals.progress.emit(value)

    def run(self) -> None:
        self.started.set()
        try:
            result = self.fn(self.token, self._report)
        except BaseException as exc:  # report everything: a worker must never die silently
            self._flush_progress()
            if not isinstance(exc, Exception):
                log.error("worker %s stopped by %r", self.name, exc)
            else:
                log.debug("worker %s failed", self.name, exc_info=exc)
            self.signals.failed.emit(exc)
        else:
            self._flush_progress()
            self.signals.finished.emit(result)
        finally:
            self.ended.set()
            self.signals.done.emit()


class WorkerPool(QObject):
    """A QThreadPool that keeps its running workers alive and can shut down cleanly.

    Picard's lesson: one pool per kind of work (a single thread for jobs that
    write, a few for reads), and `waitForDone` at shutdown.
    """

    def __init__(self, max_threads: int, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max_threads)
        self.name = name
        self._live: set[Worker] = set()

    def start(self, worker: Worker) -> Worker:
        """Run a worker whose signals are already connected: a quick job can
        finish before a connection made after this call, and its result is lost."""
        self._live.add(worker)
        worker.signals.done.connect(self._forget)
        self.pool.start(worker)
        return worker

    def _forget(self) -> None:
        self._live = {w for w in self._live if not w.ended.is_set()}

    def clear_queued(self) -> None:
        """Drop jobs that have not started (stale thumbnail or search requests)."""
        self.pool.clear()
        self._live = {w for w in self._live if w.started.is_set() and not w.ended.is_set()}

    def active(self) -> int:
        return self.pool.activeThreadCount()

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        """Cancel everything, drop what has not started, wait for the rest."""
        for worker in list(self._live):
            worker.cancel()
        self.pool.clear()
        ok = self.pool.waitForDone(timeout_ms)
        self._live.clear()
        return ok
