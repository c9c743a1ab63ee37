"""The CLI end to end, in subprocesses: index/search/similar/status, crash and Ctrl-C safety."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import TINY_MODEL, make_photo


def run_cli(*args: str, lib: Path, check: bool = True, **kw) -> subprocess.CompletedProcess:  # type: ignore[no-untyped-def]
    env = {**os.environ, "GLIMPSE_MODEL": TINY_MODEL, "GLIMPSE_LIBRARY": str(lib)}
    proc = subprocess.run(
        [sys.executable, "-m", "glimpse", *args], env=env, capture_output=True, text=True,
        timeout=300, **kw,
    )
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_index_search_similar_status(tmp_path: Path, photo_dir: Path) -> None:
    lib = tmp_path / "lib"
    out = run_cli("index", str(photo_dir), lib=lib)
    assert "8 new" in out.stdout and "Encoded 8 photos" in out.stdout
    assert "RANDOM weights" in out.stderr
    again = run_cli("index", lib=lib)
    assert "Encoded 0 photos" in again.stdout and "8 unchanged" in again.stdout

    hits = json.loads(run_cli("search", "a dog", "-k", "3", "--json", lib=lib).stdout)
    assert len(hits) == 3 and {"path", "score", "taken_at"} <= set(hits[0])
    filtered = json.loads(
        run_cli("search", "a dog", "--folder", str(photo_dir / "trip"), "--json", lib=lib).stdout
    )
    assert {Path(h["path"]).name for h in filtered} == {"img_06.jpg", "img_07.jpg"}
    similar = run_cli("similar", str(photo_dir / "img_03.jpg"), "-k", "2", lib=lib).stdout
    assert similar.splitlines()[0].split()[-1] == str(photo_dir / "img_03.jpg")
    status = json.loads(run_cli("status", "--json", lib=lib).stdout)
    assert status["counts"]["ok"] == 8 and status["folders"][0]["indexed"] == 8


def test_user_errors_are_one_line_without_traceback(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    proc = run_cli("index", str(tmp_path / "nope"), lib=lib, check=False)
    assert proc.returncode == 2
    assert "is not a folder" in proc.stderr and "Traceback" not in proc.stderr
    proc = run_cli("search", '"a" "b"', lib=lib, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    proc = run_cli("search", "x", "--after", "June", lib=lib, check=False)
    assert proc.returncode == 2 and "not a date" in proc.stderr


# A wrapper that runs the real CLI but sabotages it at the N-th encoded batch:
# SIGKILL (a crash: no cleanup at all) or SIGINT (the user's Ctrl-C).
_SABOTEUR = textwrap.dedent(
    """
    import os, signal, sys
    from glimpse.core.encoding import encoder as models
    calls = {"n": 0}
    real = models.Encoder.encode_images
    def encode_images(self, batch):
        calls["n"] += 1
        if calls["n"] == int(os.environ["SABOTAGE_AT"]):
            os.kill(os.getpid(), getattr(signal, os.environ["SABOTAGE_SIGNAL"]))
        return real(self, batch)
    models.Encoder.encode_images = encode_images
    from glimpse.cli import main
    sys.exit(main(sys.argv[1:]))
    """
)


def _run_sabotaged(tmp_path: Path, folder: Path, lib: Path, signal_name: str) -> subprocess.CompletedProcess:
    script = tmp_path / "saboteur.py"
    script.write_text(_SABOTEUR)
    env = {
        **os.environ, "GLIMPSE_MODEL": TINY_MODEL, "GLIMPSE_LIBRARY": str(lib),
        "SABOTAGE_AT": "3", "SABOTAGE_SIGNAL": signal_name,
    }
    return subprocess.run(
        [sys.executable, str(script), "index", str(folder), "--batch-size", "4"],
        env=env, capture_output=True, text=True, timeout=300,
    )


def _catalog_state(lib: Path) -> tuple[str, int, int]:
    with sqlite3.connect(lib / "catalog.sqlite") as db:
        integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
        encoded = db.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0]
        photos = db.execute("SELECT COUNT(*) FROM photos").fetchone()[0]
    return integrity, encoded, photos


@pytest.mark.slow
def test_crash_mid_index_loses_at_most_the_batch_in_flight(tmp_path: Path) -> None:
    folder = tmp_path / "many"
    for i in range(24):
        make_photo(folder / f"p{i:02d}.jpg", seed=i)
    lib = tmp_path / "lib"
    proc = _run_sabotaged(tmp_path, folder, lib, "SIGKILL")
    assert proc.returncode == -9
    integrity, encoded, photos = _catalog_state(lib)
    # Two batches of 4 were committed before the kill during the third.
    assert (integrity, encoded, photos) == ("ok", 8, 24)

    rerun = run_cli("index", lib=lib)
    assert "Encoded 16 photos" in rerun.stdout
    assert _catalog_state(lib) == ("ok", 24, 24)
    # The index file, saved only at the end of the rerun, agrees with the catalog.
    hits = json.loads(run_cli("search", "x", "-k", "50", "--json", lib=lib).stdout)
    assert len(hits) == 24 and len({h["path"] for h in hits}) == 24


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_and_rerun_continues(tmp_path: Path) -> None:
    folder = tmp_path / "many"
    for i in range(24):
        make_photo(folder / f"p{i:02d}.jpg", seed=i)
    lib = tmp_path / "lib"
    proc = _run_sabotaged(tmp_path, folder, lib, "SIGINT")
    assert proc.returncode == 130, proc.stderr
    assert "Stopping after the current batch" in proc.stderr
    assert "run the same command again" in proc.stdout
    # The batch in flight when Ctrl-C came was finished and committed.
    assert _catalog_state(lib) == ("ok", 12, 24)
    rerun = run_cli("index", lib=lib)
    assert "Encoded 12 photos" in rerun.stdout


@pytest.mark.slow
def test_watch_command_indexes_a_new_file_and_stops_on_ctrl_c(tmp_path: Path, photo_dir: Path) -> None:
    import signal
    import time

    lib = tmp_path / "lib"
    env = {**os.environ, "GLIMPSE_MODEL": TINY_MODEL, "GLIMPSE_LIBRARY": str(lib), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "glimpse", "watch", str(photo_dir)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    lines: list[str] = []

    def wait_for(text: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = proc.stdout.readline()  # type: ignore[union-attr]
            if not line:
                break
            lines.append(line)
            if text in line:
                return
        raise AssertionError(f"never saw {text!r}; output:\n{''.join(lines)}")

    try:
        wait_for("Watching 1 folder")
        make_photo(photo_dir / "arrived.jpg", seed=123)
        wait_for("1 new")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    hits = json.loads(run_cli("similar", str(photo_dir / "arrived.jpg"), "-k", "1", "--json", lib=lib).stdout)
    assert hits[0]["path"] == str(photo_dir / "arrived.jpg")


def test_status_without_model_names_the_model_the_library_was_indexed_with(
    tmp_path: Path, photo_dir: Path
) -> None:
    lib = tmp_path / "lib"
    run_cli("index", str(photo_dir), "--no-ocr", "--no-faces", lib=lib)
    env = {k: v for k, v in os.environ.items() if k != "GLIMPSE_MODEL"}
    out = subprocess.run([sys.executable, "-m", "glimpse", "status", "--library", str(lib)],
                         env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert f"Model:   {TINY_MODEL}  (8 photos encoded with it)" in out.stdout
    # A library that holds no vectors yet still shows the default model.
    empty = subprocess.run([sys.executable, "-m", "glimpse", "status", "--library",
                            str(tmp_path / "new")], env=env, capture_output=True, text=True, timeout=300)
    assert "(0 photos encoded with it)" in empty.stdout and TINY_MODEL not in empty.stdout


@pytest.mark.skipif(sys.platform == "win32", reason="FIFOs, symlinks and byte names are POSIX")
def test_errors_lists_the_files_that_look_like_photos_but_are_skipped(tmp_path: Path, photo_dir: Path) -> None:
    os.mkfifo(photo_dir / "pipe.jpg")
    os.symlink("loop.jpg", photo_dir / "loop.jpg")
    os.symlink("/dev/zero", photo_dir / "zero.jpg")
    os.symlink(photo_dir / "nowhere.jpg", photo_dir / "gone.jpg")
    shutil.copy(next(photo_dir.glob("*.jpg")), os.path.join(os.fsencode(photo_dir), b"caf\xe9.jpg"))
    lib = tmp_path / "lib"
    out = run_cli("index", str(photo_dir), "--no-ocr", "--no-faces", lib=lib).stdout
    assert "8 new" in out  # the eight real photos, and nothing hangs on the FIFO
    assert "5 files that look like photos were skipped" in out
    errors = run_cli("errors", lib=lib).stdout.splitlines()
    reasons = {line.split(": ", 1)[0].rsplit("/", 1)[1]: line.split(": ", 1)[1] for line in errors}
    assert reasons["pipe.jpg"].startswith("skipped: not a regular file")
    assert reasons["zero.jpg"].startswith("skipped: not a regular file")
    assert reasons["loop.jpg"] == "skipped: symlink loop"
    assert reasons["gone.jpg"].startswith("skipped: broken symlink")
    assert reasons["caf\\xe9.jpg"].startswith("skipped: the name is not valid UTF-8")
    listed = json.loads(run_cli("errors", "--json", lib=lib).stdout)
    assert len(listed) == 5 and {e["kind"] for e in listed} == {"skipped"}
