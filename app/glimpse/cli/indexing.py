"""`glimpse index` and `glimpse watch`: bring the index up to date, once or continuously."""

from __future__ import annotations

import argparse
import sys
import threading
import time
from typing import TYPE_CHECKING

from glimpse.cli.common import (
    ProgressPrinter,
    add_folders,
    announce_model,
    interrupt_cancels,
    offline_note,
    open_library,
    print_pass_report,
)
from glimpse.core.errors import GlimpseError

if TYPE_CHECKING:  # the engine is imported lazily, so `--help` and `status` stay light
    pass

def skipped(args: argparse.Namespace) -> set[str]:
    """The switches turned off on the command line (--no-ocr -> "ocr")."""
    from glimpse.core.signals.registry import SIGNALS

    return {e.switch for e in SIGNALS
            if e.switch and getattr(args, "no_" + e.switch.replace("-", "_"), False)}


def _announcer(lib):  # type: ignore[no-untyped-def]
    """Names the model just before encoding starts, if anything needs it: a
    no-op re-index never loads (or mentions) the model."""
    def before(stage) -> None:  # type: ignore[no-untyped-def]
        if stage.name == "encode" and lib.pending_count():
            announce_model(lib)
    return before


def cmd_index(args: argparse.Namespace) -> int:
    from glimpse.core.jobs import CancelToken

    with open_library(args) as lib:
        add_folders(lib, args.folders, args.as_new)
        if not lib.folder_paths():
            raise GlimpseError("No folders to index: run `glimpse index FOLDER`.")
        token = CancelToken()
        printer = ProgressPrinter()
        with interrupt_cancels(token):
            report = lib.index(progress=printer, cancel=token, batch_size=args.batch_size,
                               skip=skipped(args), before_stage=_announcer(lib))
        return print_index_report(lib, report)


def print_index_report(lib, report) -> int:  # type: ignore[no-untyped-def]
    """What a pipeline run did, stage by stage (an IndexReport); the exit status:
    130 when it was stopped early, else 0."""
    s, e = report.scan, report.encode
    print(
        f"Files: {s.added} new, {s.changed} changed, {s.moved} moved, {s.copied} copies, "
        f"{s.removed} removed, {s.unchanged} unchanged."
        + (f" {s.restored} came back (vectors kept)." if s.restored else "")
    )
    _print_offline(lib, s.offline)
    if s.skipped:
        print(f"{len(s.skipped)} files that look like photos were skipped "
              "(not regular files, symlink loops, names that are not UTF-8): `glimpse errors` lists them.")
    rate = f" ({e.rate:.1f} img/s)" if e.encoded else ""
    print(f"Encoded {e.encoded} photos{rate}; {e.failed} could not be read.")
    for path, reason in e.errors[:10]:
        print(f"  skipped {path}: {reason}")
    if len(e.errors) > 10:
        print(f"  ... and {len(e.errors) - 10} more (see `glimpse errors`).")
    if e.cancelled:
        print("Stopped early; run the same command again to continue where it left off.")
        return 130
    rc = 0
    for name, r in report.passes.items():
        rc = max(rc, print_pass_report(lib, name, r))
    return rc


def cmd_ocr(args: argparse.Namespace) -> int:
    return _one_signal(args, "ocr")


def _one_signal(args: argparse.Namespace, name: str) -> int:
    """`glimpse ocr`, `glimpse faces`: one signal's stage over the indexed photos."""
    from glimpse.core.jobs import CancelToken

    with open_library(args) as lib:
        announce_model(lib)
        token = CancelToken()
        with interrupt_cancels(token):
            report = lib.index(progress=ProgressPrinter(), cancel=token, only={name})
        return print_pass_report(lib, name, report.passes[name])


def _print_offline(lib, offline: list[str]) -> None:  # type: ignore[no-untyped-def]
    since = {f.path: f.offline_since for f in lib.folders()}
    for folder in offline:
        print(
            f"{folder}: {offline_note(since.get(folder))} (absent or empty); its photos are "
            "kept and left out of searches until it is back."
        )


# How often `glimpse watch` looks whether an offline folder's disk is back
# (an unmounted folder sends no events when it is mounted again).
OFFLINE_RECHECK_S = 30.0


def _rewatch_returned(lib, watcher) -> None:  # type: ignore[no-untyped-def]
    from glimpse.core.indexing.scan import folder_is_offline

    for folder in lib.folders():
        if folder.offline_since is not None and not folder_is_offline(folder.path, folder.indexed):
            watcher.remove(folder.path)
            watcher.add(folder.path)
            watcher.queue.put(folder.path)  # a rescan brings it back online


