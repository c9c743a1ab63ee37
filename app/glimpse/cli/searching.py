"""`glimpse search` and `glimpse similar`: ranked photos for a description or an image."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import asdict
from pathlib import Path

from glimpse.cli.common import open_library, print_json, warn_if_random
from glimpse.core.errors import GlimpseError


def _filters(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from glimpse.core.search import Filters, parse_date

    folder = str(Path(args.folder).expanduser().resolve()) if args.folder else None
    return Filters(folder, parse_date(args.after, "--after"), parse_date(args.before, "--before"))


def _print_hits(hits: list[dict], as_json: bool) -> None:
    if as_json:
        print_json(hits)
        return
    if not hits:
        print("No matching photos.")
    for rank, h in enumerate(hits, 1):
        date = f"  {h['taken_at'][:10]}" if h["taken_at"] else ""
        print(f"{rank:3d}  {h['score']:6.3f}  {h['path']}{date}")


def _ask_service(args: argparse.Namespace, payload: dict) -> list[dict] | None:
    """Hits from a running Glimpse (app, watch, serve) for this library, or None:
    then the command does the work itself. Same answer either way."""
    from glimpse.core.paths import library_root
    from glimpse.core.service import ServiceError, request

    folder = str(Path(args.folder).expanduser().resolve()) if args.folder else None
    payload.update(k=args.k, folder=folder, after=args.after, before=args.before,
                   model=args.model or os.environ.get("GLIMPSE_MODEL"))
    try:
        answer = request(library_root(args.library), payload)
    except ServiceError as exc:
        raise GlimpseError(str(exc)) from exc
    if answer is None:
        return None
    if answer.get("random"):
        sys.stderr.write("WARNING: model has RANDOM weights; these results are meaningless.\n")
    return list(answer["hits"])


def _absolute(path: str | None) -> str | None:
    return str(Path(path).expanduser().resolve()) if path else None


def cmd_search(args: argparse.Namespace) -> int:
    query = " ".join(args.query)
    hits = _ask_service(args, {"op": "search", "query": query, "image": _absolute(args.image)})
    if hits is None:
        with open_library(args) as lib:
            warn_if_random(lib)
            filters = _filters(args)
            hits = [asdict(h) for h in lib.search(query, k=args.k, filters=filters, image=args.image)]
    _print_hits(hits, args.json)
    return 0


def cmd_similar(args: argparse.Namespace) -> int:
    if not Path(args.image).expanduser().exists():
        raise GlimpseError(f"{args.image} does not exist.")
    hits = _ask_service(args, {"op": "similar", "image": _absolute(args.image)})
    if hits is None:
        with open_library(args) as lib:
            warn_if_random(lib)
            hits = [asdict(h) for h in lib.similar(args.image, k=args.k, filters=_filters(args))]
    _print_hits(hits, args.json)
    return 0


def _search_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("-k", type=int, default=20, help="number of results (default 20)")
    p.add_argument("--folder", help="only photos under this folder")
    p.add_argument("--after", help="only photos taken on or after this date (YYYY-MM-DD)")
    p.add_argument("--before", help="only photos taken before this date (YYYY-MM-DD)")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add `search` and `similar` (called by `glimpse.cli.main.build_parser`)."""
    help_text = 'Search by description, e.g. "two dogs playing in snow".'
    p = sub.add_parser("search", parents=[common], help=help_text, description=help_text)
    p.add_argument("query", nargs="+", help='text, or combined: \'"beach" + "sunset" - "people"\'')
    p.add_argument("--image", help="also add this image to the query")
    _search_options(p)
    p.set_defaults(func=cmd_search)

    help_text = "Find photos that look like the given one."
    p = sub.add_parser("similar", parents=[common], help=help_text, description=help_text)
    p.add_argument("image", help="an indexed photo or any image file")
    _search_options(p)
    p.set_defaults(func=cmd_similar)
