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
from glimpse.cli.people import find_faces
from glimpse.core.errors import GlimpseError

if TYPE_CHECKING:  # the engine is imported lazily, so `--help` and `status` stay light
    from glimpse.core.jobs import CancelToken

def cmd_index(args: argparse.Namespace) -> int:
    from glimpse.core.indexing.encode import EncodeReport
    from glimpse.core.jobs import CancelToken
    from glimpse.core.library import IndexReport

    with open_library(args) as lib:
        add_folders(lib, args.folders, args.as_new)
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
            + (f" {s.restored} came back (vectors kept)." if s.restored else "")
        )
        _print_offline(lib, s.offline)
        rate = f" ({e.rate:.1f} img/s)" if e.encoded else ""
        print(f"Encoded {e.encoded} photos{rate}; {e.failed} could not be read.")
        for path, reason in e.errors[:10]:
            print(f"  skipped {path}: {reason}")
        if len(e.errors) > 10:
            print(f"  ... and {len(e.errors) - 10} more (see `glimpse errors`).")
        if report.cancelled:
            print("Stopped early; run the same command again to continue where it left off.")
            return 130
        rc = 0 if args.no_ocr else _read_text(lib, token, printer)
        if rc or args.no_faces:
            return rc
        return find_faces(lib, token, printer)


def _read_text(lib, token: CancelToken, printer: ProgressPrinter) -> int:  # type: ignore[no-untyped-def]
    """The OCR pass, after encoding (it is slower and less urgent)."""
    with interrupt_cancels(token):
        r = lib.read_text(progress=printer, cancel=token)
    return print_pass_report(r, "Read text in", "photos left to read", "glimpse ocr")


def cmd_ocr(args: argparse.Namespace) -> int:
    from glimpse.core.jobs import CancelToken

    with open_library(args) as lib:
        announce_model(lib)
        return _read_text(lib, CancelToken(), ProgressPrinter())


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
    from glimpse.core.indexing.watch import FolderWatcher
    from glimpse.core.jobs import CancelToken

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

            def reindex(paths: set[str] | None = None) -> None:
                with lock:
                    report = lib.index(progress=ProgressPrinter(), cancel=token)
                    text = None if args.no_ocr or token.cancelled else lib.read_text(cancel=token)
                s, e = report.scan, report.encode
                changed = s.added + s.changed + s.moved + s.copied + s.removed
                read = f"; read text in {text.done}" if text is not None and text.done else ""
                if changed or e.encoded or e.failed or read:
                    print(
                        f"{time.strftime('%H:%M:%S')}  {s.added} new, {s.changed} changed, "
                        f"{s.moved} moved, {s.removed} removed; encoded {e.encoded}, "
                        f"failed {e.failed}{read}",
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
    p.add_argument("--no-ocr", action="store_true",
                   help="skip reading text in photos (run `glimpse ocr` later)")
    p.add_argument("--no-faces", action="store_true",
                   help="skip finding faces and people (run `glimpse faces` later)")
    p.set_defaults(func=cmd_index)

    help_text = "Read the text in indexed photos (screenshots, receipts, signs) for search."
    p = sub.add_parser("ocr", parents=[common], help=help_text, description=help_text)
    p.set_defaults(func=cmd_ocr)

    help_text = "Index, then keep the index live as files change."
    p = sub.add_parser("watch", parents=[common], help=help_text, description=help_text)
    p.add_argument("folders", nargs="*")
    p.add_argument("--as-new", action="store_true",
                   help="watch the folders even if they look like a moved offline folder")
    p.add_argument("--no-ocr", action="store_true", help="do not read text in new photos")
    p.set_defaults(func=cmd_watch)
