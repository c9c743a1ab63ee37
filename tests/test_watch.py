"""Watching: debounced batches, bursts coalesced, new files indexed."""

from __future__ import annotations

import threading
from pathlib import Path

from conftest import make_photo
from glimpse.core.indexing.watch import ChangeQueue, FolderWatcher


def test_change_queue_coalesces_a_burst() -> None:
    q = ChangeQueue(quiet_s=0.2, max_delay_s=5)
    for i in range(5000):
        q.put(f"/photos/{i % 1000}.jpg")
    batch = q.take(timeout=5)
    assert batch is not None and len(batch) == 1000
    assert q.take(timeout=0.3) is None  # nothing further pending
    q.close()
    assert q.take() is None


def test_watcher_sees_new_file_once_burst_settles(tmp_path: Path) -> None:
    folder = tmp_path / "w"
    folder.mkdir()
    batches: list[set[str]] = []
    got = threading.Event()

    def on_change(paths: set[str]) -> None:
        batches.append(paths)
        got.set()

    watcher = FolderWatcher([str(folder)], on_change, quiet_s=0.3)
    watcher.start()
    try:
        for i in range(200):
            make_photo(folder / f"p{i}.jpg", seed=i, size=(16, 16))
        (folder / "notes.txt").write_text("ignored: not a photo")
        assert got.wait(20)
    finally:
        watcher.stop()
    seen = set().union(*batches)
    assert str(folder / "p0.jpg") in seen and str(folder / "notes.txt") not in seen
    assert len(batches) <= 3  # 200 files (600+ events) become very few rescans


def test_watch_keeps_library_live(library, photo_dir: Path) -> None:
    library.add_folder(photo_dir)
    library.index()
    indexed = threading.Event()

    def reindex(_paths: set[str]) -> None:
        library.index()
        if library.catalog.photo_by_path(str(photo_dir / "late.jpg")):
            indexed.set()

    watcher = FolderWatcher(library.folder_paths(), reindex, quiet_s=0.2)
    watcher.start()
    try:
        make_photo(photo_dir / "late.jpg", seed=77)
        assert indexed.wait(20)
    finally:
        watcher.stop()
    assert library.similar(photo_dir / "late.jpg", k=1)[0].path == str(photo_dir / "late.jpg")
