"""A self-contained end-to-end check of the engine: `glimpse self-test`.

Why it exists: a frozen bundle (PyInstaller) can build fine and still be broken
at run time - a data file of open_clip left out, a torch library missing, a
hidden import forgotten. This check touches every layer a real search touches
(Pillow decode, the open_clip model and its BPE tokenizer, torch, SQLite,
faiss's vector index) with no network and no user data, so
a broken bundle fails here, in seconds, before anyone ships it.

It builds everything it needs in a temporary folder: a tiny model with random
(but seeded, hence repeatable) weights, three generated photos that differ in
every pixel block, and a fresh library. Nothing outside that folder is read or
written, so it is safe to run on a user's machine. No printing here: each step
is passed as a line to the caller's `report` callback.
"""

from __future__ import annotations

import math
import platform
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from glimpse.core.encoding.encoder import RANDOM_TAG, TINY_TEST_ARCH

SELF_TEST_MODEL = f"{TINY_TEST_ARCH}:{RANDOM_TAG}"
PHOTO_COUNT = 3

Report = Callable[[str], None]


class SelfTestFailure(Exception):
    """A check did not hold; the message says which and what was seen."""


@dataclass
class StepResult:
    name: str
    seconds: float
    detail: str = ""


@dataclass
class SelfTestResult:
    """What the run found: `passed`, and if not, the failing step and why."""

    passed: bool
    steps: list[StepResult] = field(default_factory=list)
    failed_step: str | None = None
    message: str = ""
    details: str = ""  # traceback of an unexpected error, for bug reports
    seconds: float = 0.0


def environment_summary() -> str:
    """Versions that matter when a bundle misbehaves: put them in every report."""
    import faiss  # noqa: F401  (import is the check: the native module loads)
    import numpy
    import open_clip
    import PIL
    import torch

    frozen = "frozen bundle" if getattr(sys, "frozen", False) else "Python environment"
    return (
        f"Python {platform.python_version()} on {platform.system()} {platform.machine()} "
        f"({frozen}); torch {torch.__version__}, open_clip {open_clip.__version__}, "
        f"numpy {numpy.__version__}, Pillow {PIL.__version__}"
    )


def make_test_photos(folder: Path, count: int = PHOTO_COUNT) -> list[Path]:
    """Generated photos that differ everywhere, so a random model still tells them apart.

    Each is a grid of random colour blocks from its own seed, plus a drawn shape,
    saved as JPEG so the real decode path (not just raw arrays) is exercised.
    """
    import numpy as np
    from PIL import Image, ImageDraw

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        rng = np.random.default_rng(1000 + i)
        blocks = rng.integers(0, 256, size=(6, 8, 3), dtype=np.uint8)
        img = Image.fromarray(blocks, "RGB").resize((128, 96), Image.Resampling.NEAREST)
        draw = ImageDraw.Draw(img)
        colour = ((255, 40, 40), (40, 200, 40), (40, 80, 255))[i % 3]
        draw.ellipse((20 + 10 * i, 16, 76 + 10 * i, 72), fill=colour)
        path = folder / f"selftest_{i + 1}.jpg"
        img.save(path, "JPEG", quality=90)
        paths.append(path)
    return paths


class _Runner:
    """Runs named steps, timing each and turning surprises into a clear failure."""

    def __init__(self, report: Report) -> None:
        self.report = report
        self.steps: list[StepResult] = []
        self.total = 0

    def step(self, name: str, fn: Callable[[], str]) -> None:
        self.total += 1
        start = time.perf_counter()
        try:
            detail = fn()
        except SelfTestFailure:
            raise
        except Exception as exc:  # any error in a step is the finding, not a crash
            raise SelfTestFailure(f"{type(exc).__name__}: {exc}") from exc
        finally:
            elapsed = time.perf_counter() - start
        self.steps.append(StepResult(name, elapsed, detail))
        self.report(f"[{self.total}] {name}: {detail} ({elapsed:.2f}s)")


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise SelfTestFailure(message)


