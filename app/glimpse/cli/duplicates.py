"""`glimpse duplicates`: groups of near-identical photos, largest first. It never deletes."""

from __future__ import annotations

import argparse

from glimpse.cli.common import open_library, print_json, warn_if_random


def cmd_duplicates(args: argparse.Namespace) -> int:
    from glimpse.core.search.duplicates import Rules

    with open_library(args) as lib:
        warn_if_random(lib)
        rules = Rules(cosine=args.threshold) if args.threshold is not None else Rules()
        groups = lib.duplicate_groups(rules)
        paths = {r.id: r.path for r in lib.indexed_photos()}
        if args.json:
            print_json([
                {"keep": paths[g.keep], "others": [paths[i] for i in g.others],
                 "similarity": round(g.similarity, 4)}
                for g in groups
            ])
            return 0
        if not groups:
            print("No near-duplicates found.")
            return 0
        extra = sum(len(g.others) for g in groups)
        print(f"{len(groups)} groups of near-duplicates; {extra} photos are extra copies. "
              "Nothing is deleted: this only lists them.")
        for n, g in enumerate(groups[: args.limit], 1):
            print(f"\n{n}. {len(g.photo_ids)} photos (similarity >= {g.similarity:.3f})")
            print(f"   keep   {paths[g.keep]}")
            for other in g.others:
                print(f"   other  {paths[other]}")
        if len(groups) > args.limit:
            print(f"\n... and {len(groups) - args.limit} more groups (--limit N, or --json).")
        return 0


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add `duplicates` (called by `glimpse.cli.main.build_parser`)."""
    help_text = ("List groups of near-duplicate photos (the same scene resized or re-saved, "
                 "burst shots), largest first, with the one that would be kept. Deletes nothing.")
    p = sub.add_parser("duplicates", parents=[common], help=help_text, description=help_text)
    p.add_argument("--threshold", type=float, help="cosine similarity that makes two photos "
                   "near-duplicates (default: the measured one)")
    p.add_argument("--limit", type=int, default=50, help="groups to print (default 50)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_duplicates)
