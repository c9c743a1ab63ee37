"""Folder watching: watchdog events, coalesced, trigger incremental indexing.

Events are only a hint that something changed; the indexer's scan is what
decides what changed (stat + fingerprint). So a burst of thousands of events
(a phone sync, an unzip) becomes one scan after the folder goes quiet, and a
move reported as delete + create is still matched by fingerprint.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import ObservedWatch

from glimpse.core.media import imaging, video

# Wait for this much quiet before rescanning, but never longer than the cap,
# so a folder that changes all the time is still indexed.
QUIET_S = 1.0
MAX_DELAY_S = 10.0


class ChangeQueue:
    """Collects changed paths and hands them over as one batch after a quiet spell."""

    def __init__(self, quiet_s: float = QUIET_S, max_delay_s: float = MAX_DELAY_S) -> None:
        self.quiet_s = quiet_s
        self.max_delay_s = max_delay_s
        self._cond = threading.Condition()
        self._paths: set[str] = set()
        self._first: float | None = None
        self._last = 0.0
        self._closed = False
        self.events_seen = 0

    def put(self, path: str) -> None:
        with self._cond:
            now = time.monotonic()
            self._paths.add(path)
            self.events_seen += 1
            self._first = self._first if self._first is not None else now
            self._last = now
            self._cond.notify_all()

    @property
    def waiting(self) -> bool:
        """Changes have arrived that no batch has taken yet."""
        with self._cond:
            return self._first is not None

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def take(self, timeout: float | None = None) -> set[str] | None:
        """Block until a debounced batch is ready; None when closed (or timed out)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while True:
                if self._closed:
                    return None
                now = time.monotonic()
                if self._first is not None:
                    ready_at = min(self._last + self.quiet_s, self._first + self.max_delay_s)
                    if now >= ready_at:
                        batch, self._paths, self._first = self._paths, set(), None
                        return batch
                    wait = ready_at - now
                else:
                    wait = None
                if deadline is not None:
                    if now >= deadline:
                        return None
                    wait = min(wait, deadline - now) if wait is not None else deadline - now
                self._cond.wait(wait)


class _Handler(FileSystemEventHandler):
    def __init__(self, queue: ChangeQueue) -> None:
        self.queue = queue

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write"):
            return  # reads change nothing
        for path in (event.src_path, getattr(event, "dest_path", "")):
            path = path.decode() if isinstance(path, bytes) else path
            if path and (event.is_directory or imaging.is_supported(path) or video.is_video(path)):
                self.queue.put(path)


class FolderWatcher:
    """Watches folders and calls `on_change(paths)` from its own thread after each burst."""

    def __init__(
        self,
        folders: Iterable[str],
        on_change: Callable[[set[str]], None],
        quiet_s: float = QUIET_S,
        max_delay_s: float = MAX_DELAY_S,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        self.queue = ChangeQueue(quiet_s, max_delay_s)
        self._on_change = on_change
        self._on_error = on_error
        self._observer = Observer()
        self._watches: dict[str, ObservedWatch] = {}
        self._worker = threading.Thread(target=self._run, name="glimpse-watch", daemon=True)
        for folder in folders:
            self.add(folder)

    def add(self, folder: str) -> None:
        if folder not in self._watches and Path(folder).is_dir():
            self._watches[folder] = self._observer.schedule(
                _Handler(self.queue), folder, recursive=True
            )

    def remove(self, folder: str) -> None:
        watch = self._watches.pop(folder, None)
        if watch is not None:
            self._observer.unschedule(watch)

    def start(self) -> None:
        self._observer.start()
        self._worker.start()

    def stop(self) -> None:
        self.queue.close()
        self._observer.stop()
        self._observer.join(timeout=5)
        if self._worker.is_alive():
            self._worker.join(timeout=30)

    def _run(self) -> None:
        while True:
            batch = self.queue.take()
            if batch is None:
                return
            try:
                self._on_change(batch)
            except Exception as exc:  # keep watching whatever one rescan did
                if self._on_error is not None:
                    self._on_error(exc)
