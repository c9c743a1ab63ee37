"""Run the fault-injection suite at full size and print the figures for README "Reliability".

    PYTHONPATH=app python scripts/fault_injection.py [--trials 50] [--seed 1]

Runs tests/test_faults.py with -m faults_long (50 random kill -9 trials on one
library with every pass on, a watch storm of 2,000 created / 500 renamed / 500
deleted files), the deterministic pause-point kills (migration, vector commit,
text and face pass commits), damaged vectors, odd files, a full disk during
each signal pass, and tests/test_bad_inputs.py, collecting
what each test measured; then prints trials run / killed / recovered, inputs
tried / handled (by phase for the kills), the storm's settle time and the
watcher's idle CPU. After every kill the re-run must finish every stage and
`glimpse check` must find nothing damaged or left undone.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=50, help="random kill -9 trials (default 50)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="only the default-size tests")
    parser.add_argument("--skip-storm", action="store_true",
                        help="leave out the full-size watch storm (2,000 files; many minutes)")
    args = parser.parse_args()
    report = Path(tempfile.mkdtemp(prefix="glimpse-faults-")) / "report.jsonl"
    env = {
        **os.environ, "GLIMPSE_FAULT_REPORT": str(report),
        "GLIMPSE_FAULT_TRIALS": str(args.trials), "GLIMPSE_FAULT_SEED": str(args.seed),
        "PYTHONPATH": os.pathsep.join([str(ROOT / "app"), os.environ.get("PYTHONPATH", "")]),
    }
    marker = "slow or not slow" if args.quick else "faults_long or slow or not slow"
    cmd = [sys.executable, "-m", "pytest", "-q", "-m", marker,
           str(ROOT / "tests" / "test_faults.py"), str(ROOT / "tests" / "test_bad_inputs.py")]
    if not args.quick:
        cmd += ["--deselect", "tests/test_faults.py::test_kill9_at_random_moments_then_rerun_recovers",
                "--deselect", "tests/test_faults.py::test_watch_storm_settles_and_idles"]
    if args.skip_storm:
        cmd += ["--deselect", "tests/test_faults.py::test_watch_storm_full_size"]
    rc = subprocess.call(cmd, cwd=ROOT, env=env)
    rows = [json.loads(line) for line in report.read_text().splitlines()] if report.exists() else []
    print()
    print(summarise(rows))
    print(f"(raw figures: {report}; pytest exit status {rc})")
    return rc


def summarise(rows: list[dict]) -> str:
    out: list[str] = []
    kills = [t for r in rows if r["test"].startswith("kill9-random") for t in r["data"]]
    if kills:
        killed = [t for t in kills if t["killed"]]
        out.append(
            f"kill -9 at random moments: {len(kills)} trials, {len(killed)} killed mid-run "
            f"({len(kills) - len(killed)} finished first), "
            f"{sum(t['recovered'] for t in kills)}/{len(kills)} recovered"
        )
        phases: dict[str, list[dict]] = {}
        for t in killed:
            phases.setdefault(t.get("phase") or "starting", []).append(t)
        for phase, ts in sorted(phases.items(), key=lambda kv: -len(kv[1])):
            out.append(f"  killed while {phase!r}: {len(ts)}, "
                       f"{sum(t['recovered'] for t in ts)} recovered")
    for r in rows:
        if r["test"].startswith("kill9-") and not r["test"].startswith("kill9-random"):
            d = r["data"]
            out.append(f"kill -9 at {d['how']}: killed={d['killed']} recovered={d['recovered']}")
    for r in rows:
        if r["test"].startswith("watch-storm"):
            d = r["data"]
            out.append(
                f"{r['test']}: {d['created']} created, {d['renamed']} renamed (one folder), "
                f"{d['deleted']} deleted: settled in {d['settle_s']:.1f} s; idle watcher used "
                f"{d['idle_cpu_s']:.2f} CPU-s in {d['idle_window_s']:.0f} s "
                f"({100 * d['idle_cpu_s'] / max(d['idle_window_s'], 1e-9):.1f}%); "
                f"problems: {d['problems'] or 'none'}"
            )
    queries = [r["data"] for r in rows if r["test"].startswith("inputs-query")]
    for r in rows:
        name = r["test"]
        if name.startswith(("inputs-", "damage-", "full-disk-")) and not name.startswith("inputs-query"):
            d = r["data"]
            shown = name[7:] if name.startswith("inputs-") else name
            out.append(f"{shown}: {d['handled']}/{d['tried']} handled ({', '.join(d['kinds'])})")
    if queries:
        out.append(
            f"queries: {sum(q['handled'] for q in queries)}/{sum(q['tried'] for q in queries)} "
            f"handled ({', '.join(k for q in queries for k in q['kinds'])})"
        )
    return "\n".join(out) or "no figures were recorded"


if __name__ == "__main__":
    sys.exit(main())
