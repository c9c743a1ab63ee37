"""Full disks and layering: clear errors, nothing lost, core free of Qt."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from conftest import make_photo
from glimpse.core.errors import CatalogError, GlimpseError
from glimpse.core.storage.files import atomic_write


def test_full_disk_during_indexing_is_a_clear_error_and_keeps_committed_work(
    library, tmp_path: Path
) -> None:
    folder = tmp_path / "many"
    for i in range(160):  # enough 32-d vectors to need new database pages
        make_photo(folder / f"p{i:03d}.jpg", seed=i, size=(16, 16))
    library.add_folder(folder)
    library.sync()
    db = library.catalog._db
    used = db.execute("PRAGMA page_count").fetchone()[0]
    # SQLite's own cap makes it answer exactly as a full disk does (SQLITE_FULL).
    db.execute(f"PRAGMA max_page_count={used}")
    with pytest.raises(CatalogError, match="is full"):
        library.encode(batch_size=16)
    committed = len(library.catalog.embedding_ids(library.model_key()))
    assert 0 < committed < 160
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.execute("PRAGMA max_page_count=1073741823")  # space freed
    assert library.encode(batch_size=4).encoded == 160 - committed


def test_full_disk_while_saving_settings_keeps_previous_file(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text('{"model": "x"}', encoding="utf-8")
    before = path.read_bytes()

    def no_space(tmp: Path) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(GlimpseError, match="disk .* is full"):
        atomic_write(path, no_space)
    assert path.read_bytes() == before
    assert not list(tmp_path.glob("*.tmp"))


def test_a_damaged_stored_vector_is_left_out_removed_and_encoded_again(
    library, photo_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """One vector cut to half its length and one holding NaN: searches still
    answer from the other six, the log names the damage, and the next index run
    encodes the two photos again."""
    import logging

    import numpy as np

    library.add_folder(photo_dir)
    library.index(only={"scan", "encode"})
    cat = library.catalog
    key = cat.known_model(library.spec.model_id)[0]
    (cut, poisoned), = [tuple(r[0] for r in cat.read(
        "SELECT photo_id FROM embeddings WHERE model_key=? ORDER BY photo_id LIMIT 2", (key,)))]
    with cat.transaction() as db:
        blob = db.execute("SELECT vector FROM embeddings WHERE photo_id=?", (cut,)).fetchone()[0]
        db.execute("UPDATE embeddings SET vector=? WHERE photo_id=?", (blob[: len(blob) // 2], cut))
        nan = np.frombuffer(blob, "<f2").copy()
        nan[3] = np.nan
        db.execute("UPDATE embeddings SET vector=? WHERE photo_id=?", (nan.tobytes(), poisoned))
    library.close()

    from glimpse.core.library import Library

    with caplog.at_level(logging.WARNING), Library(library.root, model=library.spec) as lib:
        hits = lib.search("a red bicycle", k=20)
        assert len(hits) == 6 and {cut, poisoned}.isdisjoint(h.photo_id for h in hits)
        assert "2 damaged stored vector(s) in embeddings" in caplog.text
        left = {r[0] for r in lib.catalog.read("SELECT photo_id FROM embeddings WHERE model_key=?", (key,))}
        assert len(left) == 6 and {cut, poisoned}.isdisjoint(left)
        report = lib.index(only={"scan", "encode"})
        assert report.encode.encoded == 2
        assert len(lib.search("a red bicycle", k=20)) == 8
