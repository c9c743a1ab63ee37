"""`glimpse label`, `glimpse eval` and `glimpse labels import`: build label sets, evaluate models.

The work is in `glimpse.evaluation.labeling` and `glimpse.evaluation.runner`; this
module only prompts, prints and maps outcomes to exit codes (0 ok, 2 a user
error, 130 stopped by Ctrl-C).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from glimpse.cli.common import ProgressPrinter, interrupt_cancels, open_library
from glimpse.core.errors import GlimpseError
from glimpse.evaluation.judged import DEFAULT_RELEVANT_GRADE, FORMULAS

# Terminal labeling commands, typed at the short-label prompt.
_HELP = (
    "Commands at the short-label prompt: ':s' sample again (skip), ':u [reason]' unsuitable "
    "(blurry, blank...), ':b' back to the last saved label, ':q' quit. The long label may "
    "span several lines; an empty line ends it."
)


# -- glimpse label ----------------------------------------------------------------


def _read(prompt: str, input_fn: Callable[[str], str]) -> str | None:
    """One line from the user, or None at end of input (Ctrl-D, closed pipe)."""
    try:
        return input_fn(prompt)
    except EOFError:
        return None


def _read_long(input_fn: Callable[[str], str]) -> str | None:
    lines: list[str] = []
    while True:
        line = _read("long> " if not lines else "    > ", input_fn)
        if line is None:
            return "\n".join(lines) if lines else None
        if line == "":
            return "\n".join(lines)
        lines.append(line)


def cmd_label(args: argparse.Namespace, input_fn: Callable[[str], str] = input) -> int:
    from glimpse.evaluation.labeling import LabelingError, LabelingSession

    with open_library(args) as lib:
        session = LabelingSession(
            lib, args.set, folder=args.folder, seed=args.seed,
            labeler=args.labeler or "", target=args.target,
        )
        print(f"Label set {session.path}: {session.done} labeled, target {session.target}; "
              f"{session.remaining + (session.current is not None)} photos left to offer.")
        print(_HELP)
        while True:
            offer = session.current
            if offer is None:
                print("Every photo has been offered; nothing left to label here.")
                return 0
            editing = session.editing
            print()
            head = "Correcting last label" if editing else f"[{session.done + 1}/{session.target}]"
            print(f"{head}  {offer.abs_path or '(photo no longer in the library)'}")
            if editing is not None:
                print(f"  was short: {editing.short!r}\n  was long:  {editing.long!r}")
                print("  (empty input keeps the old text; ':s' leaves it unchanged)")
            short = _read("short> ", input_fn)
            if short is None or short.strip() == ":q":
                print(f"Stopped. {session.done} labeled in {session.path}.")
                return 0
            cmd = short.strip()
            try:
                if cmd == ":s":
                    session.skip()
                    continue
                if cmd == ":b":
                    session.back()
                    continue
                if cmd == ":u" or cmd.startswith(":u "):
                    session.mark_unsuitable(cmd[2:].strip())
                    print("Marked unsuitable.")
                    continue
                long = _read_long(input_fn)
                if editing is not None:
                    short = short or editing.short
                    long = long or editing.long
                saved = session.save(short, long or "")
            except LabelingError as exc:
                print(f"  {exc}")
                continue
            for warning in saved.warnings:
                print(f"  note: {warning}")
            verb = "Corrected" if saved.replaced else "Saved"
            print(f"{verb}. {session.done}/{session.target} labeled.")
            if session.done == session.target and not saved.replaced:
                print("Target reached; keep going or ':q' to stop.")


# -- glimpse eval ----------------------------------------------------------------


class _EvalPrinter:
    """Prints each new step once; hands encoding progress to the usual progress line."""

    def __init__(self) -> None:
        self._step = ""
        self._bar = ProgressPrinter()

    def __call__(self, p):  # type: ignore[no-untyped-def]
        if p.step != self._step:
            self._step = p.step
            sys.stderr.write(p.step + "\n")
            sys.stderr.flush()
        if p.inner is not None and p.inner.total:
            self._bar(p.inner)


def _table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    fmt = lambda cells: "  ".join(  # noqa: E731
        c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
    )
    line = "  ".join("-" * w for w in widths)
    return "\n".join([fmt(headers), line, *(fmt(r) for r in rows)])


def format_result(result) -> str:  # type: ignore[no-untyped-def]
    """The human summary printed by `glimpse eval` (also handy in tests and logs)."""
    from glimpse.evaluation.metrics import visible_hit_ks

    pct = lambda v: f"{100 * v:.1f}"  # noqa: E731
    ks = visible_hit_ks(result.gallery_size)
    keys = [(m, lt) for m in list(dict.fromkeys(k[0] for k in result.summaries))
            for lt in result.label_types if (m, lt) in result.summaries]
    head = ["model", "labels", "n"] + [f"hit@{k}%" for k in ks] + ["median rank", "mean rank", "MRR"]
    rows = []
    for m, lt in keys:
        s = result.summaries[(m, lt)]
        rows.append([m, lt, str(s.n_queries)] + [pct(s.hit_at[k]) for k in ks] + [
            f"{s.median_rank:g}", f"{s.mean_rank:.1f}", f"{s.mrr:.4f}"])
    out = [
        f"Gallery: {result.gallery_size} photos; search: {result.search}.",
        "Queries: " + ", ".join(f"{lt} {n}" for lt, n in result.n_queries.items()) + ".",
    ]
    for (lt, reason), count in sorted(result.skip_counts().items()):
        out.append(f"Skipped {count} {lt} queries: {reason}.")
    out += ["", "Known-item measures (one intended photo per query): hit@k = % found within "
            "the top k, MRR = mean 1/rank.", _table(head, rows)]
    if result.by_category:
        out += ["", "Per query category:"]
        cat_rows = [[f"{m} / {lt}", c, str(s.n_queries)] + [pct(s.hit_at[k]) for k in ks] + [
            f"{s.median_rank:g}", f"{s.mean_rank:.1f}", f"{s.mrr:.4f}"]
            for (m, lt, c), s in result.by_category.items()]
        out.append(_table(["model / labels", "category", "n"] + head[3:], cat_rows))
    if result.noise_drops:
        k = 10 if 10 in ks else ks[-1]
        out += ["", f"Noisy queries (same queries perturbed, seeded): hit@{k} clean -> noisy:"]
        out += [f"  {d['model']} / {d['label_type']}+{d['noise']}: {pct(d['hit_at_clean'][str(k)])}% -> "
                f"{pct(d['hit_at_noisy'][str(k)])}% (drop {pct(d['hit_at_drop'][str(k)])} points)"
                for d in result.noise_drops]
    if any(m.startswith("min(") for m, _ in keys):
        out += ["", "min(A,B) = per query the better rank of A and B: the ceiling of combining them."]
    if result.timings_s:
        out += ["", "Time (s): " + ", ".join(f"{k} {v:g}" for k, v in result.timings_s.items())]
    if result.cutoffs:
        out += ["", "Relevance cut-off, saved for search (results under it are weaker matches):"]
        out += [f"  {m}: score >= {c:.3f} keeps 95% of the sought photos ranked in the top 20"
                for m, c in result.cutoffs.items()]
    if result.fusion:
        out.append("")
        out.append("Rank fusion (RRF, k=60); 'beats' = higher MRR than the better single model:")
        out += [f"  {v.sentence()}" for v in result.fusion]
    out += ["", f"Per-query ranks: {result.ranks_csv}", f"Summary (JSON): {result.summary_json}"]
    out += [f"Plot: {p}" for p in result.plots]
    return "\n".join(out)


def cmd_eval(args: argparse.Namespace) -> int:
    from glimpse.core.encoding.encoder import ModelSpec
    from glimpse.evaluation.runner import EvaluationCancelled, run_evaluation

    set_path = Path(args.set).expanduser()
    with open_library(args) as lib:
        if args.import_captions:
            if not args.images:
                raise GlimpseError("--import-captions needs --images DIR (the captioned photos).")
            _import(lib, Path(args.import_captions), Path(args.images), set_path)
        elif not set_path.is_file() and not args.judged:
            raise GlimpseError(f"Label set {set_path} does not exist.")
        specs = [ModelSpec.parse(m) for m in (args.models or [str(lib.spec)])]
        for spec in specs:
            if spec.is_random:
                sys.stderr.write(
                    f"WARNING: {spec} has RANDOM weights; its ranks will be near chance.\n"
                )
        out = Path(args.out) if args.out else set_path.with_name(set_path.stem + "-eval")
        if args.judged:
            return _cmd_eval_judged(args, lib, set_path, specs, out)
        from glimpse.core.jobs import CancelToken

        token = CancelToken()
        with interrupt_cancels(token):
            try:
                result = run_evaluation(
                    lib, set_path, specs, out, label_types=args.labels,
                    fuse=not args.no_fuse, progress=_EvalPrinter(), cancel=token,
                    folder=args.folder, templates=args.templates, ensemble=args.ensemble,
                    noise=args.noise, noise_seed=args.seed,
                )
            except EvaluationCancelled as exc:
                print(str(exc), file=sys.stderr)
                return 130
        print(format_result(result))
        return 0


# -- glimpse judge ----------------------------------------------------------------

_JUDGE_KEYS = "Grade with one key: " + ", ".join(
    f"{g} {name}" for g, name in enumerate(
        ("not relevant", "slightly relevant", "relevant", "highly relevant", "very relevant"))
) + "; s skip, q quit."


def read_key(prompt: str) -> str:
    """One key press without Enter on a terminal; a whole line otherwise (pipes, tests)."""
    sys.stdout.write(prompt)
    sys.stdout.flush()
    if not sys.stdin.isatty():
        line = sys.stdin.readline()
        if not line:
            raise EOFError
        return line.strip()[:1]
    try:
        import termios
        import tty
    except ImportError:  # Windows
        import msvcrt

        key = msvcrt.getwch()  # type: ignore[attr-defined,unused-ignore]
    else:
        fd = sys.stdin.fileno()
        old = termios.tcgetattr(fd)
        try:
            tty.setcbreak(fd)
            key = sys.stdin.read(1)
        finally:
            termios.tcsetattr(fd, termios.TCSADRAIN, old)
    print(key)
    if key in ("\x04", "\x03"):  # Ctrl-D / Ctrl-C in cbreak mode
        raise EOFError
    return key


def cmd_judge(args: argparse.Namespace, key_fn: Callable[[str], str] = read_key) -> int:
    from glimpse.core.encoding.encoder import ModelSpec
    from glimpse.evaluation.judging import start_judging

    set_path = Path(args.set).expanduser()
    if not set_path.is_file():
        raise GlimpseError(f"Label set {set_path} does not exist.")
    judged_path = Path(args.judged) if args.judged else set_path.with_name(set_path.stem + "-judged.csv")
    with open_library(args) as lib:
        specs = [ModelSpec.parse(m) for m in (args.models or [str(lib.spec)])]
        session = start_judging(lib, set_path, judged_path, specs, label_types=args.labels,
                                seed=args.seed, folder=args.folder, progress=_EvalPrinter())
        print(f"Judged set {judged_path}: {session.done} of {session.total} pooled photos graded "
              f"(top 20 of {len(specs)} models, shuffled; which model found a photo is not shown).")
        print(_JUDGE_KEYS)
        while (item := session.current) is not None:
            print(f"\n[{session.done + 1}/{session.total}] query: {item.query}")
            print(f"  photo: {item.abs_path or item.image}")
            try:
                key = key_fn("grade> ")
            except EOFError:
                key = "q"
            if key == "q":
                break
            if key == "s":
                session.skip()
            elif key in "01234" and key:
                session.grade(int(key))
            else:
                print("  Press 0-4, s or q.")
        print(f"Stopped. {session.done} of {session.total} graded in {judged_path}.")
        print(f"Next: glimpse eval {set_path} --judged {judged_path} --models ...")
        return 0


def format_judged(result) -> str:  # type: ignore[no-untyped-def]
    """The judged-set table printed by `glimpse eval --judged`."""
    from glimpse.evaluation.judged import NDCG_KS, PRF_KS

    head = ["model", "category", "n"] + [f"P/R/F1@{k}" for k in PRF_KS] + [
        f"nDCG@{k}" for k in NDCG_KS] + ["unjudged@20"]
    rows = []
    for (m, c), s in result.summaries.items():
        rows.append([m, c, str(s.n_queries)] + [
            f"{s.precision_at[k]:.3f}/{s.recall_at[k]:.3f}/{s.f1_at[k]:.3f}" for k in PRF_KS] + [
            f"{s.ndcg_at[k]:.3f}" for k in NDCG_KS] + [f"{100 * s.unjudged_in_top:.0f}%"])
    without = {m: s.n_without_relevant for (m, c), s in result.summaries.items() if c == "all"}
    out = [f"Gallery: {result.gallery_size} photos; relevant = grade >= {result.relevant_grade}.",
           _table(head, rows)]
    if any(without.values()):
        out.append(f"Left out (no relevant judged photo): {max(without.values())} queries.")
    out += [f"Summary (JSON): {result.summary_json}"]
    return "\n".join(out)


def _judged_templates(args: argparse.Namespace) -> list[str]:
    if not args.templates:
        return ["{}"]
    if len(args.templates) > 1 and not args.ensemble:
        raise GlimpseError("With --judged give one template, or several with --ensemble.")
    return list(args.templates)


def _cmd_eval_judged(args: argparse.Namespace, lib, set_path: Path, specs, out: Path) -> int:  # type: ignore[no-untyped-def]
    from glimpse.core.jobs import CancelToken
    from glimpse.evaluation.judging import label_set_queries, run_judged_evaluation
    from glimpse.evaluation.runner import EvaluationCancelled

    try:  # SET only names the queries' categories here; without it, results are overall only
        categories = label_set_queries(set_path, ("short", "long")) if set_path.is_file() else {}
    except GlimpseError:
        categories = {}
    token = CancelToken()
    with interrupt_cancels(token):
        try:
            result = run_judged_evaluation(
                lib, Path(args.judged), specs, out, relevant_grade=args.relevant_grade,
                categories=categories, folder=args.folder, progress=_EvalPrinter(), cancel=token,
                templates=_judged_templates(args),
            )
        except EvaluationCancelled as exc:
            print(str(exc), file=sys.stderr)
            return 130
    print(format_judged(result))
    return 0


# -- glimpse labels import ---------------------------------------------------------


def _import(lib, captions: Path, images: Path, out: Path, long: str = "each") -> None:  # type: ignore[no-untyped-def]
    from glimpse.evaluation.labels import import_captions

    if not images.is_dir():
        raise GlimpseError(f"{images} is not a folder.")
    label_set = import_captions(captions, out, images, long=long)
    missing = {r.path for r in label_set.rows if not r.fingerprint}
    n_images = len({r.path for r in label_set.rows})
    print(f"Imported {len(label_set.rows)} captions of {n_images} images into {out}.")
    if missing:
        print(f"  {len(missing)} images named in {captions.name} are not in {images}; "
              "their captions will be reported as skipped.")
    lib.add_folder(images)
    report = lib.sync(ProgressPrinter())
    print(f"Added {images} to the library ({report.added} new photos); "
          "`glimpse eval` encodes them with each model it evaluates.")


def cmd_labels_import(args: argparse.Namespace) -> int:
    with open_library(args) as lib:
        _import(lib, Path(args.captions), Path(args.images), Path(args.out), args.long)
        print(f"Next: glimpse eval {args.out} --models MODEL [MODEL ...]")
        return 0


# -- registration ------------------------------------------------------------------


_KNOWN_ITEM = ("Known-item measures (label sets, one intended photo per query, rank r): "
               "hit@k = share of queries with r <= k; MRR = mean 1/r.")


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add `label`, `eval` and `labels import` to the CLI (called by `glimpse.cli.main.build_parser`)."""
    help_text = "Label photos in the terminal: one random photo at a time, short and long labels."
    p = sub.add_parser("label", parents=[common], help=help_text, description=help_text + " " + _HELP)
    p.add_argument("set", help="label set CSV (created if missing, resumed if it exists)")
    p.add_argument("--folder", help="only photos under this library folder (default: all)")
    p.add_argument("--labeler", default="", help="your name or initials, stored with each row")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (default 0; same seed, same order)")
    p.add_argument("--target", type=int, default=100, help="how many labels to aim for (default 100)")
    p.set_defaults(func=cmd_label)

    help_text = ("Evaluate models on a label set: rank of each labeled photo under exact search, "
                 "hit@k, MRR, rank fusion; CSV, JSON and PNG plots.")
    p = sub.add_parser("eval", parents=[common], help=help_text, description=help_text + " " + _KNOWN_ITEM
                       + " " + FORMULAS)
    p.add_argument("set", help="label set CSV (or where to create it with --import-captions)")
    p.add_argument("--models", nargs="+", metavar="MODEL",
                   help="models to compare, ARCH:TAG or ARCH:/path/to/checkpoint (default: --model)")
    p.add_argument("--labels", nargs="+", choices=["short", "long"], default=["short", "long"],
                   help="label types to use as queries (default: both)")
    p.add_argument("--out", help="report folder (default: SET-eval beside the set)")
    p.add_argument("--no-fuse", action="store_true", help="skip reciprocal rank fusion of model pairs")
    p.add_argument("--import-captions", metavar="CAPTIONS.csv",
                   help="first build SET from a caption file (columns image,caption)")
    p.add_argument("--images", metavar="DIR", help="folder of the captioned images (added to the library)")
    p.add_argument("--folder", metavar="DIR",
                   help="rank within the photos under this library folder only (one data set of several)")
    p.add_argument("--templates", nargs="+", metavar="TEMPLATE",
                   help='prompt templates to compare, {} is the query: --templates "{}" "a photo of {}"')
    p.add_argument("--ensemble", action="store_true",
                   help="also rank with the mean of the templates' text embeddings (renormalised)")
    p.add_argument("--noise", choices=["typos", "junk"],
                   help="add the same queries with typos, or with random non-words appended, "
                        "and report the drop")
    p.add_argument("--seed", type=int, default=0, help="seed of --noise (default 0)")
    p.add_argument("--judged", metavar="FILE",
                   help="evaluate against a judged set (query,image,grade CSV from `glimpse judge`) "
                        "instead of the known-item labels; SET supplies the query categories")
    p.add_argument("--relevant-grade", type=int, default=DEFAULT_RELEVANT_GRADE, choices=range(1, 5),
                   metavar="G", help=f"with --judged: grades >= G count as relevant (default "
                   f"{DEFAULT_RELEVANT_GRADE})")
    p.set_defaults(func=cmd_eval)

    help_text = ("Judge pooled results for a judged set: for each query of SET, the top 20 of every "
                 "model (pooled, shuffled, model names hidden) are graded 0-4 with one key each.")
    p = sub.add_parser("judge", parents=[common], help=help_text,
                       description=help_text + " Grades are saved at once as query,image,grade CSV; "
                       "pairs already graded are skipped, so a session resumes.")
    p.add_argument("set", help="label set CSV whose labels are the queries")
    p.add_argument("--models", nargs="+", metavar="MODEL", help="models whose results are pooled (default: --model)")
    p.add_argument("--judged", metavar="FILE", help="judged set to write (default: SET-judged.csv beside SET)")
    p.add_argument("--labels", nargs="+", choices=["short", "long"], default=["short"],
                   help="label types used as queries (default: short)")
    p.add_argument("--seed", type=int, default=0, help="shuffling seed (default 0)")
    p.add_argument("--folder", metavar="DIR", help="pool from the photos under this library folder only")
    p.set_defaults(func=cmd_judge)

    help_text = "Manage label sets."
    labels = sub.add_parser("labels", help=help_text, description=help_text)
    labels_sub = labels.add_subparsers(dest="labels_command", required=True, metavar="COMMAND")
    help_text = ("Turn a caption file (columns image,caption; several captions per image allowed) "
                 "into a label set, and add the image folder to the library.")
    p = labels_sub.add_parser("import", parents=[common], help=help_text, description=help_text)
    p.add_argument("captions", help="caption CSV with columns image,caption")
    p.add_argument("--images", required=True, metavar="DIR", help="folder holding the images")
    p.add_argument("--out", required=True, metavar="SET.csv", help="new label set to write")
    p.add_argument("--long", choices=["each", "longest", "joined", "none"], default="each",
                   help="each (default): every caption its own short query; longest/joined/none: one "
                        "row per image, the shortest caption as short label and as long label the "
                        "longest other caption, the others joined, or nothing")
    p.set_defaults(func=cmd_labels_import)
