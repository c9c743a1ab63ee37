"""`glimpse search` and `glimpse similar`: ranked photos for a description or an image."""

from __future__ import annotations

import argparse
from dataclasses import asdict, replace
from pathlib import Path

from glimpse.cli.common import open_library, print_json, warn_if_random
from glimpse.core.errors import GlimpseError


def _filters(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from glimpse.core.search import Filters, parse_date

    folder = str(Path(args.folder).expanduser().resolve()) if args.folder else None
    return Filters(
        folder, parse_date(args.after, "--after"), parse_date(args.before, "--before"), args.place
    )


def _print_hits(hits, as_json: bool) -> None:  # type: ignore[no-untyped-def]
    from glimpse.core.text_search import marked

    if as_json:
        print_json([{**asdict(h), "snippet": h.snippet and marked(h.snippet)} for h in hits])
        return
    if not hits:
        print("No matching photos.")
    for rank, h in enumerate(hits, 1):
        date = f"  {h.taken_at[:10]}" if h.taken_at else ""
        at = f"  at {_clock(h.t_seconds)}" if h.kind == "video" and h.t_seconds is not None else ""
        place = f"  ({h.place})" if h.place else ""
        more = f"  (+{len(h.duplicates)} near-duplicates)" if h.duplicates else ""
        print(f"{rank:3d}  {h.score:6.3f}  {h.path}{at}{date}{place}{more}")
        if h.text_match:
            print(f"     text: {' '.join(marked(h.snippet or '').split())}")


def _clock(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    return f"{m // 60}:{m % 60:02d}:{s:02d}" if m >= 60 else f"{m}:{s:02d}"


def _collapse(lib, args: argparse.Namespace):  # type: ignore[no-untyped-def]
    return None if args.all_duplicates else lib.default_collapse()


def cmd_search(args: argparse.Namespace) -> int:
    import sys

    from glimpse.core import query_dates

    with open_library(args) as lib:
        warn_if_random(lib)
        filters = _filters(args)
        query = " ".join(args.query)
        if not args.no_date_words:
            dated = query_dates.extract(query)
            if dated.range is not None:
                query = dated.text
                after, before = query_dates.intersect(filters.after, filters.before, dated.range)
                filters = replace(filters, after=after, before=before)
                print(f"Date filter: {dated.range.label} (from the query; --no-date-words "
                      "to ignore)", file=sys.stderr if args.json else sys.stdout)
        hits = lib.search(
            query, k=args.k, filters=filters, image=args.image, sort=args.sort,
            like=args.like or (), unlike=args.unlike or (), collapse=_collapse(lib, args),
        )
        _print_hits(hits, args.json)
        named = [] if args.json or args.place else lib.places_in_query(query)
        if named:
            print(f"Photos from {', '.join(named)} were raised; "
                  f"--place \"{named[0]}\" keeps only those.")
        return 0


def cmd_similar(args: argparse.Namespace) -> int:
    with open_library(args) as lib:
        warn_if_random(lib)
        if not Path(args.image).expanduser().exists():
            raise GlimpseError(f"{args.image} does not exist.")
        hits = lib.similar(args.image, k=args.k, filters=_filters(args), collapse=_collapse(lib, args))
        _print_hits(hits, args.json)
        return 0


def _search_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("-k", type=int, default=20, help="number of results (default 20)")
    p.add_argument("--folder", help="only photos under this folder")
    p.add_argument("--after", help="only photos taken on or after this date (YYYY-MM-DD)")
    p.add_argument("--before", help="only photos taken before this date (YYYY-MM-DD)")
    p.add_argument("--place", help="only photos taken in this city, region or country")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--all-duplicates", action="store_true",
                   help="list near-duplicates (same scene resized, bursts) one by one instead of folded")


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add `search` and `similar` (called by `glimpse.cli.main.build_parser`)."""
    help_text = 'Search by description, e.g. "two dogs playing in snow".'
    p = sub.add_parser("search", parents=[common], help=help_text, description=help_text)
    p.add_argument("query", nargs="+", help='text, or combined: \'"beach" + "sunset" - "people"\'')
    p.add_argument("--image", help="also add this image to the query")
    p.add_argument("--like", action="append", metavar="PHOTO",
                   help="refine: more like this result (repeatable)")
    p.add_argument("--unlike", action="append", metavar="PHOTO",
                   help="refine: not like this result (repeatable)")
    p.add_argument(
        "--no-date-words", action="store_true",
        help='do not read date words ("june 2021", "last summer") as a date filter',
    )
    p.add_argument(
        "--sort", choices=("best", "newest", "oldest"), default="best",
        help="best match (default), or the good matches newest/oldest first",
    )
    _search_options(p)
    p.set_defaults(func=cmd_search)

    help_text = "Find photos that look like the given one."
    p = sub.add_parser("similar", parents=[common], help=help_text, description=help_text)
    p.add_argument("image", help="an indexed photo or any image file")
    _search_options(p)
    p.set_defaults(func=cmd_similar)
