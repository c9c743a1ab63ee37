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
@pytest.mark.parametrize("point", ["commit", "migration"])
def test_kill9_at_a_pause_point_then_rerun_recovers(tmp_path: Path, point: str) -> None:
    folder, lib = tmp_path / "photos", tmp_path / "lib"
    for i in range(12):
        make_photo(folder / f"p{i:03d}.jpg", seed=i, size=(160, 120))
    if point == "migration":
        ids = catalog_at_schema_1(lib, folder)
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
