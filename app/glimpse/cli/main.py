"""The `glimpse` command line: the parser and the entry point.

Each command group lives in its own module (indexing, searching, info, labels,
selftest) with a `register(subparsers, common)` function; each command is a
thin layer over `glimpse.core.library.Library` or `glimpse.evaluation`. Errors
a user can cause are printed as one clear line (exit 2), without a traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from glimpse import __version__
from glimpse.cli import (
    duplicates,
    folders,
    indexing,
    info,
    labels,
    people,
    searching,
    selftest,
    serve,
)
from glimpse.cli.common import DownloadPrinter
from glimpse.core import settings
from glimpse.core.errors import GlimpseError

COMMAND_GROUPS = [
    indexing, searching, duplicates, people, info, folders, labels, selftest, serve,
]


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    for s in settings.SETTINGS:  # the engine settings that have a flag, as declared
        if s.flag is None:
            continue
        common.add_argument(
            s.flag, type=Path if s.key == "library" else str, choices=s.choices or None,
            help=f"{s.help} (or {s.env})",
        )
    common.add_argument("-v", "--verbose", action="store_true", help="log details")

    parser = argparse.ArgumentParser(
        prog="glimpse", description="Find photos in your own archive by describing them."
    )
    parser.add_argument("--version", action="version", version=f"glimpse {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    for module in COMMAND_GROUPS:
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
    from glimpse.core.encoding import encoder as models

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
