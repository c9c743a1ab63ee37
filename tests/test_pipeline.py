"""The declared pipeline (core/indexing/pipeline.py): one order, one runner, every front end."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import TINY_MODEL, make_photo
from glimpse.core.errors import EngineUnavailable
from glimpse.core.indexing import pipeline
from glimpse.core.indexing.passes import run_passes
from glimpse.core.media import imaging
from glimpse.core.signals.base import CatalogPass
from glimpse.core.signals.registry import SIGNALS, signal_stages

ASSETS = Path(__file__).parent / "assets" / "faces"


def test_stages_are_declared_once_in_priority_order() -> None:
    names = [s.name for s in pipeline.stages()]
    assert names[:2] == ["scan", "encode"]  # meaning before any signal
    assert names[2:] == [e.name for e in SIGNALS] == [s.name for s in signal_stages()]
    assert names.index("places") < names.index("ocr") < names.index("faces")  # cheap first
    assert {s.switch for s in pipeline.switches()} == {"ocr", "faces", "own-words"}
    assert pipeline.describe("scan") == ("Scanning", "files")
    assert pipeline.describe("ocr+faces") == ("Reading text and looking for faces in", "photos")
    assert pipeline.is_background("ocr+faces") and not pipeline.is_background("encode")
    with pytest.raises(Exception, match="turned off as nonsense"):
        pipeline.selected(skip={"nonsense"})


def test_cli_switches_come_from_the_declarations() -> None:
    from glimpse.cli.main import build_parser

    for command in ("index", "watch"):
        args = build_parser().parse_args([command, "/x", "--no-ocr", "--no-own-words"])
        from glimpse.cli.indexing import skipped

        assert skipped(args) == {"ocr", "own-words"}


def test_index_runs_every_signal_and_reports_each(library, photo_dir: Path) -> None:  # type: ignore[no-untyped-def]
    library.add_folder(photo_dir)
    started: list[str] = []
    report = library.index(before_stage=lambda s: started.append(s.name))
    assert started == [s.name for s in pipeline.stages()]
    assert list(report.passes) == [e.name for e in SIGNALS]
    assert report.encode.encoded == 8
    for name in ("ocr", "faces", "own_words"):
        assert report.passes[name].done == 8, name
    # Every signal's progress comes from the catalog alone, all complete.
    assert {(p.name, p.done, p.total) for p in library.signal_progress()} == {
        (e.name, 8, 8) for e in SIGNALS}
    again = library.index()  # nothing new: no signal reads anything
    assert all(r.done == 0 for r in again.passes.values())


def test_a_switched_off_signal_does_not_run(library, photo_dir: Path) -> None:  # type: ignore[no-untyped-def]
    library.add_folder(photo_dir)
    report = library.index(skip={"ocr", "faces"})
    assert "ocr" not in report.passes and "faces" not in report.passes
    assert report.passes["own_words"].done == 8
    assert library.read_text().done == 8  # `glimpse ocr` runs that stage alone later


class _Counting(CatalogPass):
    def __init__(self, name: str, pixels: int, sizes: list[tuple[str, int]]) -> None:
        self.name, self.pixels, self.sizes = name, pixels, sizes

    def process_image(self, row, image):  # type: ignore[no-untyped-def]
        self.sizes.append((self.name, max(image.size)))
        return None

    def store(self, catalog, db, row, result) -> None:  # type: ignore[no-untyped-def]
        pass


def test_passes_that_read_pixels_share_one_decode(library, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "big"
    for i in range(3):
        make_photo(folder / f"p{i}.jpg", seed=i, size=(2400, 1800))
    library.add_folder(folder)
    library.index(skip={"ocr", "faces"})
    decodes: list[int] = []
    real = imaging.make_thumbnail

    def counting(path, max_side=256):  # type: ignore[no-untyped-def]
        decodes.append(max_side)
        return real(path, max_side)

    monkeypatch.setattr(imaging, "make_thumbnail", counting)
    sizes: list[tuple[str, int]] = []
    reports = run_passes(library.catalog, [_Counting("a", 1600, sizes), _Counting("b", 800, sizes)])
    assert decodes == [1600, 1600, 1600]  # one decode a photo, at the larger size
    assert sorted(set(sizes)) == [("a", 1600), ("b", 800)]  # each pass at its own size
    assert reports["a"].done == reports["b"].done == 3


def test_an_engine_that_cannot_run_marks_no_photo_done(library, photo_dir: Path) -> None:  # type: ignore[no-untyped-def]
    library.add_folder(photo_dir)
    library.index(skip={"ocr", "faces"})

    class Broken(CatalogPass):
        name, pixels = "broken", 256

        def process_image(self, row, image):  # type: ignore[no-untyped-def]
            raise EngineUnavailable("the model package is missing")

    with pytest.raises(EngineUnavailable):
        run_passes(library.catalog, [Broken()])
    assert library.catalog.pass_counts("broken", 1) == (0, 8)  # all still to do


def test_watch_processes_new_photos_through_every_stage(tmp_path: Path, photo_dir: Path) -> None:
    """`glimpse watch` once ran scan, encode and text only: faces waited for a later
    `glimpse index`. Now a photo copied into a watched folder gets every signal."""
    lib = tmp_path / "lib"
    env = {**__import__("os").environ, "GLIMPSE_LIBRARY": str(lib), "GLIMPSE_MODEL": TINY_MODEL,
           "GLIMPSE_NO_SERVICE": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "glimpse", "watch", str(photo_dir)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert _wait_for_line(proc, "Watching", 120)
        shutil.copy(ASSETS / "astronaut.jpg", photo_dir / "astronaut.jpg")
        deadline = time.monotonic() + 120
        faces = 0
        while time.monotonic() < deadline and faces == 0:
            time.sleep(1.0)
            faces = _faces_in(lib)
        assert faces >= 1, "the watcher did not look for faces in the new photo"
    finally:
        proc.terminate()
        proc.wait(30)


def _wait_for_line(proc: subprocess.Popen, text: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            return False
        if text in line:
            return True
    return False


def _faces_in(lib: Path) -> int:
    import sqlite3

    try:
        with sqlite3.connect(f"file:{lib / 'catalog.sqlite'}?mode=ro", uri=True, timeout=1) as db:
            return int(db.execute("SELECT COUNT(*) FROM faces").fetchone()[0])
    except sqlite3.Error:
        return 0


def test_signals_yield_to_newly_arrived_photos_then_resume_newest_first(  # type: ignore[no-untyped-def]
    library, tmp_path: Path
) -> None:
    """Meaning first: when `yield_to` says photos wait, the signals stop after the
    photo in hand (nothing read is lost); the next run encodes the newcomers and
    reads them before the back catalogue (newest first)."""
    folder = tmp_path / "photos"
    for i in range(6):
        make_photo(folder / f"old{i}.jpg", seed=i)
    library.add_folder(folder)
    library.index(only={"scan", "encode"})
    calls = {"n": 0}

    def new_photos_wait() -> bool:  # newcomers arrive while the third photo is read
        calls["n"] += 1
        return calls["n"] > 2

    report = library.index(only={"ocr"}, yield_to=new_photos_wait)
    assert report.yielded and report.passes["ocr"].cancelled
    read_first = library.signal_progress()
    ocr = next(s for s in read_first if s.name == "ocr")
    assert 0 < ocr.done < 6  # what was read is kept; the rest waits
    for i in range(3):
        make_photo(folder / f"new{i}.jpg", seed=100 + i)
    order: list[str] = []
    report = library.index(skip={"faces", "own-words"},
                           progress=lambda p: order.append(p.current or "") if p.phase == "ocr" else None)
    assert not report.yielded and report.encode.encoded == 3
    assert {Path(p).name for p in order[:3]} == {"new0.jpg", "new1.jpg", "new2.jpg"}
    ocr = next(s for s in library.signal_progress() if s.name == "ocr")
    assert ocr.done == ocr.total == 9


def test_the_cli_says_once_when_photos_are_searchable_and_the_signals_follow() -> None:
    import io

    from glimpse.cli.common import ProgressPrinter
    from glimpse.core.jobs import Progress

    out = io.StringIO()
    printer = ProgressPrinter(out)
    for phase in ("scan", "encode", "own_words", "ocr+faces"):
        printer(Progress(phase, 3, 3, 1.0, 0.0))
    lines = out.getvalue().splitlines()
    said = [i for i, line in enumerate(lines) if line.startswith("Searchable by meaning now")]
    assert len(said) == 1
    assert lines[said[0] - 1].startswith("Encoding 3/3")  # after meaning, before the signals
    assert lines[said[0] + 1].startswith("Reading the names and descriptions of 3/3")
