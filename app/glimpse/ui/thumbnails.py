"""Thumbnails decoded off the GUI thread, cached in memory and on disk.

Decoding a 24-megapixel JPEG takes tens of milliseconds, so the grid asks for
a thumbnail and paints a placeholder until `ready` arrives. The disk cache is
keyed by content fingerprint and size, so a renamed photo keeps its thumbnail
and an edited one gets a new one. Workers produce QImage (thread-safe); only
the GUI thread turns them into QPixmap.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections import OrderedDict
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage, QPixmap

from glimpse.core.media import imaging, video
from glimpse.ui.workers import Worker, WorkerPool

log = logging.getLogger(__name__)

MEMORY_ITEMS = 1500


def default_cache_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_cache_dir("Glimpse", appauthor=False)) / "thumbnails"


def thumb_key(path: str, fingerprint: str | None, size: int) -> str:
    """Fingerprint when the catalog knows it; otherwise path + mtime stand in."""
    if not fingerprint:
        try:
            st = os.stat(path)
            basis = f"{path}|{st.st_size}|{st.st_mtime_ns}"
        except OSError:
            basis = path
        fingerprint = "p" + hashlib.blake2b(basis.encode(), digest_size=16).hexdigest()
    return f"{fingerprint}-{size}"


def _pil_to_qimage(image: object) -> QImage:
    rgb = image.convert("RGB")  # type: ignore[attr-defined]
    data = rgb.tobytes("raw", "RGB")
    qimage = QImage(data, rgb.width, rgb.height, rgb.width * 3, QImage.Format.Format_RGB888)
    return qimage.copy()  # detach from the Python bytes before they are freed


class ThumbnailCache(QObject):
    """`request(...)` returns a pixmap now if cached, else None and emits `ready` later."""

    ready = Signal(str)  # key
    failed = Signal(str, str)  # key, reason

    def __init__(
        self, cache_dir: Path | None = None, threads: int = 2, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.cache_dir = cache_dir or default_cache_dir()
        self.workers = WorkerPool(threads, "thumbnails", self)
        self._memory: OrderedDict[str, QPixmap] = OrderedDict()
        self._pending: set[str] = set()
        self._failed: set[str] = set()

    def disk_path(self, key: str) -> Path:
        return self.cache_dir / key[:2] / f"{key}.jpg"

    def get(self, key: str) -> QPixmap | None:
        pixmap = self._memory.get(key)
        if pixmap is not None:
            self._memory.move_to_end(key)
        return pixmap

    def request(
        self, path: str, fingerprint: str | None, size: int, use_disk: bool = True,
        t_seconds: float | None = None,
    ) -> tuple[str, QPixmap | None]:
        """`t_seconds`: for a video, the moment to show (its best-matching keyframe)."""
        key = thumb_key(path, fingerprint, size)
        if t_seconds is not None:
            key += f"-t{t_seconds:g}"
        pixmap = self.get(key)
        if pixmap is not None or key in self._pending or key in self._failed:
            return key, pixmap
        self._pending.add(key)
        disk = self.disk_path(key) if use_disk else None
        worker = Worker(
            lambda token, progress: _load(key, path, size, disk, t_seconds), name="thumb"
        )
        worker.signals.finished.connect(self._on_loaded)
        worker.signals.failed.connect(self._on_failed)
        self.workers.start(worker)
        return key, None

    def forget_pending(self) -> None:
        """Drop queued decodes for photos no longer shown (a new search came in)."""
        self.workers.clear_queued()
        self._pending.clear()

    def _on_loaded(self, result: tuple[str, QImage]) -> None:
        key, image = result
        self._pending.discard(key)
        self._memory[key] = QPixmap.fromImage(image)
        while len(self._memory) > MEMORY_ITEMS:
            self._memory.popitem(last=False)
        self.ready.emit(key)

    def _on_failed(self, exc: BaseException) -> None:
        key = getattr(exc, "thumb_key", "")
        self._pending.discard(key)
        self._failed.add(key)
        self.failed.emit(key, str(exc.__cause__ or exc))

    def shutdown(self, timeout_ms: int = 10_000) -> bool:
        return self.workers.shutdown(timeout_ms)


class ThumbnailError(Exception):
    def __init__(self, key: str, reason: str) -> None:
        super().__init__(reason)
        self.thumb_key = key


def _load(
    key: str, path: str, size: int, disk: Path | None, t_seconds: float | None = None
) -> tuple[str, QImage]:
    """Runs on a pool thread: disk cache hit, or decode + store."""
    if disk is not None and disk.is_file():
        image = QImage(str(disk))
        if not image.isNull():
            return key, image
    try:
        if video.is_video(path):
            thumb = video.thumbnail_frame(path, t_seconds or 0.0, size)
        else:
            thumb = imaging.make_thumbnail(path, size)
    except Exception as exc:
        raise ThumbnailError(key, str(exc)) from exc
    image = _pil_to_qimage(thumb)
    if disk is not None:
        _store(thumb, disk)
    return key, image


def _store(thumb: object, disk: Path) -> None:
    """Atomic write, so a crash never leaves half a JPEG that later reads as valid."""
    try:
        disk.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".thumb-", suffix=".jpg", dir=disk.parent)
        with os.fdopen(fd, "wb") as fh:
            thumb.save(fh, "JPEG", quality=85)  # type: ignore[attr-defined]
        os.replace(tmp, disk)
    except OSError as exc:  # a full or read-only cache must not stop the app
        log.debug("cannot cache thumbnail %s: %s", disk, exc)