def cmd_watch(args: argparse.Namespace) -> int:
    from glimpse.core.indexing import pipeline
    from glimpse.core.indexing.watch import FolderWatcher
    from glimpse.core.jobs import CancelToken

    skip = skipped(args)
    with open_library(args) as lib:
        add_folders(lib, args.folders, args.as_new)
        folders = lib.folder_paths()
        if not folders:
            raise GlimpseError("No folders to watch: run `glimpse watch FOLDER`.")
        # One watcher per library: a second one (or an indexer) is told who holds it.
        with lib.writer.hold():
            announce_model(lib)
            token = CancelToken()
            lock = threading.Lock()
            watching: list = []  # the watcher, once it runs: its queue says when photos wait

            def new_photos_wait() -> bool:
                return bool(watching) and watching[0].queue.waiting

            def reindex(paths: set[str] | None = None) -> None:
                # Meaning first: text and faces give way as soon as new photos wait;
                # the next round encodes those, then carries on reading.
                with lock:
                    report = lib.index(progress=ProgressPrinter(), cancel=token, skip=skip,
                                       yield_to=new_photos_wait)
                s, e = report.scan, report.encode
                changed = s.added + s.changed + s.moved + s.copied + s.removed
                found = "".join(
                    f"; {pipeline.describe(name)[0].lower()} {r.done}"
                    for name, r in report.passes.items() if r.done)
                if changed or e.encoded or e.failed or found:
                    print(
                        f"{time.strftime('%H:%M:%S')}  {s.added} new, {s.changed} changed, "
                        f"{s.moved} moved, {s.removed} removed; encoded {e.encoded}, "
                        f"failed {e.failed}{found}",
                        flush=True,
                    )
                for r in report.passes.values():
                    if r.error:
                        print(f"error: {r.error}", file=sys.stderr, flush=True)
                if report.yielded:
                    print(f"{time.strftime('%H:%M:%S')}  new photos arrived: encoding them first; "
                          "text and faces carry on after", flush=True)

            # The watcher starts before the first round, so photos that arrive while
            # it reads the back catalogue's text are noticed and encoded first.
            watcher = FolderWatcher(
                folders, reindex, on_error=lambda exc: print(f"error: {exc}", file=sys.stderr)
            )
            watching.append(watcher)
            watcher.start()
            try:
                reindex()
            except BaseException:
                watcher.stop()
                raise
            from glimpse.core.service import SearchService

            service = SearchService(lib)  # searches from other commands are answered from memory
            serving = service.start()
            print(f"Watching {len(folders)} folder(s); press Ctrl-C to stop.", flush=True)
            stop = threading.Event()
            next_check = time.monotonic() + OFFLINE_RECHECK_S
            with interrupt_cancels(token):
                try:
                    while not token.cancelled and not stop.wait(0.5):
                        if time.monotonic() >= next_check:
                            next_check = time.monotonic() + OFFLINE_RECHECK_S
                            _rewatch_returned(lib, watcher)
                finally:
                    watcher.stop()
                    if serving:
                        service.stop()
        return 0


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add `index` and `watch` (called by `glimpse.cli.main.build_parser`)."""
    help_text = "Add folders (if given) and bring the index up to date."
    p = sub.add_parser("index", parents=[common], help=help_text, description=help_text)
    p.add_argument("folders", nargs="*", help="photo folders to add and index")
    p.add_argument("--batch-size", type=int, default=None,
                   help="photos per model call (default: 8 with ONNX Runtime on a CPU, 32 on a GPU)")
    p.add_argument("--as-new", action="store_true",
                   help="index the folders even if they look like a moved offline folder")
    _switches(p)
    p.set_defaults(func=cmd_index)

    help_text = "Read the text in indexed photos (screenshots, receipts, signs) for search."
    p = sub.add_parser("ocr", parents=[common], help=help_text, description=help_text)
    p.set_defaults(func=cmd_ocr)

    help_text = "Index, then keep the index live as files change."
    p = sub.add_parser("watch", parents=[common], help=help_text, description=help_text)
    p.add_argument("folders", nargs="*")
    p.add_argument("--as-new", action="store_true",
                   help="watch the folders even if they look like a moved offline folder")
    _switches(p)
    p.set_defaults(func=cmd_watch)


def _switches(p: argparse.ArgumentParser) -> None:
    """--no-<switch> for every signal that can be turned off, as the registry declares."""
    from glimpse.core.signals.registry import SIGNALS

    for entry in SIGNALS:
        if entry.switch:
            p.add_argument(f"--no-{entry.switch}", action="store_true", help=f"skip {entry.what}")
