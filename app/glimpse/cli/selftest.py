"""`glimpse self-test`: prove this installation works, offline, in seconds.

The installer build runs it against the frozen bundle, and a user (or a bug
report) can run it to tell "Glimpse is broken here" from "my photos or my
model are the problem". The work is `glimpse.diagnostics.selftest`; this module only
prints its lines and turns the result into an exit status (0 pass, 1 fail).
"""

from __future__ import annotations

import argparse
import logging
import sys


def cmd_self_test(args: argparse.Namespace) -> int:
    from glimpse.diagnostics.selftest import run_self_test

    if not args.verbose:
        # The tiny model's "RANDOM weights" warning is expected here, not news.
        logging.getLogger("glimpse.core.encoding.encoder").setLevel(logging.ERROR)
    print("Glimpse self-test: tiny random model, 3 generated photos, temporary library.",
          flush=True)
    result = run_self_test(lambda line: print(line, flush=True), device=args.device or "cpu")
    if result.passed:
        print(result.message)
        return 0
    print(result.message, file=sys.stderr)
    if result.details:
        print(result.details, file=sys.stderr, end="")
    return 1


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add `self-test` to the CLI (called by `glimpse.cli.main.build_parser`)."""
    help_text = (
        "Check this installation: index and search three generated photos with a tiny "
        "random model in a temporary library (no network, your library is not touched)."
    )
    p = sub.add_parser("self-test", parents=[common], help=help_text, description=help_text)
    p.set_defaults(func=cmd_self_test)
