"""What every command shares: progress lines, Ctrl-C handling, opening the library, output.

Kept free of engine imports at module level so `glimpse --help` stays fast;
the engine is imported inside the functions that need it.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    # Types only: importing the engine (numpy, Pillow) at start-up would slow
    # every command, and a query answered by the service needs none of it.
    from glimpse.core.jobs import CancelToken, Progress
    from glimpse.core.library import Library


class ProgressPrinter:
    """One self-updating line on a terminal; a line every few seconds in a log."""

    def __init__(self, stream=None) -> None:  # type: ignore[no-untyped-def]
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self._last = 0.0
        self._phase = ""
        self._said_searchable = False

    def __call__(self, p: Progress) -> None:
        now = time.monotonic()
        final = p.done >= p.total
        if not final and now - self._last < (0.2 if self.tty else 5.0) and p.phase == self._phase:
            return
        from glimpse.core.indexing.pipeline import describe, is_background  # loaded by now

        if p.phase != self._phase and is_background(p.phase) and not self._said_searchable:
            self._said_searchable = True
            self.stream.write(("\n" if self.tty and self._phase else "")
                              + "Searchable by meaning now; the signals below follow "
                              "(Ctrl-C stops them; the next run resumes).\n")
        self._last, self._phase = now, p.phase

        label, unit = describe(p.phase)
        pct = 100.0 * p.done / p.total if p.total else 100.0
        unit += "/s"
        eta = fmt_duration(p.eta_s) if p.eta_s is not None and not final else "--"
        line = f"{label} {p.done}/{p.total} {pct:5.1f}%  {p.rate:6.1f} {unit}  ETA {eta}"
        if self.tty:
            width = 30
            filled = int(width * pct / 100)
            bar = "#" * filled + "-" * (width - filled)
            self.stream.write(f"\r[{bar}] {line}\x1b[K")
            if final:
                self.stream.write("\n")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


class DownloadPrinter:
    """The first run's model weights download: size, rate, time left on one line."""

    def __init__(self, stream=None) -> None:  # type: ignore[no-untyped-def]
        self._stream = stream
        self._last = 0.0

    def __call__(self, p) -> None:  # type: ignore[no-untyped-def]  # a DownloadProgress
        stream = self._stream or sys.stderr
        tty = stream.isatty()
        now = time.monotonic()
        final = p.total is not None and p.done >= p.total
        if not final and now - self._last < (0.5 if tty else 5.0):
            return
        self._last = now
        end = "\n" if final or not tty else "\x1b[K"
        stream.write(("\r" if tty else "") + p.text() + end)
        stream.flush()


def offline_note(offline_since: float | None) -> str:
    """"offline since 2026-11-24 16:02" for a folder whose disk is absent, else ""."""
    if offline_since is None:
        return ""
    return "offline since " + time.strftime("%Y-%m-%d %H:%M", time.localtime(offline_since))


def add_folders(lib, folders: list[str], as_new: bool) -> None:  # type: ignore[no-untyped-def]
    """Add folders to the library, unless one holds the photos of an offline
    folder: then suggest `glimpse folders move` (re-encoding them all would
    cost hours) and leave it out, unless --as-new says it really is new."""
    from pathlib import Path

    known = set(lib.folder_paths())
    for folder in folders:
        resolved = str(Path(folder).expanduser().resolve())
        if resolved not in known and not as_new:
            source = lib.moved_from(folder)
            if source is not None:
                sys.stderr.write(
                    f"{resolved} holds the photos of {source.path} "
                    f"({offline_note(source.offline_since)}). To keep their index, run:\n"
                    f"  glimpse folders move '{source.path}' '{resolved}'\n"
                    "(or add --as-new to index it as a separate folder). Skipped it for now.\n"
                )
                continue
        lib.add_folder(folder)


def fmt_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}"


@contextmanager
def interrupt_cancels(token: CancelToken) -> Iterator[None]:
    """First Ctrl-C asks the job to stop after the batch in flight (nothing lost);
    a second one quits at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):  # type: ignore[no-untyped-def]
        if token.cancelled:
            signal.signal(signal.SIGINT, signal.default_int_handler)
            raise KeyboardInterrupt
        token.cancel()
        sys.stderr.write(
            "\nStopping after the current batch (Ctrl-C again to quit at once)...\n"
        )

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def open_library(args: argparse.Namespace) -> Library:
    """The library the options name; use it as `with open_library(args) as lib:`."""
    from glimpse.core.library import Library

    return Library(args.library, model=args.model, device=args.device,
                   precision=getattr(args, "precision", None))


def print_json(data: object) -> None:
    json.dump(data, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


def announce_model(lib) -> None:  # type: ignore[no-untyped-def]
    t = time.monotonic()
    sys.stderr.write(f"Loading model {lib.spec} ...\n")
    enc = lib.encoder.prepare()
    engine = "ONNX Runtime" if enc.engine == "onnx" else "torch"
    sys.stderr.write(f"Model ready ({engine} on {enc.device}) in {time.monotonic() - t:.1f}s.\n")
    if lib.spec.is_random:
        sys.stderr.write(
            "WARNING: this model has RANDOM weights; search results are meaningless.\n"
        )


def warn_if_random(lib) -> None:  # type: ignore[no-untyped-def]
    if lib.spec.is_random:
        sys.stderr.write("WARNING: model has RANDOM weights; these results are meaningless.\n")


def print_pass_report(lib, name: str, r) -> int:  # type: ignore[no-untyped-def]
    """One signal's outcome (a PassReport) in two lines at most, worded as its
    declaration says; the exit status: 130 when it was stopped early, else 0."""
    from glimpse.core.indexing import pipeline

    stage = pipeline.stage_of(name)
    signal = stage.signal if stage is not None else None
    if signal is None:
        return 0
    if r.error is not None:
        print(f"No {signal.noun}: {r.error}")
        return 0
    if signal.run is not None and not (r.done or r.failed or r.remaining):
        return 0  # a catch-up stage with nothing to catch up on says nothing
    rate = f" ({(r.done + r.failed) / r.seconds:.2f} photos/s)" if r.seconds > 0 and r.done else ""
    found = f" {signal.summary(lib.catalog)}." if signal.summary is not None else ""
    print(f"{signal.did} {r.done} photos{rate}; {r.failed} could not be read.{found}")
    if r.cancelled:
        print(f"Stopped early with {r.remaining} photos left; run the same command again "
              "(or index again) to continue.")
        return 130
    return 0
