"""The generic pass machinery with a toy pass: resumable, versioned, content-aware."""

from __future__ import annotations

from pathlib import Path

from conftest import make_photo
from glimpse.core.errors import GlimpseError
from glimpse.core.indexing.passes import pending, run_pass
from glimpse.core.jobs import CancelToken
from glimpse.core.signals.base import CatalogPass
from glimpse.core.storage.catalog import Catalog, PhotoRow


class SizePass(CatalogPass):
    """Records each file's size in a dict; fails on files named bad*."""

    name = "size"

    def __init__(self, version: int = 1) -> None:
        self.version = version
        self.stored: dict[int, int] = {}
        self.processed: list[str] = []

    def process(self, row: PhotoRow) -> int:
        self.processed.append(Path(row.path).name)
        if Path(row.path).name.startswith("bad"):
            raise GlimpseError("cannot size this one")
        return Path(row.path).stat().st_size

    def store(self, catalog: Catalog, db, row: PhotoRow, result: int) -> None:  # type: ignore[no-untyped-def]
        self.stored[row.id] = result


def test_a_pass_runs_once_per_content_and_version(library, photo_dir: Path) -> None:  # type: ignore[no-untyped-def]
    make_photo(photo_dir / "bad.jpg", seed=99)
    library.add_folder(photo_dir)
    library.index()
    p = SizePass()
    report = run_pass(library.catalog, p, batch_size=3)
    assert (report.done, report.failed, report.remaining) == (8, 1, 0)
    assert report.errors[0][1] == "cannot size this one"
    assert len(p.stored) == 8 and pending(library.catalog, p) == []
    assert library.catalog.pass_counts("size", 1) == (9, 9)  # failures count as done

    p.processed.clear()
    assert run_pass(library.catalog, p).done == 0 and p.processed == []
    make_photo(photo_dir / "img_00.jpg", seed=1234)  # new content at a known path
    (photo_dir / "img_01.jpg").rename(photo_dir / "moved.jpg")  # same content, new name
    library.index()
    run_pass(library.catalog, p)
    assert p.processed == ["img_00.jpg"]
    assert run_pass(library.catalog, SizePass(version=2)).done == 8  # a new version redoes all


def test_cancel_keeps_what_was_finished(library, photo_dir: Path) -> None:  # type: ignore[no-untyped-def]
    library.add_folder(photo_dir)
    library.index()
    token = CancelToken()
    p = SizePass()

    def progress(pr) -> None:  # type: ignore[no-untyped-def]
        assert pr.phase == "size" and pr.total == 8
        if pr.done == 5:
            token.cancel()

    report = run_pass(library.catalog, p, progress, token, batch_size=2)
    assert report.cancelled and report.done == 5 and report.remaining == 3
    assert len(pending(library.catalog, p)) == 3  # the half batch was committed too
