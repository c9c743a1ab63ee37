"""The generic pass machinery with a toy pass: resumable, versioned, content-aware."""

from __future__ import annotations

import threading
from pathlib import Path

from PIL import Image

from conftest import make_photo
from glimpse.core.errors import GlimpseError
from glimpse.core.indexing.passes import pending, run_pass
from glimpse.core.jobs import CancelToken
from glimpse.core.media import imaging
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


class PixelPass(CatalogPass):
    """Records the size of the image it is given; optionally waits, on its first
    photo, until the runner has started decoding another photo."""

    name = "pixels"
    version = 1
    pixels = 200  # larger than every test photo: each keeps its own size

    def __init__(self, wait_for: threading.Event | None = None) -> None:
        self.seen: dict[str, tuple[int, int]] = {}
        self.wait_for = wait_for
        self.overlapped: bool | None = None

    def process(self, row: PhotoRow) -> None:
        raise AssertionError("photos are decoded by the runner")

    def process_image(self, row: PhotoRow, image: Image.Image) -> tuple[int, int]:
        if self.wait_for is not None and self.overlapped is None:
            self.overlapped = self.wait_for.wait(timeout=10)
        self.seen[Path(row.path).name] = image.size
        return image.size

    def store(self, catalog: Catalog, db, row: PhotoRow, result: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
        pass


def test_the_next_photo_decodes_while_this_one_is_read(  # type: ignore[no-untyped-def]
    library, tmp_path: Path, monkeypatch
) -> None:
    """Decoding runs a photo ahead, in a thread, and each pass still gets its own
    photo's pixels (sizes differ per photo) and its own photo's decode error."""
    folder = tmp_path / "sizes"
    for i in range(6):
        make_photo(folder / f"p{i}.jpg", seed=i, size=(40 + 8 * i, 30))
    make_photo(folder / "broken.jpg", seed=9)
    library.add_folder(folder)
    library.index()
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 damaged since it was indexed")
    decoding = threading.Event()
    main = threading.current_thread()
    real = imaging.make_thumbnail
    decoded_in: list[bool] = []

    def make_thumbnail(path, max_side):  # type: ignore[no-untyped-def]
        decoded_in.append(threading.current_thread() is main)
        if len(decoded_in) >= 2:
            decoding.set()  # a second photo is decoding while the first is read
        return real(path, max_side)

    monkeypatch.setattr(imaging, "make_thumbnail", make_thumbnail)
    p = PixelPass(wait_for=decoding)
    report = run_pass(library.catalog, p, batch_size=2)
    assert p.overlapped is True and not any(decoded_in)
    assert (report.done, report.failed) == (6, 1) and "broken.jpg" in report.errors[0][0]
    assert p.seen == {f"p{i}.jpg": (40 + 8 * i, 30) for i in range(6)}


def test_cancel_with_a_photo_decoded_ahead_leaves_it_to_do(library, photo_dir: Path) -> None:  # type: ignore[no-untyped-def]
    library.add_folder(photo_dir)
    library.index()
    token = CancelToken()
    p = PixelPass()

    def progress(pr) -> None:  # type: ignore[no-untyped-def]
        if pr.done == 3:
            token.cancel()

    report = run_pass(library.catalog, p, progress, token)
    assert report.cancelled and report.done == 3 and len(p.seen) == 3
    assert len(pending(library.catalog, p)) == 5
    assert run_pass(library.catalog, p).done == 5 and len(p.seen) == 8
