"""Named pause points for the fault-injection suite (tests/test_faults.py).

A test sets GLIMPSE_FAULT_PAUSE=<point> (settings: fault_pause) in a child process's environment;
when the child reaches that point it writes its pid to GLIMPSE_FAULT_MARK (if
set) and sleeps, so the test can kill -9 it exactly there (mid migration,
mid commit of encoded vectors, mid commit of a signal pass's batch: "pass:ocr")
instead of hoping a random delay lands on it.
Unset, a pause point costs one environment lookup.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from glimpse.core import settings

PAUSE_ENV = settings.setting("fault_pause").env

# The points the code offers; a test naming another one would wait forever.
POINTS = ("migration", "commit", "pass:ocr", "pass:faces", "pass:own_words")


def pause_point(name: str) -> None:
    if settings.text("fault_pause") != name:
        return
    mark = settings.text("fault_mark")
    if mark:
        Path(mark).write_text(str(os.getpid()), encoding="utf-8")
    time.sleep(settings.number("fault_sleep_s"))
