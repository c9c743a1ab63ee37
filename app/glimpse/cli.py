"""The `glimpse` command line: index, search, similar, watch, status, models.

Each command is a thin layer over `glimpse.core.library.Library`. Errors a
user can cause are printed as one clear line (exit 2), without a traceback.
Other command groups (labeling, evaluation, self-test) live in their own
modules and register themselves through `EXTRA_COMMANDS`.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from glimpse import __version__
from glimpse.core.errors import GlimpseError
from glimpse.core.indexer import CancelToken, Progress

if TYPE_CHECKING:  # the CLI imports the engine lazily, so --help stays fast
    from glimpse.core.library import Library

# Modules that add subcommands: each has `register(subparsers)`.
EXTRA_COMMANDS = ["glimpse.cli_labels", "glimpse.cli_selftest"]


# -- output helpers -------------------------------------------------------------


class ProgressPrinter:
    """One self-updating line on a terminal; a line every few seconds in a log."""

    def __init__(self, stream=None) -> None:  # type: ignore[no-untyped-def]
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self._last = 0.0
        self._phase = ""

    def __call__(self, p: Progress) -> None:
        now = time.monotonic()
        final = p.done >= p.total
        if not final and now - self._last < (0.2 if self.tty else 5.0) and p.phase == self._phase:
            return
        self._last, self._phase = now, p.phase
        label = "Scanning" if p.phase == "scan" else "Encoding"
        pct = 100.0 * p.done / p.total if p.total else 100.0
        unit = "files/s" if p.phase == "scan" else "img/s"
        eta = _fmt_duration(p.eta_s) if p.eta_s is not None and not final else "--"
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


def _fmt_duration(seconds: float) -> str:
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

    return Library(args.library, model=args.model, device=args.device)


def _print_json(data: object) -> None:
    json.dump(data, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


# -- commands -------------------------------------------------------------------


def cmd_index(args: argparse.Namespace) -> int:
    with open_library(args) as lib:
        for folder in args.folders:
            lib.add_folder(folder)
        if not lib.folder_paths():
            raise GlimpseError("No folders to index: run `glimpse index FOLDER`.")
        token = CancelToken()
        printer = ProgressPrinter()
        _announce_model(lib)
        with interrupt_cancels(token):
            report = lib.index(progress=printer, cancel=token, batch_size=args.batch_size)
        s, e = report.scan, report.encode
        print(
            f"Files: {s.added} new, {s.changed} changed, {s.moved} moved, {s.copied} copies, "
            f"{s.removed} removed, {s.unchanged} unchanged."
        )
        rate = f" ({e.rate:.1f} img/s)" if e.encoded else ""
        print(f"Encoded {e.encoded} photos{rate}; {e.failed} could not be read.")
        for path, reason in e.errors[:10]:
            print(f"  skipped {path}: {reason}")
        if len(e.errors) > 10:
            print(f"  ... and {len(e.errors) - 10} more (see `glimpse errors`).")
        if report.cancelled:
            print("Stopped early; run the same command again to continue where it left off.")
            return 130
        return 0


def _announce_model(lib) -> None:  # type: ignore[no-untyped-def]
    t = time.monotonic()
    sys.stderr.write(f"Loading model {lib.spec} ...\n")
    enc = lib.encoder
    sys.stderr.write(f"Model ready on {enc.device} in {time.monotonic() - t:.1f}s.\n")
    if lib.spec.is_random:
        sys.stderr.write(
            "WARNING: this model has RANDOM weights; search results are meaningless.\n"
        )


def _filters(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from glimpse.core.search import Filters, parse_date

    folder = str(Path(args.folder).expanduser().resolve()) if args.folder else None
    return Filters(folder, parse_date(args.after, "--after"), parse_date(args.before, "--before"))


def _print_hits(hits, as_json: bool) -> None:  # type: ignore[no-untyped-def]
    if as_json:
        _print_json([asdict(h) for h in hits])
        return
    if not hits:
        print("No matching photos.")
    for rank, h in enumerate(hits, 1):
        date = f"  {h.taken_at[:10]}" if h.taken_at else ""
        print(f"{rank:3d}  {h.score:6.3f}  {h.path}{date}")


def _warn_if_random(lib) -> None:  # type: ignore[no-untyped-def]
    if lib.spec.is_random:
        sys.stderr.write("WARNING: model has RANDOM weights; these results are meaningless.\n")


def cmd_search(args: argparse.Namespace) -> int:
    with open_library(args) as lib:
        _warn_if_random(lib)
        filters = _filters(args)
        hits = lib.search(" ".join(args.query), k=args.k, filters=filters, image=args.image)
        _print_hits(hits, args.json)
        return 0


def cmd_similar(args: argparse.Namespace) -> int:
    with open_library(args) as lib:
        _warn_if_random(lib)
        if not Path(args.image).expanduser().exists():
            raise GlimpseError(f"{args.image} does not exist.")
        hits = lib.similar(args.image, k=args.k, filters=_filters(args))
        _print_hits(hits, args.json)
        return 0


def cmd_watch(args: argparse.Namespace) -> int:
    from glimpse.core.watch import FolderWatcher

    with open_library(args) as lib:
        for folder in args.folders:
            lib.add_folder(folder)
        folders = lib.folder_paths()
        if not folders:
            raise GlimpseError("No folders to watch: run `glimpse watch FOLDER`.")
        _announce_model(lib)
        token = CancelToken()
        lock = threading.Lock()

        def reindex(paths: set[str] | None = None) -> None:
            with lock:
                report = lib.index(progress=ProgressPrinter(), cancel=token)
            s, e = report.scan, report.encode
            changed = s.added + s.changed + s.moved + s.copied + s.removed
            if changed or e.encoded or e.failed:
                print(
                    f"{time.strftime('%H:%M:%S')}  {s.added} new, {s.changed} changed, "
                    f"{s.moved} moved, {s.removed} removed; encoded {e.encoded}, failed {e.failed}",
                    flush=True,
                )

        reindex()
        watcher = FolderWatcher(
            folders, reindex, on_error=lambda exc: print(f"error: {exc}", file=sys.stderr)
        )
        watcher.start()
        print(f"Watching {len(folders)} folder(s); press Ctrl-C to stop.", flush=True)
        stop = threading.Event()
        with interrupt_cancels(token):
            try:
                while not token.cancelled and not stop.wait(0.5):
                    pass
            finally:
                watcher.stop()
        return 0


def cmd_status(args: argparse.Namespace) -> int:
    with open_library(args) as lib:
        st = lib.status()
        if args.json:
            _print_json(asdict(st))
            return 0
        print(f"Library: {st.root}")
        print(f"Model:   {st.model}  ({st.indexed_for_model} photos encoded with it)")
        c = st.counts
        print(f"Photos:  {c['ok']} indexed, {c['pending']} pending, {c['error']} unreadable")
        print("Folders:" if st.folders else "Folders: none (run `glimpse index FOLDER`)")
        for f in st.folders:
            print(f"  {f.path}  ({f.indexed} indexed, {f.pending} pending, {f.failed} failed)")
        if len(st.known_models) > 1:
            print("Other models with vectors here:")
            for model_id, dim, n in st.known_models:
                if model_id != st.model_id:
                    print(f"  {model_id}  ({dim}-d, {n} photos)")
        return 0


def cmd_errors(args: argparse.Namespace) -> int:
    with open_library(args) as lib:
        errors = lib.errors()
        if args.json:
            _print_json([{"path": p, "reason": r} for p, r in errors])
        elif not errors:
            print("No unreadable files.")
        for path, reason in errors if not args.json else []:
            print(f"{path}: {reason}")
        return 0


def cmd_models(args: argparse.Namespace) -> int:
    from glimpse.core.models import DEFAULT_MODEL, list_models

    pairs = list_models()
    if args.json:
        _print_json([{"model": f"{a}:{t}"} for a, t in pairs])
        return 0
    print(f"Default: {DEFAULT_MODEL}  (choose with --model ARCH:TAG or GLIMPSE_MODEL)")
    print("Also: ARCH:/path/to/checkpoint for a local file, ARCH:random for benchmarks.")
    for arch, tag in pairs:
        print(f"  {arch}:{tag}")
    return 0


# -- parser ---------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--library", type=Path, help="library folder (default: per-user data dir, or GLIMPSE_LIBRARY)")
    common.add_argument("--model", help="ARCH[:TAG or :/path/to/checkpoint] (default: GLIMPSE_MODEL or the library's last model)")
    common.add_argument("--device", choices=["auto", "cpu", "cuda", "mps", "gpu"], help="where to run the model (default: auto)")
    common.add_argument("-v", "--verbose", action="store_true", help="log details")

    parser = argparse.ArgumentParser(
        prog="glimpse", description="Find photos in your own archive by describing them."
    )
    parser.add_argument("--version", action="version", version=f"glimpse {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, func: Callable[[argparse.Namespace], int], help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[common], help=help, description=help)
        p.set_defaults(func=func)
        return p

    p = add("index", cmd_index, "Add folders (if given) and bring the index up to date.")
    p.add_argument("folders", nargs="*", help="photo folders to add and index")
    p.add_argument("--batch-size", type=int, default=32)

    def search_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("-k", type=int, default=20, help="number of results (default 20)")
        p.add_argument("--folder", help="only photos under this folder")
        p.add_argument("--after", help="only photos taken on or after this date (YYYY-MM-DD)")
        p.add_argument("--before", help="only photos taken before this date (YYYY-MM-DD)")
        p.add_argument("--json", action="store_true", help="machine-readable output")

    p = add("search", cmd_search, 'Search by description, e.g. "two dogs playing in snow".')
    p.add_argument("query", nargs="+", help='text, or combined: \'"beach" + "sunset" - "people"\'')
    p.add_argument("--image", help="also add this image to the query")
    search_options(p)

    p = add("similar", cmd_similar, "Find photos that look like the given one.")
    p.add_argument("image", help="an indexed photo or any image file")
    search_options(p)

    p = add("watch", cmd_watch, "Index, then keep the index live as files change.")
    p.add_argument("folders", nargs="*")

    p = add("status", cmd_status, "Show folders, counts and the model in use.")
    p.add_argument("--json", action="store_true")

    p = add("errors", cmd_errors, "List files that could not be read, and why.")
    p.add_argument("--json", action="store_true")

    p = add("models", cmd_models, "List the models Glimpse can use.")
    p.add_argument("--json", action="store_true")

    for module_name in EXTRA_COMMANDS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        module.register(sub, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if getattr(args, "verbose", False) else logging.WARNING,
        format="%(levelname)s: %(message)s",
    )
    if not getattr(args, "verbose", False):
        # open_clip logs its own "randomly initialised" line; our warning says it better.
        logging.getLogger("root").setLevel(logging.ERROR)
    from glimpse.core import models

    models.set_download_progress(DownloadPrinter())  # Ctrl-C keeps the partial file for resuming
    try:
        return int(args.func(args) or 0)
    except GlimpseError as exc:
        print(f"glimpse: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nInterrupted.", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    finally:
        models.set_download_progress(None)


if __name__ == "__main__":
    sys.exit(main())