def run_self_test(report: Report | None = None, device: str = "cpu") -> SelfTestResult:
    """Build, index and search a throw-away library; return whether it all held.

    CPU by default: the point is to prove the bundle works, and the CPU path is
    the one every machine has. Never raises for a failed check (only for
    KeyboardInterrupt); the result says what failed.
    """
    say: Report = report or (lambda line: None)
    runner = _Runner(say)
    start = time.perf_counter()
    current = ["start"]
    workdir = Path(tempfile.mkdtemp(prefix="glimpse-selftest-"))
    lib = None
    try:

        def run(name: str, fn: Callable[[], str]) -> None:
            current[0] = name
            runner.step(name, fn)

        run("environment", environment_summary)

        photos: list[Path] = []

        def generate() -> str:
            photos.extend(make_test_photos(workdir / "photos"))
            return f"{len(photos)} distinct JPEGs in {workdir}"

        run("generate photos", generate)

        def load_model() -> str:
            nonlocal lib
            from glimpse.core.library import Library

            lib = Library(workdir / "library", model=SELF_TEST_MODEL, device=device,
                          cache_dir=workdir / "cache")
            enc = lib.encoder
            return f"{SELF_TEST_MODEL} ({enc.dim}-d vectors) on {enc.device}"

        run("load model", load_model)
        assert lib is not None

        def index() -> str:
            assert lib is not None
            lib.add_folder(workdir / "photos")
            rep = lib.index(batch_size=2)
            _check(rep.scan.added == PHOTO_COUNT,
                   f"the scan found {rep.scan.added} new photos, expected {PHOTO_COUNT}")
            _check(rep.encode.failed == 0,
                   f"{rep.encode.failed} photos could not be read: {rep.encode.errors}")
            _check(rep.encode.encoded == PHOTO_COUNT,
                   f"{rep.encode.encoded} photos were encoded, expected {PHOTO_COUNT}")
            ok = lib.status().counts.get("ok", 0)
            _check(ok == PHOTO_COUNT, f"the catalog lists {ok} indexed photos, expected {PHOTO_COUNT}")
            return f"{rep.encode.encoded} photos encoded, catalog agrees"

        run("index", index)
        expected = {str(p.resolve()) for p in photos}

        def text_search() -> str:
            assert lib is not None
            hits = lib.search("a red circle on a colourful background", k=PHOTO_COUNT)
            paths = [h.path for h in hits]
            _check(len(hits) == PHOTO_COUNT,
                   f"the text query returned {len(hits)} photos, expected {PHOTO_COUNT}")
            _check(set(paths) == expected, f"the text query returned unexpected photos: {paths}")
            scores = [h.score for h in hits]
            _check(all(math.isfinite(s) for s in scores), f"non-finite scores: {scores}")
            _check(scores == sorted(scores, reverse=True), f"scores are not ranked: {scores}")
            return f"{len(hits)} ranked results"

        run("text search", text_search)

        def image_search() -> str:
            assert lib is not None
            # A copy outside the library is encoded afresh, so this checks that
            # decode + encode give the same vector as at indexing time.
            query = workdir / "query.jpg"
            for photo in photos:
                shutil.copyfile(photo, query)
                for source, label in ((photo, "indexed photo"), (query, "copy of it")):
                    hits = lib.similar(source, k=PHOTO_COUNT)
                    _check(bool(hits), f"the image query with the {label} {photo.name} found nothing")
                    _check(hits[0].path == str(photo.resolve()),
                           f"the image query with the {label} {photo.name} ranked "
                           f"{Path(hits[0].path).name} first, not the photo itself")
            return f"each of {len(photos)} photos finds itself first (stored and re-encoded)"

        run("image search", image_search)

        def reopen() -> str:
            nonlocal lib
            from glimpse.core.library import Library

            assert lib is not None
            lib.close()
            lib = Library(workdir / "library", model=SELF_TEST_MODEL, device=device,
                          cache_dir=workdir / "cache")
            hits = lib.similar(photos[0], k=PHOTO_COUNT)
            _check(len(hits) == PHOTO_COUNT and hits[0].path == str(photos[0].resolve()),
                   f"after reopening, the index read from the catalog answered {[h.path for h in hits]}")
            return "reopened catalog rebuilds the index and answers"

        run("reopen library", reopen)
        elapsed = time.perf_counter() - start
        return SelfTestResult(True, runner.steps, seconds=elapsed,
                              message=f"self-test passed in {elapsed:.1f}s")
    except SelfTestFailure as exc:
        cause = exc.__cause__
        details = "".join(traceback.format_exception(cause)) if cause is not None else ""
        return SelfTestResult(
            False, runner.steps, failed_step=current[0],
            message=f"self-test failed at step '{current[0]}': {exc}",
            details=details, seconds=time.perf_counter() - start,
        )
    finally:
        if lib is not None:
            try:
                lib.close()
            except Exception:  # closing twice or a half-built library: nothing to save
                pass
        shutil.rmtree(workdir, ignore_errors=True)
