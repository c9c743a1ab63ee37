"""`glimpse check`: the catalog verified, what is damaged repaired, the rest reported;
and every repair also a line in `glimpse errors`."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from conftest import TINY_MODEL


def _vector_ids(lib, key: int) -> list[int]:  # type: ignore[no-untyped-def]
    return [r[0] for r in lib.catalog.read(
        "SELECT photo_id FROM embeddings WHERE model_key=? ORDER BY photo_id", (key,))]


def _damage(lib) -> tuple[int, int, int, int]:  # type: ignore[no-untyped-def]
    """Cut one vector short, put NaN in one, give one another model's width, and
    leave a pass record and a place of a photo that no longer exists."""
    cat = lib.catalog
    key = cat.known_model(lib.spec.model_id)[0]
    cut, nan, other, _ = _vector_ids(lib, key)[:4]
    # A second connection, foreign keys off (SQLite's default), as an old tool or a
    # bad copy would write.
    db = sqlite3.connect(cat.path, isolation_level=None)
    try:
        blob = db.execute("SELECT vector FROM embeddings WHERE photo_id=?", (cut,)).fetchone()[0]
        db.execute("UPDATE embeddings SET vector=? WHERE photo_id=?", (blob[: len(blob) // 2], cut))
        poisoned = np.frombuffer(blob, "<f2").copy()
        poisoned[0] = np.inf
        db.execute("UPDATE embeddings SET vector=? WHERE photo_id=?", (poisoned.tobytes(), nan))
        db.execute("UPDATE embeddings SET vector=? WHERE photo_id=?",
                   (np.zeros(len(blob), "<f2").tobytes(), other))  # twice the width
        db.execute("INSERT INTO pass_state(pass, photo_id, version, fingerprint, done_at) "
                   "VALUES ('ocr', 99999, 1, 'x', 0)")
        db.execute("INSERT INTO places(photo_id, lat, lon) VALUES (99998, 1.0, 2.0)")
        db.execute("INSERT INTO pass_state(pass, photo_id, version, fingerprint, done_at) "
                   f"VALUES ('retired_pass', {cut}, 1, 'x', 0)")
    finally:
        db.close()
    return key, cut, nan, other


def test_check_finds_repairs_and_reports_damage_then_the_library_is_sound(
    library, photo_dir: Path
) -> None:
    library.add_folder(photo_dir)
    library.index(only={"scan", "encode"})
    key, cut, nan, other = _damage(library)

    looked = library.check(repair=False)
    assert not looked.sound
    text = "\n".join(f.message for f in looked.findings)
    assert "3 stored vectors of GlimpseTiny:random are damaged" in text
    assert "pass_state.photo_id" in text and "places.photo_id" in text
    assert "'retired_pass'" in text
    assert looked.vectors == 8
    assert len(_vector_ids(library, key)) == 8  # --no-repair changed nothing

    fixed = library.check(repair=True)
    assert all(f.repaired or f.note for f in fixed.findings), fixed.findings
    assert fixed.sound and fixed.needs_index
    assert set(_vector_ids(library, key)) .isdisjoint({cut, nan, other})
    assert library.catalog.read("SELECT COUNT(*) FROM pass_state WHERE photo_id=99999")[0][0] == 0
    assert library.catalog.read("SELECT COUNT(*) FROM places WHERE photo_id=99998")[0][0] == 0
    assert "retired_pass" not in library.catalog.pass_names()

    repaired = {r.path: r for r in library.repairs()}
    paths = {library.photo(i).path for i in (cut, nan, other)}
    assert set(repaired) == paths and not any(r.fixed for r in repaired.values())
    assert "has 16 values where the model has 32" in repaired[library.photo(cut).path].what
    assert "has 64 values where the model has 32" in repaired[library.photo(other).path].what
    assert "not numbers" in repaired[library.photo(nan).path].what

    report = library.index(only={"scan", "encode"})
    assert report.encode.encoded == 3
    assert all(r.fixed for r in library.repairs())
    again = library.check(repair=False)
    assert not [f for f in again.findings if not f.note], again.findings


def test_check_says_a_damaged_catalog_file_cannot_be_mended_in_place(tmp_path: Path) -> None:
    from glimpse.core.indexing.check import check_catalog
    from glimpse.core.storage.catalog import Catalog

    path = tmp_path / "lib" / "catalog.sqlite"
    cat = Catalog(path)
    with cat.transaction() as db:
        db.execute("CREATE TABLE filler (x BLOB)")
        db.executemany("INSERT INTO filler VALUES (?)", [(bytes(3000),) for _ in range(200)])
        db.execute("CREATE INDEX filler_x ON filler(x)")
    cat.close()
    raw = bytearray(path.read_bytes())
    page = 4096
    root = sqlite3.connect(path).execute(
        "SELECT rootpage FROM sqlite_master WHERE name='filler_x'").fetchone()[0]
    start = (root - 1) * page
    raw[start : start + page] = b"\xff" * page  # the index's root page scribbled over
    path.write_bytes(bytes(raw))
    cat = Catalog(path)
    try:
        report = check_catalog(cat, TINY_MODEL, (), repair=True)
    finally:
        cat.close()
    assert not report.sound
    assert "is damaged" in report.findings[0].message
    assert "move it aside" in report.findings[0].message


def test_cli_check_and_errors_tell_the_user(tmp_path: Path, photo_dir: Path) -> None:
    from glimpse.cli import main
    from glimpse.core.library import Library

    lib_dir = tmp_path / "clilib"
    with Library(lib_dir, model=TINY_MODEL) as lib:
        lib.add_folder(photo_dir)
        lib.index(only={"scan", "encode"})
        _, cut, _, _ = _damage(lib)
        cut_path = lib.photo(cut).path
    base = ["--library", str(lib_dir), "--model", TINY_MODEL]

    def run(*args: str) -> tuple[int, str]:
        import contextlib
        import io

        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            rc = main([*args, *base])
        return rc, out.getvalue()

    rc, out = run("check", "--no-repair")
    assert rc == 1 and "[DAMAGED] 3 stored vectors" in out
    rc, out = run("check", "--no-index")
    assert rc == 0 and "[repaired] 3 stored vectors" in out
    rc, out = run("errors", "--json")
    rows = json.loads(out)
    repaired = [r for r in rows if r["kind"] == "repaired"]
    assert cut_path in {r["path"] for r in repaired}
    assert all("encodes the photo again" in r["reason"] for r in repaired)
    rc, out = run("errors")
    assert f"{cut_path}: its stored vector has" in out


@pytest.mark.parametrize("what", ["short", "nan"])
def test_a_vector_damaged_while_searching_is_listed_by_errors(
    library, photo_dir: Path, what: str
) -> None:
    library.add_folder(photo_dir)
    library.index(only={"scan", "encode"})
    key = library.catalog.known_model(library.spec.model_id)[0]
    victim = _vector_ids(library, key)[0]
    with library.catalog.transaction() as db:
        blob = db.execute("SELECT vector FROM embeddings WHERE photo_id=?", (victim,)).fetchone()[0]
        bad = blob[:6] if what == "short" else np.full(len(blob) // 2, np.nan, "<f2").tobytes()
        db.execute("UPDATE embeddings SET vector=? WHERE photo_id=?", (bad, victim))
    library._indexes.clear()  # as a fresh start would: the index is read from the catalog
    assert len(library.search("anything", k=20)) == 7
    (row,) = library.repairs()
    assert row.path == library.photo(victim).path and not row.fixed
    assert ("3 values where" in row.what) if what == "short" else ("not numbers" in row.what)
