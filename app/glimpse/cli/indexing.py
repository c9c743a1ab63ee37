"""`glimpse index` and `glimpse watch`: bring the index up to date, once or continuously."""

from __future__ import annotations

import argparse
import sys
import threading
import time

from glimpse.cli.common import ProgressPrinter, announce_model, interrupt_cancels, open_library
from glimpse.core.errors import GlimpseError


def cmd_index(args: argparse.Namespace) -> int:
    from glimpse.core.indexer import CancelToken, EncodeReport
    from glimpse.core.library import IndexReport

    with open_library(args) as lib:
        for folder in args.folders:
            lib.add_folder(folder)
        if not lib.folder_paths():
            raise GlimpseError("No folders to index: run `glimpse index FOLDER`.")
        token = CancelToken()
        printer = ProgressPrinter()
        with interrupt_cancels(token):
            # Scan first: the model loads only when something must be encoded.
            scan = lib.sync(progress=printer, cancel=token)
            if token.cancelled:
                encode = EncodeReport(cancelled=True)
            else:
                if lib.pending_count():
                    announce_model(lib)
                encode = lib.encode(progress=printer, cancel=token, batch_size=args.batch_size)
        report = IndexReport(scan, encode)
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


def cmd_watch(args: argparse.Namespace) -> int:
    from glimpse.core.indexer import CancelToken
    from glimpse.core.watch import FolderWatcher

    with open_library(args) as lib:
        for folder in args.folders:
            lib.add_folder(folder)
        folders = lib.folder_paths()
        if not folders:
            raise GlimpseError("No folders to watch: run `glimpse watch FOLDER`.")
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
        from glimpse.core.service import SearchService

        service = SearchService(lib)  # searches from other commands are answered from memory
        serving = service.start()
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
                if serving:
                    service.stop()
        return 0


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add `index` and `watch` (called by `glimpse.cli.main.build_parser`)."""
    help_text = "Add folders (if given) and bring the index up to date."
    p = sub.add_parser("index", parents=[common], help=help_text, description=help_text)
    p.add_argument("folders", nargs="*", help="photo folders to add and index")
    p.add_argument("--batch-size", type=int, default=32)
    p.set_defaults(func=cmd_index)

    help_text = "Index, then keep the index live as files change."
    p = sub.add_parser("watch", parents=[common], help=help_text, description=help_text)
    p.add_argument("folders", nargs="*")
    p.set_defaults(func=cmd_watch)
