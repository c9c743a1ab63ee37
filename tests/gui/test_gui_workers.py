"""The worker machinery: results, failures, throttled progress, and a responsive event loop."""

from __future__ import annotations

import time

import pytest
from PySide6.QtCore import Qt, QTimer

from glimpse.core.errors import QueryError
from glimpse.core.indexing.encode import EncodeReport
from glimpse.core.indexing.scan import ScanReport
from glimpse.core.jobs import Progress
from glimpse.core.library import IndexReport
from glimpse.ui.workers import Worker, WorkerPool

FAKE_JOB_S = 1.0
MAX_GAP_S = 0.050


def busy_job(seconds: float):
    """CPU-bound pure Python, like decoding glue in the indexer: no sleeps, but
    it holds the GIL only in the interpreter's normal 5 ms slices."""

    def job(token, progress):
        start = time.perf_counter()
        n = 0
        while time.perf_counter() - start < seconds:
            sum(i * i for i in range(300))
            n += 1
            progress(Progress("encode", n, n + 1, n / max(time.perf_counter() - start, 1e-9), 1.0))
            if token.checkpoint():
                break
        return n

    return job


class GapMeter:
    """Ticks every 10 ms on the GUI thread and records the longest gap between ticks."""

    def __init__(self) -> None:
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(10)
        self.timer.timeout.connect(self._tick)
        self.last: float | None = None
        self.max_gap = 0.0
        self.ticks = 0

    def _tick(self) -> None:
        now = time.perf_counter()
        if self.last is not None:
            self.max_gap = max(self.max_gap, now - self.last)
        self.last = now
        self.ticks += 1

    def start(self) -> None:
        self.last = None
        self.timer.start()

    def start_on_first(self, *_: object) -> None:
        """Measure from the job's first report: one-off warm-up (imports, first
        signal of a type) is not what a user feels during a long job."""
        if not self.timer.isActive():
            self.start()

    def stop(self) -> None:
        self.timer.stop()


def test_worker_returns_result_and_reports_failure(qtbot):
    pool = WorkerPool(1, "test")
    worker = Worker(lambda t, p: 42)
    with qtbot.waitSignal(worker.finished) as blocker:
        pool.start(worker)
    assert blocker.args == [42]

    def fails(token, progress):
        raise QueryError("bad query")

    worker = Worker(fails)
    with qtbot.waitSignal(worker.failed) as blocker:
        pool.start(worker)
    assert isinstance(blocker.args[0], QueryError)
    assert pool.shutdown(5000)


def test_progress_is_throttled_but_the_last_value_arrives(qtbot):
    def chatty(token, progress):
        for i in range(1, 50_001):
            progress(i)
        return "done"

    worker = Worker(chatty, progress_interval_s=0.1)
    seen: list[int] = []
    worker.progress.connect(seen.append)
    pool = WorkerPool(1, "test")
    with qtbot.waitSignal(worker.finished, timeout=10_000):
        pool.start(worker)
    qtbot.waitUntil(lambda: seen and seen[-1] == 50_000)
    assert len(seen) < 100  # not 50 000 events on the GUI thread
    pool.shutdown()


def test_cancel_stops_a_running_job(qtbot):
    pool = WorkerPool(1, "test")
    worker = Worker(busy_job(30.0))
    with qtbot.waitSignal(worker.finished, timeout=10_000):
        pool.start(worker)
        qtbot.waitUntil(worker.started.is_set)
        worker.cancel()
    assert pool.shutdown(5000) and pool.active() == 0


# A real stall (an engine call on the GUI thread, a progress flood) shows in
# every attempt; the OS parking the whole process on a loaded 2-core CI box
# shows in one. So an attempt may be repeated, never the threshold raised.
ATTEMPTS = 3


def measure_gap(qtbot, run_once) -> list[float]:
    gaps = []
    for _ in range(ATTEMPTS):
        gaps.append(run_once())
        if gaps[-1] < MAX_GAP_S:
            break
    return gaps


def test_event_loop_never_blocks_over_50ms_during_a_long_job(qtbot):
    pool = WorkerPool(1, "test")

    def once() -> float:
        meter = GapMeter()
        worker = Worker(busy_job(FAKE_JOB_S))
        worker.progress.connect(meter.start_on_first)
        with qtbot.waitSignal(worker.finished, timeout=20_000) as blocker:
            pool.start(worker)
        meter.stop()
        assert blocker.args[0] > 100 and meter.ticks >= 10
        return meter.max_gap

    gaps = measure_gap(qtbot, once)
    pool.shutdown()
    print("max gaps (ms):", [round(g * 1000, 1) for g in gaps])
    assert gaps[-1] < MAX_GAP_S, f"event loop blocked: max gaps {gaps} s"


def test_window_stays_responsive_while_a_long_index_job_reports_progress(
    qtbot, make_window, photo_dir, monkeypatch: pytest.MonkeyPatch
):
    """The whole path: controller job -> throttled progress -> status bar updates."""
    window = make_window()
    lib = window.controller.library
    job = busy_job(FAKE_JOB_S)

    def fake_index(progress=None, cancel=None, spec=None, batch_size=32, workers=None, **kw):
        n = job(cancel, progress)
        return IndexReport(ScanReport(), EncodeReport(encoded=n, seconds=FAKE_JOB_S))

    monkeypatch.setattr(lib, "index", fake_index)
    monkeypatch.setattr(lib, "folder_paths", lambda: ["x"])

    def once() -> float:
        meter = GapMeter()
        window.controller.indexProgress.connect(meter.start_on_first)
        with qtbot.waitSignal(window.controller.indexFinished, timeout=20_000):
            window.controller.request_index()
        meter.stop()
        window.controller.indexProgress.disconnect(meter.start_on_first)
        assert not window.progress_label.isVisible()
        return meter.max_gap

    gaps = measure_gap(qtbot, once)
    print("max gaps (ms):", [round(g * 1000, 1) for g in gaps])
    assert gaps[-1] < MAX_GAP_S, f"event loop blocked: max gaps {gaps} s"
