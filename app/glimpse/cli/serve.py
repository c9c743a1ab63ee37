"""`glimpse serve`: keep the library and its text tower loaded and answer queries
from `glimpse search` / `glimpse similar` (and any local program) in milliseconds."""

from __future__ import annotations

import argparse
import threading
import time

from glimpse.cli.common import interrupt_cancels, open_library
from glimpse.core.errors import GlimpseError


def cmd_serve(args: argparse.Namespace) -> int:
    from glimpse.core.jobs import CancelToken
    from glimpse.core.service import SearchService

    with open_library(args) as lib:
        service = SearchService(lib)
        if not service.start():
            raise GlimpseError(
                f"Another Glimpse (the app, `glimpse watch` or `glimpse serve`) already serves "
                f"{lib.root}; its answers are used automatically."
            )
        try:
            if not args.no_warm_up:
                start = time.monotonic()
                lib.index_for()
                lib.encoder.encode_texts(["warm up"])  # loads the text tower now, not at the first query
                print(f"Model ready in {time.monotonic() - start:.1f}s.", flush=True)
            print(f"Serving {lib.root} at {service.path}; press Ctrl-C to stop.", flush=True)
            token = CancelToken()
            with interrupt_cancels(token):
                stop = threading.Event()
                while not token.cancelled and not stop.wait(0.5):
                    pass
        finally:
            service.stop()
        print(f"Stopped after {service.requests} requests.")
        return 0


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add `serve` (called by `glimpse.cli.main.build_parser`)."""
    help_text = ("Answer searches for this library from memory until stopped; "
                 "`glimpse search` and `similar` use it automatically.")
    p = sub.add_parser("serve", parents=[common], help=help_text, description=help_text)
    p.add_argument("--no-warm-up", action="store_true",
                   help="load the model at the first query instead of at start")
    p.set_defaults(func=cmd_serve)
