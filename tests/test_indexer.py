"""Indexing: first run, no-op re-run, add/modify/rename/move/delete, bad files."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np

from conftest import make_photo
from glimpse.core.jobs import CancelToken


def _encoded(lib) -> int:
    return len(lib.catalog.embedding_ids(lib.model_key()))


def test_first_index_encodes_every_photo(library, photo_dir: Path) -> None:
    library.add_folder(photo_dir)
    seen = []
    report = library.index(progress=seen.append)
    assert report.scan.added == 8
    assert report.encode.encoded == 8 and report.encode.failed == 0
    assert _encoded(library) == 8
    assert len(library.index_for()) == 8
    assert seen and seen[-1].done == seen[-1].total == 8
    row = library.catalog.photo_by_path(str(photo_dir / "img_00.jpg"))
    assert (row.width, row.height, row.status) == (96, 72, "ok")


def test_reindex_unchanged_folder_does_no_work(library, photo_dir: Path) -> None:
    library.add_folder(photo_dir)
    library.index()
    report = library.index()
    assert report.scan.unchanged == 8
    assert (report.scan.added, report.scan.changed, report.scan.moved) == (0, 0, 0)
    assert report.encode.encoded == 0


def test_add_modify_rename_move_delete(library, photo_dir: Path) -> None:
    library.add_folder(photo_dir)
    library.index()
    moved_id = library.catalog.photo_by_path(str(photo_dir / "img_01.jpg")).id
    renamed_id = library.catalog.photo_by_path(str(photo_dir / "img_02.jpg")).id
    before_vec = library.catalog.embedding_for(moved_id, library.model_key())

    make_photo(photo_dir / "new.jpg", seed=100)  # add
    make_photo(photo_dir / "img_00.jpg", seed=200)  # modify in place
    (photo_dir / "elsewhere").mkdir()
    shutil.move(photo_dir / "img_01.jpg", photo_dir / "elsewhere" / "img_01.jpg")  # move
    os.rename(photo_dir / "img_02.jpg", photo_dir / "renamed.jpg")  # rename
    (photo_dir / "img_03.jpg").unlink()  # delete

    report = library.index()
    assert report.scan.added == 1
    assert report.scan.changed == 1
    assert report.scan.moved == 2
    assert report.scan.removed == 1
    # Moves and renames keep their row and vectors: only new + changed encode.
    assert report.encode.encoded == 2
    moved = library.catalog.photo_by_path(str(photo_dir / "elsewhere" / "img_01.jpg"))
    assert moved.id == moved_id
    assert np.array_equal(library.catalog.embedding_for(moved_id, library.model_key()), before_vec)
    assert library.catalog.photo_by_path(str(photo_dir / "renamed.jpg")).id == renamed_id
    # A deleted photo's row is kept (status 'missing', vectors too) for a while,
    # but it is no longer indexed or searchable.
    assert library.catalog.photo_by_path(str(photo_dir / "img_03.jpg")).status == "missing"
    assert _encoded(library) == 8
    assert library.index_for().ids == set(library.catalog.embedding_ids(library.model_key()).tolist())


def test_exact_copy_reuses_vectors(library, photo_dir: Path) -> None:
    library.add_folder(photo_dir)
    library.index()
    shutil.copy(photo_dir / "img_04.jpg", photo_dir / "copy.jpg")
    report = library.index()
    assert report.scan.copied == 1 and report.encode.encoded == 0
    hits = library.similar(photo_dir / "img_04.jpg", k=2)
    assert {h.path for h in hits} == {str(photo_dir / "img_04.jpg"), str(photo_dir / "copy.jpg")}


def test_touch_without_content_change_does_not_reencode(library, photo_dir: Path) -> None:
    library.add_folder(photo_dir)
    library.index()
    os.utime(photo_dir / "img_05.jpg", ns=(1, 10**18))
    report = library.index()
    assert report.scan.changed == 0 and report.encode.encoded == 0


def test_bad_files_are_recorded_and_skipped(library, photo_dir: Path) -> None:
    (photo_dir / "empty.jpg").write_bytes(b"")
    (photo_dir / "text.jpg").write_text("this is not a photo")
    good = (photo_dir / "img_00.jpg").read_bytes()
    (photo_dir / "truncated.jpg").write_bytes(good[: len(good) // 2])
    library.add_folder(photo_dir)
    report = library.index()
    assert report.encode.encoded == 8
    assert report.encode.failed == 3
    reasons = dict(library.errors())
    assert "empty" in reasons[str(photo_dir / "empty.jpg")]
    assert "not an image" in reasons[str(photo_dir / "text.jpg")]
    assert "truncated" in reasons[str(photo_dir / "truncated.jpg")]
    # A failed file is not retried while unchanged, and is retried once fixed.
    assert library.index().encode.failed == 0
    make_photo(photo_dir / "text.jpg", seed=300)
    assert library.index().encode.encoded == 1


def test_file_vanishing_mid_run_is_recorded_not_fatal(library, photo_dir: Path, monkeypatch) -> None:
    from glimpse.core.media import imaging

    library.add_folder(photo_dir)
    library.sync()
    victim = str(photo_dir / "img_02.jpg")
    real = imaging.decode_for_model

    def vanish_then_decode(path, min_side=224):  # type: ignore[no-untyped-def]
        if str(path) == victim and os.path.exists(victim):
            os.unlink(victim)
        return real(path, min_side)

    monkeypatch.setattr(imaging, "decode_for_model", vanish_then_decode)
    report = library.encode()
    assert report.encoded == 7 and report.failed == 1
    assert "vanished" in dict(library.errors())[victim]
    # The next scan notices the file is gone and forgets it.
    assert library.index().scan.removed == 1
    assert library.errors() == []


def test_cancel_stops_after_a_batch_and_resume_finishes(library, tmp_path: Path) -> None:
    folder = tmp_path / "many"
    for i in range(20):
        make_photo(folder / f"p{i:02d}.jpg", seed=i)
    library.add_folder(folder)
    token = CancelToken()
    batches = []

    def on_progress(p) -> None:  # type: ignore[no-untyped-def]
        if p.phase == "encode":
            batches.append(p.done)
            token.cancel()

    report = library.index(progress=on_progress, cancel=token, batch_size=4)
    assert report.cancelled
    assert report.encode.encoded == 4 == _encoded(library)
    report = library.index(batch_size=4)
    assert report.encode.encoded == 16
    assert _encoded(library) == 20


def test_pause_blocks_until_resumed(library, photo_dir: Path) -> None:
    import threading

    library.add_folder(photo_dir)
    token = CancelToken()
    paused = threading.Event()

    def on_progress(p) -> None:  # type: ignore[no-untyped-def]
        if p.phase == "encode" and p.done == 2:
            token.pause()
            paused.set()

    result = {}
    worker = threading.Thread(
        target=lambda: result.setdefault("r", library.index(progress=on_progress, cancel=token, batch_size=2))
    )
    worker.start()
    assert paused.wait(30)
    worker.join(0.3)
    assert worker.is_alive() and _encoded(library) == 2
    token.resume()
    worker.join(30)
    assert result["r"].encode.encoded == 8


def test_removed_folder_forgets_its_photos(library, photo_dir: Path) -> None:
    library.add_folder(photo_dir)
    library.index()
    assert library.remove_folder(photo_dir) == 8
    assert library.folders() == []
    assert len(library.index_for()) == 0
