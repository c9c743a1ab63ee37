"""`glimpse status`, `glimpse errors` and `glimpse models`: what the library holds."""

from __future__ import annotations

import argparse
from dataclasses import asdict

from glimpse.cli.common import open_library, print_json


def cmd_status(args: argparse.Namespace) -> int:
    with open_library(args) as lib:
        st = lib.status()
        if args.json:
            print_json(asdict(st))
            return 0
        print(f"Library: {st.root}")
        print(f"Model:   {st.model}  ({st.indexed_for_model} photos encoded with it)")
        c = st.counts
        print(f"Photos:  {c['ok']} indexed, {c['pending']} pending, {c['error']} unreadable")
        from glimpse.core.ocr import OCR_PASS, OCR_VERSION

        read, indexed = lib.catalog.pass_counts(OCR_PASS, OCR_VERSION)
        print(f"Text:    read in {read} of {indexed} indexed photos"
              + ("" if read >= indexed else " (`glimpse ocr` reads the rest)"))
        print("Folders:" if st.folders else "Folders: none (run `glimpse index FOLDER`)")
        for f in st.folders:
            print(f"  {f.path}  ({f.indexed} indexed, {f.pending} pending, {f.failed} failed)")
        if len(st.known_models) > 1:
            print("Other models with vectors here:")
            for model_id, dim, n in st.known_models:
                if model_id != st.model_id:
                    print(f"  {model_id}  ({dim}-d, {n} photos)")
        return 0


def cmd_errors(args: argparse.Namespace) -> int:
    with open_library(args) as lib:
        errors = lib.errors()
        if args.json:
            print_json([{"path": p, "reason": r} for p, r in errors])
        elif not errors:
            print("No unreadable files.")
        for path, reason in errors if not args.json else []:
            print(f"{path}: {reason}")
        return 0


def cmd_models(args: argparse.Namespace) -> int:
    from glimpse.core.models import DEFAULT_MODEL, list_models

    pairs = list_models()
    if args.json:
        print_json([{"model": f"{a}:{t}"} for a, t in pairs])
        return 0
    print(f"Default: {DEFAULT_MODEL}  (choose with --model ARCH:TAG or GLIMPSE_MODEL)")
    print("Also: ARCH:/path/to/checkpoint for a local file, ARCH:random for benchmarks.")
    for arch, tag in pairs:
        print(f"  {arch}:{tag}")
    return 0


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add `status`, `errors` and `models` (called by `glimpse.cli.main.build_parser`)."""
    for name, func, help_text in [
        ("status", cmd_status, "Show folders, counts and the model in use."),
        ("errors", cmd_errors, "List files that could not be read, and why."),
        ("models", cmd_models, "List the models Glimpse can use."),
    ]:
        p = sub.add_parser(name, parents=[common], help=help_text, description=help_text)
        p.add_argument("--json", action="store_true", help="machine-readable output")
        p.set_defaults(func=func)
