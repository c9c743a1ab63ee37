"""`glimpse search` and `glimpse similar`: ranked photos for a description or an image.

Both build one request (the query as typed, the filters, the marks, the sort)
and ask a running Glimpse for the answer first (the app,
`glimpse watch` or `glimpse serve` keep the model and index in memory); with
none running they answer it in-process with the very same function,
`glimpse.core.service.answer`, so the output is the same either way.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from glimpse.cli.common import open_library, print_json
from glimpse.core import settings
from glimpse.core.errors import GlimpseError


def parse_date(text: str | None, what: str) -> str | None:
    """core.search's, imported only when a date is given: that module brings numpy
    and the model code, which a search answered by the service never needs."""
    if not text:
        return None
    from glimpse.core.search.ranking import parse_date as parse

    return parse(text, what)


def _marked(snippet: str) -> str:
    from glimpse.core.search.words import marked  # only for hits with text (see parse_date)

    return marked(snippet)


def _request(args: argparse.Namespace, op: str, **fields: Any) -> dict[str, Any]:
    return {
        "op": op, "k": args.k,
        "folder": str(Path(args.folder).expanduser().resolve()) if args.folder else None,
        "after": parse_date(args.after, "--after"),
        "before": parse_date(args.before, "--before"),
        "place": args.place,
        "collapse": not args.all_duplicates,
        "model": settings.text("model", args.model),
        **fields,
    }


def _answer(args: argparse.Namespace, payload: dict[str, Any]) -> dict[str, Any]:
    """From a running Glimpse for this library if there is one, else in-process."""
    from glimpse.core.service import ServiceError, answer, request
    from glimpse.core.storage.paths import library_root

    if not settings.enabled("no_service"):
        try:
            served = request(library_root(args.library), payload)
        except ServiceError as exc:
            raise GlimpseError(str(exc)) from exc
        if served is not None:
            return served
    with open_library(args) as lib:
        return answer(lib, payload)


def _absolute(path: str | None) -> str | None:
    return str(Path(path).expanduser().resolve()) if path else None


def _clock(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    return f"{m // 60}:{m % 60:02d}:{s:02d}" if m >= 60 else f"{m}:{s:02d}"


def _print(result: dict[str, Any], as_json: bool) -> None:
    marked = _marked
    if result.get("random"):
        sys.stderr.write("WARNING: model has RANDOM weights; these results are meaningless.\n")
    people = result.get("people")
    if people:
        print(f"People filter: {' and '.join(people['names'])} ({people['photos']} photos)",
              file=sys.stderr if as_json else sys.stdout)
    hits = result["hits"]
    if as_json:
        print_json([{**h, "snippet": h.get("snippet") and marked(h["snippet"])} for h in hits])
        return
    if not hits:
        print("No matching photos.")
    strong = sum(not h.get("weak") for h in hits)
    if hits and not strong:
        print("No close matches; the nearest ones:")
    for rank, h in enumerate(hits, 1):
        if strong and rank == strong + 1:
            weaker = len(hits) - strong
            print(f"--- {weaker} weaker match{'es' if weaker > 1 else ''} (under this model's relevance cut-off) ---")
        date = f"  {h['taken_at'][:10]}" if h.get("taken_at") else ""
        at = (f"  at {_clock(h['t_seconds'])}"
              if h.get("kind") == "video" and h.get("t_seconds") is not None else "")
        place = f"  ({h['place']})" if h.get("place") else ""
        more = f"  (+{len(h['duplicates'])} near-duplicates)" if h.get("duplicates") else ""
        print(f"{rank:3d}  {h['score']:6.3f}  {h['path']}{at}{date}{place}{more}")
        if h.get("text_match"):  # found by its words: say where they were found
            source = h.get("word_source") or "words"
            print(f"     {source}: {' '.join(marked(h.get('snippet') or '').split())}")
    applied = (result.get("plan") or {}).get("place")
    named = [n for n in result.get("places") or [] if n != applied]
    if named:
        print(f"Photos from {', '.join(named)} were raised; --place \"{named[0]}\" keeps only those.")


def cmd_search(args: argparse.Namespace) -> int:
    """The query goes to the planner as typed (core/search/planner.py, in the service or
    in-process), with the options; what it read out of the query comes back as chips."""
    payload = _request(
        args, "search", query=" ".join(args.query), image=_absolute(args.image), sort=args.sort,
        like=[_absolute(p) for p in args.like or ()], unlike=[_absolute(p) for p in args.unlike or ()],
        persons=list(args.person or ()), name_words=not args.no_name_words,
        date_words=not args.no_date_words,
    )
    result = _answer(args, payload)
    _print_understood(result.get("plan") or {}, args.json)
    _print(result, args.json)
    return 0


def _print_understood(plan: dict[str, Any], as_json: bool) -> None:
    """The date the planner read out of the query (people and places follow the hits)."""
    for chip in plan.get("chips", ()):
        if chip["kind"] == "date":
            print(f"Date filter: {chip['label']} (from the query; --no-date-words to ignore)",
                  file=sys.stderr if as_json else sys.stdout)
        elif chip["kind"] == "not":  # plain-word negation (core/search/negation.py)
            print(f"Leaving out: {chip['label'][4:]} (from “{chip['phrase']}”)",
                  file=sys.stderr if as_json else sys.stdout)
    if any(c["kind"] == "place" and c["label"] == plan.get("place") for c in plan.get("chips", ())):
        print(f"Only photos from {plan['place']} (the query is a place's name)",
              file=sys.stderr if as_json else sys.stdout)


def cmd_similar(args: argparse.Namespace) -> int:
    if not Path(args.image).expanduser().exists():
        raise GlimpseError(f"{args.image} does not exist.")
    part = None
    if args.region is not None:
        from glimpse.core.search import region

        part = region.parse(args.region).to_list()  # a bad region is refused before any work
    _print(_answer(args, _request(args, "similar", image=_absolute(args.image), region=part)), args.json)
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
    p.add_argument("--region", metavar="X,Y,W,H",
                   help="only this part of it: fractions of its width and height, "
                        "e.g. 0.5,0,0.5,0.5 for the top-right quarter")
    _search_options(p)
    p.set_defaults(func=cmd_similar)
