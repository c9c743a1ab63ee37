"""`glimpse search` and `glimpse similar`: ranked photos for a description or an image."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from pathlib import Path

from glimpse.cli.common import open_library, print_json, warn_if_random
from glimpse.core.errors import GlimpseError


def _filters(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from glimpse.core.search import Filters, parse_date

    folder = str(Path(args.folder).expanduser().resolve()) if args.folder else None
    return Filters(folder, parse_date(args.after, "--after"), parse_date(args.before, "--before"))


def _print_hits(hits, as_json: bool) -> None:  # type: ignore[no-untyped-def]
    from glimpse.core.text_search import marked

    if as_json:
        print_json([{**asdict(h), "snippet": h.snippet and marked(h.snippet)} for h in hits])
        return
    if not hits:
        print("No matching photos.")
    for rank, h in enumerate(hits, 1):
        date = f"  {h.taken_at[:10]}" if h.taken_at else ""
        print(f"{rank:3d}  {h.score:6.3f}  {h.path}{date}")
        if h.text_match:
            print(f"     text: {' '.join(marked(h.snippet or '').split())}")


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
                filters = type(filters)(filters.folder, after, before)
                print(f"Date filter: {dated.range.label} (from the query; --no-date-words "
                      "to ignore)", file=sys.stderr if args.json else sys.stdout)
        query, filters = _people_filter(lib, query, filters, args)
        hits = lib.search(query, k=args.k, filters=filters, image=args.image, sort=args.sort)
        _print_hits(hits, args.json)
        return 0


def _people_filter(lib, query: str, filters, args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """--person NAME, and known names in the query, become a filter (core/people_query.py)."""
    import sys
    from dataclasses import replace

    from glimpse.core import people, people_query

    groups = [people.person_by_name(lib.catalog, name) for name in args.person or ()]
    labels = list(args.person or ())
    if not args.no_name_words:
        named = people_query.extract(query, people.names(lib.catalog))
        if named.names:
            query = named.text
            groups += [list(ids) for ids in named.person_ids]
            labels += list(named.names)
    if not groups:
        return query, filters
    photos = set.intersection(*(people.photo_ids_of(lib.catalog, g) for g in groups))
    print(f"People filter: {' and '.join(labels)} ({len(photos)} photos)",
          file=sys.stderr if args.json else sys.stdout)
    return query, replace(filters, photo_ids=frozenset(photos))


def cmd_similar(args: argparse.Namespace) -> int:
    with open_library(args) as lib:
        warn_if_random(lib)
        if not Path(args.image).expanduser().exists():
            raise GlimpseError(f"{args.image} does not exist.")
        hits = lib.similar(args.image, k=args.k, filters=_filters(args))
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
    p.add_argument(
        "--no-date-words", action="store_true",
        help='do not read date words ("june 2021", "last summer") as a date filter',
    )
    p.add_argument("--person", action="append", metavar="NAME",
                   help="only photos showing this person (repeat for several: all of them)")
    p.add_argument("--no-name-words", action="store_true",
                   help="do not read people's names in the query as a filter")
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
