"""`glimpse faces` and `glimpse people`: find faces, list, name, merge and hide people."""

from __future__ import annotations

import argparse

from glimpse.cli.common import open_library, print_json


def cmd_faces(args: argparse.Namespace) -> int:
    from glimpse.cli.indexing import _one_signal

    return _one_signal(args, "faces")


def cmd_people(args: argparse.Namespace) -> int:
    from glimpse.core.signals import people

    with open_library(args) as lib:
        cat = lib.catalog
        action = args.action
        if action == "name":
            _need(args, 2, "glimpse people name ID NAME")
            people.name_person(cat, _id(args.args[0]), " ".join(args.args[1:]))
        elif action == "merge":
            _need(args, 2, "glimpse people merge KEEP OTHER")
            people.merge(cat, _id(args.args[0]), _id(args.args[1]))
        elif action == "name-face":
            _need(args, 2, "glimpse people name-face FACE NAME")
            people.name_face(cat, _id(args.args[0], "face"), " ".join(args.args[1:]))
        elif action in ("hide", "show"):
            _need(args, 1, f"glimpse people {action} ID")
            people.hide_person(cat, _id(args.args[0]), action == "hide")
        elif action != "list":
            from glimpse.core.errors import GlimpseError

            raise GlimpseError(f"Unknown action '{action}': use list, name, name-face, merge, "
                               "hide or show.")
        found = people.people(cat, include_hidden=args.all)
        lone = people.lone_faces(cat) if args.all else []
        if args.json:
            print_json([{"id": p.id, "face_id": p.best_face, "name": p.name, "hidden": p.hidden,
                         "photos": p.photos, "faces": p.faces,
                         "paths": people.photo_paths(cat, people.photo_ids_of(cat, [p.id]))}
                        for p in found]
                       + [{"id": None, "face_id": f.id, "name": None, "hidden": False,
                           "photos": 1, "faces": 1, "paths": people.photo_paths(cat, [f.photo_id])}
                          for f in lone])
            return 0
        if people.face_count(cat):
            print(people.found_line(cat) + ".")
        if not found:
            print(_no_people_line(cat))
        for p in found:
            hidden = "  (hidden)" if p.hidden else ""
            print(f"{p.id:5d}  {p.label:<24s} {p.photos:6d} photos{hidden}")
        if lone:
            print(f"Faces seen once ({len(lone):,}; name one: glimpse people name-face FACE NAME):")
            for f in lone:
                print(f"  face {f.id:5d}  {people.photo_paths(cat, [f.photo_id])[0]}")
        elif found and not args.all and people.lone_faces(cat, limit=1):
            print("The faces seen once are listed by `glimpse people --all`; each can be named.")
        return 0


def _no_people_line(catalog: object) -> str:
    """Why the list is empty, from what the face pass did: not run yet, ran and
    found no faces, or found faces that no one else's photos repeat yet."""
    from glimpse.core.signals import people
    from glimpse.core.signals.faces import FACE_PASS, FACE_VERSION  # counts only

    found = people.summary(catalog, FACE_PASS, FACE_VERSION)  # type: ignore[arg-type]
    if found.photos_read == 0:
        return "No people yet: no photo has been looked at for faces; run `glimpse index` (or `glimpse faces`)."
    looked = f"Looked for faces in {found.photos_read} of {found.photos_indexed} photos"
    if found.faces == 0:
        return f"{looked} and found none."
    return (f"{looked}: {found.faces} faces, none of them seen in more than one photo yet. "
            "A person is a face that recurs; more photos of them will group them, or name a "
            "face now: `glimpse people --all` lists them.")


def _need(args: argparse.Namespace, n: int, usage: str) -> None:
    from glimpse.core.errors import GlimpseError

    if len(args.args) < n:
        raise GlimpseError(f"Usage: {usage}")


def _id(text: str, what: str = "person") -> int:
    from glimpse.core.errors import GlimpseError

    try:
        return int(text)
    except ValueError:
        where = "`glimpse people`" if what == "person" else "`glimpse people --all`"
        raise GlimpseError(f"'{text}' is not a {what} id; {where} lists them.") from None


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add `faces` and `people` (called by `glimpse.cli.main.build_parser`)."""
    help_text = "Find faces in indexed photos and group them into people."
    p = sub.add_parser("faces", parents=[common], help=help_text, description=help_text)
    p.set_defaults(func=cmd_faces)

    help_text = ("List people (id, name, photos), or: people name ID NAME, people name-face "
                 "FACE NAME, people merge KEEP OTHER, people hide ID, people show ID.")
    p = sub.add_parser("people", parents=[common], help=help_text, description=help_text)
    p.add_argument("action", nargs="?", default="list",
                   choices=("list", "name", "name-face", "merge", "hide", "show"))
    p.add_argument("args", nargs="*", help="person ids, and the name for `name`")
    p.add_argument("--all", action="store_true",
                   help="also list hidden people and the faces seen once (each nameable)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_people)
