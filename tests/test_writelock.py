"""Two processes on one library: one writer at a time, a clear refusal for the
second, searches unaffected, never a raw "database is locked"."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from conftest import TINY_MODEL
from glimpse.core.errors import CatalogError
from glimpse.core.storage.catalog import Catalog
from glimpse.core.storage.writelock import LibraryBusyError, WriterLock


def _env(lib: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "GLIMPSE_MODEL": TINY_MODEL, "GLIMPSE_LIBRARY": str(lib), **extra}


def test_lock_is_shared_within_a_process_and_exclusive_between(tmp_path: Path) -> None:
    mine = WriterLock(tmp_path, label="glimpse watch /photos")
    other = WriterLock(tmp_path)  # another open file: behaves as another process would
    entered: list[bool] = []

    def job() -> None:
        with mine.hold(wait_s=0):
            entered.append(True)

    with mine.hold(), mine.hold():  # nested jobs re-enter
        worker = threading.Thread(target=job)
        worker.start()
        worker.join(5)
        assert entered == [True]  # another thread of the same process is not blocked
        with pytest.raises(LibraryBusyError, match=r"pid \d+: glimpse watch /photos"):
            with other.hold(wait_s=0.2):
                pass
    assert not mine.held
    with other.hold(wait_s=0):
        assert (tmp_path / "writer.lock").read_text().startswith(f"pid {os.getpid()}")


def test_second_writer_waits_for_the_first(tmp_path: Path) -> None:
    first, second = WriterLock(tmp_path), WriterLock(tmp_path)
    got = threading.Event()

    def wait_then_write() -> None:
        with second.hold(wait_s=10):
            got.set()

    with first.hold():
        worker = threading.Thread(target=wait_then_write)
        worker.start()
        assert not got.wait(0.3)  # blocked while the first holds it
    assert got.wait(10)
    worker.join()


def test_locked_database_is_a_clear_error_not_a_traceback(tmp_path: Path) -> None:
    cat = Catalog(tmp_path / "catalog.sqlite")
    cat._db.execute("PRAGMA busy_timeout=100")
    other = sqlite3.connect(tmp_path / "catalog.sqlite", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # a foreign writer holding the database
    try:
        with pytest.raises(CatalogError, match="Another program is writing to the catalog"):
            cat.add_folder("/photos")
        assert cat.folders() == []  # reads still work (WAL)
    finally:
        other.execute("ROLLBACK")
        other.close()
        cat.close()


@pytest.mark.slow
def test_watch_holds_the_library_and_index_is_refused_with_its_name(
    tmp_path: Path, photo_dir: Path
) -> None:
    lib = tmp_path / "lib"
    env = _env(lib)
    cmd = [sys.executable, "-m", "glimpse"]
    watch = subprocess.Popen(
        [*cmd, "watch", str(photo_dir)], env=env, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, text=True,
    )
    try:
        assert watch.stdout is not None
        for line in watch.stdout:
            if line.startswith("Watching"):
                break
        else:
            pytest.fail("glimpse watch did not start")
        busy = subprocess.run(
            [*cmd, "index"], env=_env(lib, GLIMPSE_LOCK_WAIT_S="0.5"),
            capture_output=True, text=True, timeout=300,
        )
        assert busy.returncode == 2
        assert "being updated by another process" in busy.stderr
        assert f"pid {watch.pid}: glimpse watch {photo_dir}" in busy.stderr
        assert "Traceback" not in busy.stderr
        second_watch = subprocess.run(
            [*cmd, "watch"], env=_env(lib, GLIMPSE_LOCK_WAIT_S="0"),
            capture_output=True, text=True, timeout=300,
        )
        assert second_watch.returncode == 2 and f"pid {watch.pid}" in second_watch.stderr
        search = subprocess.run(
            [*cmd, "search", "a dog", "-k", "3"], env=env, capture_output=True, text=True,
            timeout=300,
        )
        assert search.returncode == 0 and search.stdout.count(str(photo_dir)) == 3
    finally:
        watch.send_signal(signal.SIGINT)
        watch.wait(60)
    after = subprocess.run([*cmd, "index"], env=env, capture_output=True, text=True, timeout=300)
    assert after.returncode == 0 and "8 unchanged" in after.stdout
