"""The fault-injection harness shared by tests/test_faults.py and scripts/fault_injection.py.

Each helper drives real `glimpse` processes on generated photos with the tiny
model, hurts them (kill -9 at a random moment or at a named pause point, a
storm of file changes under `glimpse watch`) and then checks the library the
way a user would need it: a re-run finishes, the catalog is intact, every
photo is indexed exactly once, the saved HNSW file matches the catalog, and
search answers.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from conftest import TINY_MODEL, make_photo

APP = Path(__file__).resolve().parents[1] / "app"


def cli_env(lib: Path, **extra: str) -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(APP), os.environ.get("PYTHONPATH", "")) if p)
    return {
        **os.environ, "PYTHONPATH": path, "GLIMPSE_MODEL": TINY_MODEL,
        "GLIMPSE_LIBRARY": str(lib), "PYTHONUNBUFFERED": "1", **extra,
    }


def glimpse(*args: str, lib: Path, timeout: float = 600, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "glimpse", *args], env=cli_env(lib, **extra),
        capture_output=True, text=True, timeout=timeout,
    )


# -- checking a library ---------------------------------------------------------------


def photo_files(folder: Path) -> set[str]:
    return {str(p) for p in folder.rglob("*.jpg") if p.is_file()}


def check_library(lib: Path, folder: Path, search: bool = True, passes: bool = False) -> list[str]:
    """Everything wrong with the library after a recovery run (empty: all good).
    `passes`: every signal must also have read every photo (the run was a full one)."""
    problems: list[str] = []
    db = sqlite3.connect(f"file:{lib / 'catalog.sqlite'}?mode=ro", uri=True)
    try:
        integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
        if integrity != "ok":
            problems.append(f"integrity_check: {integrity}")
        rows = db.execute(
            "SELECT p.path, p.status, (SELECT COUNT(*) FROM embeddings e WHERE e.photo_id = p.id) "
            "FROM photos p WHERE p.status <> 'missing'"
        ).fetchall()
        model_ids = [r[0] for r in db.execute("SELECT model_id FROM models")]
        live_ids = sorted(
            r[0] for r in db.execute(
                "SELECT e.photo_id FROM embeddings e JOIN photos p ON p.id = e.photo_id "
                "WHERE p.status = 'ok'"
            )
        )
    finally:
        db.close()
    on_disk = photo_files(folder)
    in_catalog = [r[0] for r in rows]
    if sorted(in_catalog) != sorted(on_disk):
        problems.append(
            f"catalog != disk: {len(set(in_catalog) - on_disk)} extra, "
            f"{len(on_disk - set(in_catalog))} absent, {len(in_catalog) - len(set(in_catalog))} twice"
        )
    bad = [r for r in rows if r[1] != "ok" or r[2] != 1]
    if bad:
        problems.append(f"{len(bad)} photos not indexed exactly once, e.g. {bad[0]}")
    if len(model_ids) != 1:
        problems.append(f"models in catalog: {model_ids}")
    else:
        problems += _check_index_file(lib, model_ids[0], live_ids)
    if not problems:
        problems += _glimpse_check(lib, passes)
    if search and not problems:
        from glimpse.core.library import Library

        with Library(lib, model=TINY_MODEL) as library:
            hits = library.search("a photo", k=5)
        if len(hits) != min(5, len(on_disk)) or not {h.path for h in hits} <= on_disk:
            problems.append(f"search gave {len(hits)} hits")
    return problems


def _glimpse_check(lib: Path, passes: bool) -> list[str]:
    """What `glimpse check --no-repair` finds: damage, and (with `passes`) work left undone."""
    from glimpse.core.library import Library

    with Library(lib, model=TINY_MODEL) as library:
        report = library.check(repair=False)
    return [f"glimpse check: {f.message}" for f in report.findings
            if f.open or (passes and f.needs_index)]


def _check_index_file(lib: Path, model_id: str, live_ids: list[int]) -> list[str]:
    """The in-memory index a reopened library builds holds exactly the catalog's live vectors."""
    from glimpse.core.library import Library

    with Library(lib, model=TINY_MODEL) as library:
        if library.spec.model_id != model_id:
            return [f"catalog model {model_id}, expected {library.spec.model_id}"]
        held = sorted(library.index_for().ids)
    if held != live_ids:
        return [f"index holds {len(held)} ids, catalog {len(live_ids)}"]
    return []


# -- kill -9 trials --------------------------------------------------------------------


