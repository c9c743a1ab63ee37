"""`glimpse folders list|move|remove`: the watched folders, and re-pointing one that moved."""

from __future__ import annotations

import argparse

from glimpse.cli.common import offline_note, open_library, print_json


def cmd_list(args: argparse.Namespace) -> int:
    with open_library(args) as lib:
        folders = lib.folders()
        if args.json:
            print_json([
                {"path": f.path, "indexed": f.indexed, "pending": f.pending, "failed": f.failed,
                 "offline_since": f.offline_since}
                for f in folders
            ])
            return 0
        if not folders:
            print("No folders (run `glimpse index FOLDER`).")
        for f in folders:
            note = offline_note(f.offline_since)
            print(f"{f.path}  ({f.indexed} indexed{', ' + note if note else ''})")
        return 0


def cmd_move(args: argparse.Namespace) -> int:
    with open_library(args) as lib:
        moved = lib.move_folder(args.old, args.new)
        print(f"{args.old} -> {args.new}: {moved} photos re-pointed, nothing re-encoded.")
        print("Run `glimpse index` to pick up any change made while it was away.")
        return 0


def cmd_remove(args: argparse.Namespace) -> int:
    with open_library(args) as lib:
        removed = lib.remove_folder(args.folder)
        print(f"Stopped watching {args.folder}; forgot {removed} photos (files stay on disk).")
        return 0


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add `folders list|move|remove` (called by `glimpse.cli.main.build_parser`)."""
    help_text = "List watched folders, re-point a moved one, or stop watching one."
    folders = sub.add_parser("folders", help=help_text, description=help_text)
    folders_sub = folders.add_subparsers(dest="folders_command", required=True, metavar="COMMAND")

    help_text = "List watched folders, their counts, and which are offline."
    p = folders_sub.add_parser("list", parents=[common], help=help_text, description=help_text)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_list)

    help_text = ("A watched folder was moved or renamed (or its disk is mounted elsewhere): "
                 "re-point it without re-encoding, after checking a sample of its photos.")
    p = folders_sub.add_parser("move", parents=[common], help=help_text, description=help_text)
    p.add_argument("old", help="the folder's path as the library knows it")
    p.add_argument("new", help="where the same photos are now")
    p.set_defaults(func=cmd_move)

    help_text = "Stop watching a folder and forget its photos (the files stay on disk)."
    p = folders_sub.add_parser("remove", parents=[common], help=help_text, description=help_text)
    p.add_argument("folder")
    p.set_defaults(func=cmd_remove)
