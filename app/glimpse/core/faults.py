"""Named pause points for the fault-injection suite (tests/test_faults.py).

A test sets GLIMPSE_FAULT_PAUSE=<point> in a child process's environment;
when the child reaches that point it writes its pid to GLIMPSE_FAULT_MARK (if
set) and sleeps, so the test can kill -9 it exactly there (mid migration,
mid commit) instead of hoping a random delay lands on it.
Unset, a pause point costs one environment lookup.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

PAUSE_ENV = "GLIMPSE_FAULT_PAUSE"
MARK_ENV = "GLIMPSE_FAULT_MARK"
SLEEP_ENV = "GLIMPSE_FAULT_SLEEP_S"

# The points the code offers; a test naming another one would wait forever.
POINTS = ("migration", "commit")


def pause_point(name: str) -> None:
    if os.environ.get(PAUSE_ENV) != name:
        return
    mark = os.environ.get(MARK_ENV)
    if mark:
        Path(mark).write_text(str(os.getpid()), encoding="utf-8")
    time.sleep(float(os.environ.get(SLEEP_ENV, "600")))
