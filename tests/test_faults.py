"""Fault injection: kill -9 while indexing (at random and at named points), and a
storm of file changes under `glimpse watch`. Real processes, real files.

The default run is small (3 random kills, one per pause point, a storm of 80
files); `-m faults_long` (or scripts/fault_injection.py) runs them at full
size: 50 kills, 2,000 files created, 500 renamed, 500 deleted.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
from dataclasses import asdict
from pathlib import Path

import pytest

from conftest import make_photo
from fault_harness import (
    catalog_at_schema_1,
    check_library,
    glimpse,
    kill_trial,
    mutate,
    timed_full_run,
    watch_storm,
)

REPORT_ENV = "GLIMPSE_FAULT_REPORT"  # where scripts/fault_injection.py collects figures


def _report(name: str, data: object) -> None:
    path = os.environ.get(REPORT_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"test": name, "data": data}) + "\n")


def _kill_trials(tmp_path: Path, trials: int, seed: int) -> list:  # type: ignore[no-untyped-def]
    rng = random.Random(seed)
    folder, lib = tmp_path / "photos", tmp_path / "lib"
    for i in range(24):
        make_photo(folder / f"p{i:03d}.jpg", seed=i, size=(320, 240))
    window = timed_full_run(lib, folder)
    assert check_library(lib, folder, search=False) == []
    results = []
    for trial in range(trials):
        mutate(folder, rng, seed_base=1000 * (trial + 1), new=24)  # as much work as the timed run
        result = kill_trial(lib, folder, rng, window_s=max(window, 1.0))
        results.append(result)
        assert result.recovered, (result.how, result.problems)
    return results


@pytest.mark.slow
def test_kill9_at_random_moments_then_rerun_recovers(tmp_path: Path) -> None:
    results = _kill_trials(tmp_path, trials=3, seed=11)
    _report("kill9-random-short", [asdict(r) for r in results])


@pytest.mark.faults_long
def test_kill9_at_random_moments_long(tmp_path: Path) -> None:
    trials = int(os.environ.get("GLIMPSE_FAULT_TRIALS", "50"))
    results = _kill_trials(tmp_path, trials=trials, seed=int(os.environ.get("GLIMPSE_FAULT_SEED", "1")))
    _report("kill9-random", [asdict(r) for r in results])


@pytest.mark.slow
@pytest.mark.parametrize("point", ["commit", "migration", "pass:ocr", "pass:faces"])
def test_kill9_at_a_pause_point_then_rerun_recovers(tmp_path: Path, point: str) -> None:
    """Killed mid migration, mid commit of vectors, or mid commit of a signal
    pass's batch (text, faces: the slow background passes): the re-run finishes
    every stage and `glimpse check` finds nothing wrong or left undone."""
    folder, lib = tmp_path / "photos", tmp_path / "lib"
    for i in range(12):
        make_photo(folder / f"p{i:03d}.jpg", seed=i, size=(160, 120))
    if point == "migration":
        ids = catalog_at_schema_1(lib, folder)
    elif point.startswith("pass:"):  # searchable by meaning; the signals still to read
        assert glimpse("index", str(folder), "--no-ocr", "--no-faces", lib=lib).returncode == 0
    else:
        assert glimpse("index", str(folder), lib=lib).returncode == 0
        mutate(folder, random.Random(point), seed_base=500)
    result = kill_trial(lib, folder, random.Random(0), window_s=0, pause=point)
    _report(f"kill9-{point}", asdict(result))
    assert result.killed, "the pause point was never reached"
    assert result.recovered, result.problems
    if point == "migration":  # the rows written before the migration kept their ids
        with sqlite3.connect(lib / "catalog.sqlite") as db:
            assert dict(db.execute("SELECT path, id FROM photos").fetchall()) == ids


@pytest.mark.slow
def test_watch_storm_settles_and_idles(tmp_path: Path) -> None:
    result = watch_storm(tmp_path, created=60, renamed=20, deleted=20, idle_window_s=3.0,
                         settle_timeout_s=300)
    _report("watch-storm-small", asdict(result))
    assert result.problems == []
    assert result.idle_cpu_s < 0.1 * result.idle_window_s  # an idle watcher does ~nothing


@pytest.mark.faults_long
def test_watch_storm_full_size(tmp_path: Path) -> None:
    result = watch_storm(tmp_path)
    _report("watch-storm", asdict(result))
    assert result.problems == []
    assert result.idle_cpu_s < 0.05 * result.idle_window_s


# -- storage damage, odd files and full disks, through the CLI as a user meets them ---


def _damage_vectors(lib: Path) -> dict[str, str]:
    """One stored vector cut short, one holding NaN, one of another model's width."""
    db = sqlite3.connect(lib / "catalog.sqlite", isolation_level=None)
    try:
        ids = [r[0] for r in db.execute("SELECT photo_id FROM embeddings ORDER BY photo_id LIMIT 3")]
        blob = db.execute("SELECT vector FROM embeddings WHERE photo_id=?", (ids[0],)).fetchone()[0]
        nan = bytearray(blob)
        nan[0:2] = b"\x00\x7e"  # float16 NaN
        for photo_id, bad in zip(ids, (blob[: len(blob) // 2], bytes(nan), blob * 2), strict=True):
            db.execute("UPDATE embeddings SET vector=? WHERE photo_id=?", (bad, photo_id))
        paths = [db.execute("SELECT path FROM photos WHERE id=?", (i,)).fetchone()[0] for i in ids]
        return dict(zip(("short", "nan", "wrong model"), paths, strict=True))
    finally:
        db.close()


@pytest.mark.slow
def test_damaged_vectors_are_left_out_listed_and_encoded_again(tmp_path: Path) -> None:
    folder, lib = tmp_path / "photos", tmp_path / "lib"
    for i in range(10):
        make_photo(folder / f"p{i:03d}.jpg", seed=i, size=(96, 72))
    assert glimpse("index", str(folder), "--no-ocr", "--no-faces", lib=lib).returncode == 0
    damaged = _damage_vectors(lib)
    kinds: list[str] = []
    search = glimpse("search", "a photo", "-k", "20", "--json", lib=lib)
    assert search.returncode == 0, search.stderr
    assert len(json.loads(search.stdout)) == 7 and "Traceback" not in search.stderr
    errors = json.loads(glimpse("errors", "--json", lib=lib).stdout)
    listed = [e for e in errors if e["kind"] == "repaired"]
    kinds += [k for k, path in damaged.items() if any(e["path"] == path for e in listed)]
    rerun = glimpse("index", "--no-ocr", "--no-faces", lib=lib)
    assert rerun.returncode == 0 and "Encoded 3 photos" in rerun.stdout, rerun.stdout
    check = glimpse("check", "--no-repair", lib=lib)
    _report("damage-vectors", {"tried": len(damaged), "handled": len(kinds), "kinds": kinds})
    assert sorted(kinds) == sorted(damaged), (errors, damaged)
    assert check.returncode == 0, check.stdout


@pytest.mark.slow
def test_odd_files_are_listed_with_their_reason(tmp_path: Path) -> None:
    folder, lib = tmp_path / "photos", tmp_path / "lib"
    make_photo(folder / "ok.jpg", seed=1)
    odd = {  # what each is, its name on disk, its name as `glimpse errors` shows it
        "not UTF-8": (os.fsencode(folder) + b"/caf\xe9.jpg", "caf\\xe9.jpg"),
        "fifo": (str(folder / "pipe.jpg"), "pipe.jpg"),
        "device": (str(folder / "zero.jpg"), "zero.jpg"),
        "loop": (str(folder / "loop.jpg"), "loop.jpg"),
        "broken link": (str(folder / "gone.jpg"), "gone.jpg"),
    }
    make_photo(Path(os.fsdecode(odd["not UTF-8"][0])), seed=2)
    os.mkfifo(odd["fifo"][0])
    os.symlink("/dev/zero", odd["device"][0])
    os.symlink(odd["loop"][0], odd["loop"][0])
    os.symlink(str(folder / "nowhere.jpg"), odd["broken link"][0])
    run = glimpse("index", str(folder), "--no-ocr", "--no-faces", lib=lib, timeout=300)
    assert run.returncode == 0, run.stderr
    listed = json.loads(glimpse("errors", "--json", lib=lib).stdout)
    reasons = {e["path"]: e["reason"] for e in listed if e["kind"] == "skipped"}
    found = [k for k, (_, shown) in odd.items() if any(p.endswith("/" + shown) for p in reasons)]
    _report("inputs-odd-files", {"tried": len(odd), "handled": len(found), "kinds": found})
    assert sorted(found) == sorted(odd), reasons


@pytest.mark.slow
@pytest.mark.parametrize("stage", ["own_words", "ocr", "faces"])
def test_full_disk_during_a_signal_pass_is_clear_and_loses_nothing(
    library, tmp_path: Path, stage: str
) -> None:
    folder = tmp_path / "many"
    for i in range(120):
        make_photo(folder / f"photo number {i:03d} of a long summer.jpg", seed=i, size=(48, 36))
    library.add_folder(folder)
    library.index(only={"scan", "encode"})
    db = library.catalog._db
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    # SQLite's own cap makes it answer exactly as a full disk does (SQLITE_FULL).
    db.execute(f"PRAGMA max_page_count={db.execute('PRAGMA page_count').fetchone()[0]}")
    total = next(x for x in library.signal_progress() if x.name == stage).total
    # The pass stops with the disk's message in its report (the pipeline's other
    # stages still run, and the front ends show it); what it committed stays.
    failed = library.index(only={stage}, batch_size=4).passes[stage]
    done_before = next(x for x in library.signal_progress() if x.name == stage).done
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert len(library.catalog.embedding_ids(library.model_key())) == 120  # meaning kept
    db.execute("PRAGMA max_page_count=1073741823")  # space freed
    library.index(only={stage}, batch_size=4)
    after = next(x for x in library.signal_progress() if x.name == stage)
    _report(f"full-disk-{stage}", {"tried": 1, "handled": int(after.done == after.total),
                                   "kinds": [f"{done_before}/{total} kept, then finished"]})
    assert failed.error is not None and "is full" in failed.error
    assert "nothing already indexed was lost" in failed.error
    assert after.done == after.total == 120