@dataclass
class TrialResult:
    how: str  # "random Xs after model ready" or "pause:<point>"
    killed: bool  # False when the run finished before the kill came
    recovered: bool
    phase: str = ""  # what the run was doing when killed ("Encoding", "Reading text in")
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0


def mutate(folder: Path, rng: random.Random, seed_base: int, new: int = 8) -> None:
    """What a day does to a photo folder: new photos, a deletion, a rename, an edit."""
    files = sorted(folder.rglob("*.jpg"))
    for i in range(new):
        make_photo(folder / f"new{seed_base + i:05d}.jpg", seed=seed_base + i, size=(320, 240))
    if len(files) > 4:
        victim, renamed, edited = rng.sample(files, 3)
        victim.unlink()
        renamed.rename(renamed.with_name("r" + renamed.name))
        make_photo(edited, seed=seed_base + 5000, size=(320, 240))


class _Lines:
    """Collects a process's stderr lines in a thread; wait_for(text) blocks until one appears."""

    def __init__(self, stream) -> None:  # type: ignore[no-untyped-def]
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:  # type: ignore[no-untyped-def]
        for line in stream:
            with self._cond:
                self.lines.append(line)
                self._cond.notify_all()
        with self._cond:
            self.lines.append("")  # EOF marker
            self._cond.notify_all()

    def last_phase(self) -> str:
        """The stage named by the last progress line ("Reading text in 4/24 ..." ->
        "Reading text in"), "starting" before the first one."""
        with self._cond:
            for line in reversed(self.lines):
                words = re.match(r"([A-Za-z][A-Za-z +,]*?) \d+/\d+ ", line)
                if words:
                    return words.group(1)
        return "starting"

    def wait_for(self, text: str, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(
                lambda: any(text in line for line in self.lines) or "" in self.lines, timeout
            ) and any(text in line for line in self.lines)


def wait_until(condition, timeout: float, interval: float = 0.05) -> bool:  # type: ignore[no-untyped-def]
    """Poll a condition (a file appearing, the catalog settling) until it holds or time runs out."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
    return True


def kill_trial(
    lib: Path, folder: Path, rng: random.Random, window_s: float, pause: str | None = None
) -> TrialResult:
    """Start `glimpse index`, kill -9 it (after a random delay within `window_s` of
    the model being ready, or at a pause point), then re-run and check."""
    start = time.monotonic()
    mark = lib.parent / f"fault-mark-{os.getpid()}-{rng.random():.6f}"
    extra = {"GLIMPSE_FAULT_PAUSE": pause, "GLIMPSE_FAULT_MARK": str(mark)} if pause else {}
    proc = subprocess.Popen(
        [sys.executable, "-m", "glimpse", "index", "--batch-size", "4"],
        env=cli_env(lib, **extra), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    lines = _Lines(proc.stderr)
    try:
        if pause:
            how = f"pause:{pause}"
            wait_until(lambda: mark.exists() or proc.poll() is not None, 300)
        else:
            delay = rng.uniform(0, 0.8 * window_s)  # most runs finish sooner than the timed one
            how = f"random {delay:.2f}s after model ready"
            lines.wait_for("Model ready", 300)
            try:
                proc.wait(timeout=delay)
            except subprocess.TimeoutExpired:
                pass
        killed = proc.poll() is None
        if killed:
            proc.send_signal(signal.SIGKILL)
        proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
        mark.unlink(missing_ok=True)
    phase = lines.last_phase() if killed else ""
    rerun = glimpse("index", "--batch-size", "8", lib=lib)
    problems = [] if rerun.returncode == 0 else [f"re-run failed: {rerun.stderr[-500:]}"]
    if not problems:
        problems = check_library(lib, folder, passes=True)
    return TrialResult(how, killed, not problems, phase, problems, time.monotonic() - start)


def timed_full_run(lib: Path, folder: Path) -> float:
    """Seconds from 'Model ready' to the end of a complete index run (the kill window)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "glimpse", "index", str(folder), "--batch-size", "4"],
        env=cli_env(lib), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    lines = _Lines(proc.stderr)
    lines.wait_for("Model ready", 300)
    t = time.monotonic()
    proc.wait(600)
    return time.monotonic() - t


