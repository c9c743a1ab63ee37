"""`glimpse status`, `glimpse errors`, `glimpse check` and `glimpse models`: what the library holds."""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict

from glimpse.cli.common import offline_note, open_library, print_json


def cmd_status(args: argparse.Namespace) -> int:
    with open_library(args) as lib:
        st = lib.status()
        from glimpse.core.signals import people
        from glimpse.core.signals.faces import (  # counts only: dlib is not loaded
            FACE_PASS,
            FACE_VERSION,
        )

        faces = people.summary(lib.catalog, FACE_PASS, FACE_VERSION)
        if args.json:
            print_json({**asdict(st), "people": asdict(faces)})
            return 0
        print(f"Library: {st.root}")
        print(f"Model:   {st.model}  ({st.indexed_for_model} photos encoded with it)")
        c = st.counts
        print(f"Photos:  {c['ok']} indexed, {c['pending']} pending, {c['error']} unreadable")
        if c.get("offline"):
            print(f"         {c['offline']} in offline folders: kept, left out of searches")
        for sig in st.signals:  # one line a signal, as each declares itself
            title = (sig.noun[:1].upper() + sig.noun[1:] + ":").ljust(16)
            found = f"; {sig.summary}" if sig.summary else ""
            rest = "" if sig.done >= sig.total else " (`glimpse index` does the rest)"
            print(f"{title} {sig.did.lower()} {sig.done} of {sig.total} indexed photos{found}{rest}")
        print("Folders:" if st.folders else "Folders: none (run `glimpse index FOLDER`)")
        for f in st.folders:
            note = offline_note(f.offline_since)
            print(f"  {f.path}  ({f.indexed} indexed, {f.pending} pending, {f.failed} failed)"
                  + (f"  {note}" if note else ""))
        if len(st.known_models) > 1:
            print("Other models with vectors here:")
            for model_id, dim, n in st.known_models:
                if model_id != st.model_id:
                    print(f"  {model_id}  ({dim}-d, {n} photos)")
        return 0


def cmd_errors(args: argparse.Namespace) -> int:
    with open_library(args) as lib:
        rows = lib.problem_files()
        if args.json:
            print_json([{"path": p, "reason": r, "kind": k} for p, r, k in rows])
            return 0
        if not rows:
            print("No unreadable files.")
        for path, reason, _kind in rows:
            print(f"{path}: {reason}")
        return 0


def cmd_check(args: argparse.Namespace) -> int:
    """Verify the catalog, repair what can be, then let the pipeline redo what that left."""
    from glimpse.cli.common import ProgressPrinter, interrupt_cancels
    from glimpse.cli.indexing import print_index_report
    from glimpse.core.jobs import CancelToken

    with open_library(args) as lib:
        repair = not args.no_repair
        token = CancelToken()
        with interrupt_cancels(token):
            report = lib.check(repair=repair, cancel=token)
        if args.json:
            print_json({**asdict(report), "sound": report.sound})
        else:
            print(f"Checked {report.photos:,} photos and {report.vectors:,} stored vectors "
                  f"in {report.seconds:.1f} s.")
            if not report.findings:
                print("The library is sound: nothing to repair.")
            for f in report.findings:
                mark = "repaired" if f.repaired else ("to do" if f.note else "DAMAGED")
                print(f"  [{mark}] {f.message}")
                for example in f.examples:
                    print(f"      {example}")
        if report.cancelled:
            return 130
        if repair and report.needs_index and not args.no_index and lib.folder_paths():
            if not args.json:
                print("Encoding and reading again what the check removed or found missing:")
            index_report = lib.index(progress=None if args.json else ProgressPrinter(),
                                     cancel=token)
            if not args.json:
                rc = print_index_report(lib, index_report)
                if rc:
                    return rc
        return 0 if report.sound else 1


def cmd_models(args: argparse.Namespace) -> int:
    from glimpse.core.encoding import presets, speed
    from glimpse.core.encoding.encoder import DEFAULT_MODEL, list_models

    path = presets.default_probe_path()
    if args.measure or (not args.no_measure and not args.json and not presets.load_probes(path)):
        print("Measuring each preset's speed on this computer (once; random weights, no download)...",
              file=sys.stderr, flush=True)
        speed.measure_presets(path, lambda line: print(line, file=sys.stderr, flush=True),
                                force=args.measure)
    probes = presets.load_probes(path)
    pairs = list_models()
    if args.json:
        print_json({
            "presets": [
                {**asdict(p), "image_ms_here": getattr(probes.get(p.model), "image_ms", None),
                 "text_ms_here": getattr(probes.get(p.model), "text_ms", None)}
                for p in presets.PRESETS
            ],
            "models": [f"{a}:{t}" for a, t in pairs],
        })
        return 0
    print("Presets (use the name with --model, e.g. --model fast, or pick one in Settings):")
    for p in presets.PRESETS:
        default = "  [default]" if p.model == DEFAULT_MODEL else ""
        print(f"  {presets.describe(p, probes.get(p.model))}{default}")
        print(f"      {p.why} Understands: {p.languages}.")
    print(f"\nDefault: {DEFAULT_MODEL}  (choose with --model ARCH:TAG or GLIMPSE_MODEL)")
    print("Also: ARCH:/path/to/checkpoint for a local file, ARCH:random for benchmarks.")
    print("Every open_clip model:")
    for arch, tag in pairs:
        print(f"  {arch}:{tag}")
    return 0


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add `status`, `errors`, `check` and `models` (called by `glimpse.cli.main.build_parser`)."""
    for name, func, help_text in [
        ("status", cmd_status, "Show folders, counts and the model in use."),
        ("errors", cmd_errors, "List files that could not be read, skipped or repaired, and why."),
        ("check", cmd_check, "Verify the catalog (file, vectors, passes), repair what can be, "
                             "and report the rest; exit status 1 if damage is left."),
        ("models", cmd_models, "List the presets (with their speed here) and every model."),
    ]:
        p = sub.add_parser(name, parents=[common], help=help_text, description=help_text)
        p.add_argument("--json", action="store_true", help="machine-readable output")
        p.set_defaults(func=func)
        if name == "check":
            p.add_argument("--no-repair", action="store_true",
                           help="only report: change nothing (works on a read-only catalog)")
            p.add_argument("--no-index", action="store_true",
                           help="repair, but leave encoding and reading again to the next `glimpse index`")
        if name == "models":
            p.add_argument("--measure", action="store_true",
                           help="measure the presets' speed on this computer again")
            p.add_argument("--no-measure", action="store_true",
                           help="do not run the first-time speed probe")