def catalog_at_schema_1(lib: Path, folder: Path) -> dict[str, int]:
    """A library as the first Glimpse release left it (schema 1, built from the
    first migration alone, so this stays right whatever migrations follow):
    the folder and its photos known, not yet encoded. Returns {path: photo id}."""
    from glimpse.core.storage.catalog import _MIGRATIONS

    lib.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(lib / "catalog.sqlite", isolation_level=None)
    db.executescript(_MIGRATIONS[0])
    db.execute("PRAGMA user_version=1")
    db.execute("INSERT INTO folders(path, added_at) VALUES (?, 0)", (str(folder),))
    for path in sorted(photo_files(folder)):
        db.execute(
            "INSERT INTO photos(path, folder_id, size, mtime_ns, status, updated_at) "
            "VALUES (?, 1, 0, 0, 'pending', 0)",
            (path,),
        )
    ids = dict(db.execute("SELECT path, id FROM photos").fetchall())
    db.close()
    return ids


# -- the watch storm -------------------------------------------------------------------


@dataclass
class StormResult:
    created: int
    renamed: int
    deleted: int
    settle_s: float
    idle_cpu_s: float  # CPU seconds the watcher used while idle
    idle_window_s: float
    problems: list[str]


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu_quiet(pid: int) -> bool:
    before = _cpu_seconds(pid)
    time.sleep(1.0)
    return _cpu_seconds(pid) - before < 0.02


def catalog_matches_disk(lib: Path, folder: Path) -> bool:
    try:
        db = sqlite3.connect(f"file:{lib / 'catalog.sqlite'}?mode=ro", uri=True, timeout=5)
        try:
            rows = db.execute(
                "SELECT p.path FROM photos p WHERE p.status='ok' AND EXISTS "
                "(SELECT 1 FROM embeddings e WHERE e.photo_id=p.id)"
            ).fetchall()
            other = db.execute(
                "SELECT COUNT(*) FROM photos WHERE status IN ('pending', 'error')"
            ).fetchone()[0]
        finally:
            db.close()
    except sqlite3.Error:
        return False
    return other == 0 and sorted(r[0] for r in rows) == sorted(photo_files(folder))


def watch_storm(
    tmp: Path, created: int = 2000, renamed: int = 500, deleted: int = 500,
    idle_window_s: float = 10.0, settle_timeout_s: float = 1800,
) -> StormResult:
    """Start `glimpse watch` on a folder, create `created` photos, rename a folder
    of `renamed`, delete `deleted`, and time how long until the catalog equals
    the disk; then measure the watcher's CPU use while nothing happens."""
    folder, lib = tmp / "storm", tmp / "storm-lib"
    base = folder / "base"
    for i in range(renamed + deleted):
        make_photo(base / f"b{i:05d}.jpg", seed=10_000 + i, size=(64, 48))
    proc = subprocess.Popen(
        [sys.executable, "-m", "glimpse", "watch", str(folder)], env=cli_env(lib),
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    problems: list[str] = []
    try:
        out = _Lines(proc.stdout)
        if not out.wait_for("Watching", 600):
            return StormResult(created, renamed, deleted, -1, -1, 0, ["watch never started"])
        t0 = time.monotonic()
        (base / "keep").mkdir()
        for i in range(renamed):
            (base / f"b{i:05d}.jpg").rename(base / "keep" / f"b{i:05d}.jpg")
        for i in range(created):
            make_photo(folder / "new" / f"n{i:05d}.jpg", seed=i, size=(64, 48))
        os.rename(base / "keep", folder / "renamed-album")  # a folder of `renamed` photos
        for i in range(renamed, renamed + deleted):
            (base / f"b{i:05d}.jpg").unlink()
        settled = wait_until(
            lambda: proc.poll() is not None or catalog_matches_disk(lib, folder),
            settle_timeout_s, interval=0.25,
        ) and proc.poll() is None
        settle = time.monotonic() - t0  # from the first change, not the last
        if not settled:
            problems.append("catalog never matched the disk")
        # Idle: the last rescan may still be closing (the watcher saves its index
        # after the catalog settled), so wait until its CPU stops moving, then measure.
        wait_until(lambda: _cpu_quiet(proc.pid), 60, interval=0.0)
        cpu0, w0 = _cpu_seconds(proc.pid), time.monotonic()
        time.sleep(idle_window_s)  # a measurement window, not a synchronisation
        idle_cpu, window = _cpu_seconds(proc.pid) - cpu0, time.monotonic() - w0
        if not catalog_matches_disk(lib, folder):
            problems.append("catalog drifted from the disk while idle")
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
    shutil.rmtree(folder, ignore_errors=True)
    return StormResult(created, renamed, deleted, settle, idle_cpu, window, problems)
