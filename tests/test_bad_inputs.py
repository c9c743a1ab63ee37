"""A user's worst day, inputs side: every bad file kind in a photo folder,
damaged or unwritable storage, and malformed queries. Each must end in a
sensible result or a clear message, never a hang or a traceback.

(0-byte, truncated and non-image files, files vanishing mid-read, and full
disks during commits are also covered in test_indexer.py, test_imaging.py and
test_robustness.py; here they are tried together with the rest.)
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import threading
from pathlib import Path

import pytest
from PIL import Image

from conftest import TINY_MODEL, make_photo
from glimpse.cli.main import main
from glimpse.core.library import Library
from glimpse.core.media import imaging

REPORT_ENV = "GLIMPSE_FAULT_REPORT"


def _report(name: str, tried: int, handled: int, kinds: list[str]) -> None:
    path = os.environ.get(REPORT_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            data = {"tried": tried, "handled": handled, "kinds": kinds}
            fh.write(json.dumps({"test": f"inputs-{name}", "data": data}) + "\n")


def _bad_folder(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A folder holding one of every bad kind; returns it and {kind: expected outcome}."""
    root = tmp_path / "bad"
    outside = tmp_path / "outside"
    make_photo(root / "good.jpg", seed=1)
    make_photo(outside / "elsewhere.jpg", seed=2)
    make_photo(outside / "album" / "in_linked_dir.jpg", seed=3)
    kinds: dict[str, str] = {}

    os.mkfifo(root / "fifo.jpg")
    kinds["FIFO named .jpg"] = "skipped"
    try:
        os.mknod(root / "device.jpg", stat.S_IFCHR | 0o644, os.makedev(1, 5))  # /dev/zero
    except (PermissionError, OSError):
        os.symlink("/dev/zero", root / "device.jpg")
    kinds["character device named .jpg"] = "skipped"
    os.symlink("loop_b.jpg", root / "loop_a.jpg")
    os.symlink("loop_a.jpg", root / "loop_b.jpg")
    kinds["symlink loop (files)"] = "skipped"
    os.symlink(".", root / "dirloop")
    kinds["symlink loop (folder -> itself)"] = "skipped"
    os.symlink(root / "gone.jpg", root / "dangling.jpg")
    kinds["dangling symlink"] = "skipped"
    os.symlink(outside / "elsewhere.jpg", root / "linked.jpg")
    kinds["symlinked file leaving the folder"] = "indexed"
    os.symlink(outside / "album", root / "linked_album")
    kinds["symlinked folder leaving the folder"] = "skipped"
    make_photo(root / "x.jpg" / "inside.jpg", seed=4)
    kinds["folder named x.jpg"] = "indexed"
    make_photo(root / "new\nline.jpg", seed=5)
    kinds["name with a newline"] = "indexed"
    with open(os.path.join(os.fsencode(root), b"bad\xff\xfename.jpg"), "wb") as fh:
        fh.write((root / "good.jpg").read_bytes())
    kinds["name that is not UTF-8"] = "skipped"
    make_photo(root / "growing.jpg", seed=6)
    kinds["file growing mid-read"] = "indexed"
    Image.new("1", (15_000, 15_000)).save(root / "bomb.png")  # 225 Mpx in a few KB
    kinds["decompression bomb"] = "error"
    (root / "empty.jpg").write_bytes(b"")
    kinds["0-byte file"] = "error"
    good = (root / "good.jpg").read_bytes()
    (root / "truncated.jpg").write_bytes(good[: len(good) // 3])
    kinds["truncated JPEG"] = "error"
    (root / "notes.jpg").write_text("not a photo at all")
    kinds["text file named .jpg"] = "error"
    return root, kinds


def test_every_bad_file_kind_is_handled_without_hanging(library, tmp_path: Path, monkeypatch) -> None:
    root, kinds = _bad_folder(tmp_path)
    grower = str(root / "growing.jpg")
    real = imaging.decode_for_model

    def grow_then_decode(path, min_side=224):  # type: ignore[no-untyped-def]
        if str(path) == grower:
            with open(grower, "ab") as fh:  # a camera or sync still writing it
                fh.write(b"\0" * 4096)
        return real(path, min_side)

    monkeypatch.setattr(imaging, "decode_for_model", grow_then_decode)
    library.add_folder(root)
    result: dict[str, object] = {}
    worker = threading.Thread(target=lambda: result.setdefault("r", library.index()), daemon=True)
    worker.start()
    worker.join(120)
    assert not worker.is_alive(), "indexing hung on a bad file"
    monkeypatch.setattr(imaging, "decode_for_model", real)
    again = library.index()  # the grown file changed since: picked up again, no crash
    assert again.scan.changed == 1

    rows = {
        r.path: r for r in library.catalog.photos_with_status("ok")
        + library.catalog.photos_with_status("error")
    }
    outcome = {
        "FIFO named .jpg": "fifo.jpg", "character device named .jpg": "device.jpg",
        "symlink loop (files)": "loop_a.jpg", "dangling symlink": "dangling.jpg",
        "symlinked file leaving the folder": "linked.jpg", "folder named x.jpg": "x.jpg/inside.jpg",
        "name with a newline": "new\nline.jpg", "file growing mid-read": "growing.jpg",
        "decompression bomb": "bomb.png", "0-byte file": "empty.jpg",
        "truncated JPEG": "truncated.jpg", "text file named .jpg": "notes.jpg",
    }
    handled = []
    for kind, expected in kinds.items():
        if kind in outcome:
            row = rows.get(str(root / outcome[kind]))
            got = "skipped" if row is None else ("indexed" if row.status == "ok" else "error")
        elif kind == "symlink loop (folder -> itself)":
            got = "skipped" if not any("/dirloop/" in p for p in rows) else "followed"
        elif kind == "symlinked folder leaving the folder":
            got = "skipped" if not any("linked_album" in p for p in rows) else "followed"
        else:  # the non-UTF-8 name
            got = "skipped" if not any("name.jpg" in p for p in rows) else "indexed"
        assert got == expected, kind
        handled.append(kind)
    assert "pixels" in rows[str(root / "bomb.png")].error
    assert set(library.catalog.photos_with_status("ok")) and rows[str(root / "good.jpg")].status == "ok"
    _report("files", len(kinds), len(handled), list(kinds))


# -- storage ---------------------------------------------------------------------------


def _indexed(tmp_path: Path) -> tuple[Path, Path]:
    folder, lib = tmp_path / "photos", tmp_path / "lib"
    for i in range(6):
        make_photo(folder / f"p{i}.jpg", seed=i)
    with Library(lib, model=TINY_MODEL) as library:
        library.add_folder(folder)
        library.index()
    return folder, lib


def _dim(lib: Path) -> int:
    with sqlite3.connect(lib / "catalog.sqlite") as db:
        return int(db.execute("SELECT dim FROM models").fetchone()[0])


def _cli(capsys, *argv: str) -> tuple[int, str, str]:  # type: ignore[no-untyped-def]
    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_damaged_or_unwritable_storage_gives_clear_errors(tmp_path: Path, capsys, monkeypatch) -> None:
    folder, lib = _indexed(tmp_path)
    args = ["--library", str(lib), "--model", TINY_MODEL]
    tried: list[str] = []
    # Index files an older Glimpse kept beside the catalog (hnswlib, a checksum,
    # an id list), one of them damaged: removed, and the search reads the catalog.
    old = lib / "indexes"
    old.mkdir(exist_ok=True)
    for name in ("GlimpseTiny_random.hnsw", "GlimpseTiny_random.hnsw.ids.npy", "GlimpseTiny_random.hnsw.b2"):
        (old / name).write_bytes(os.urandom(300))
    rc, out, _ = _cli(capsys, "search", "a photo", "-k", "6", *args)
    assert rc == 0 and out.count(str(folder)) == 6
    assert not old.exists()
    tried.append("index files of an older version")

    # A photo added after the last search: found, since the index is read from the catalog.
    make_photo(folder / "late.jpg", seed=99)
    rc, _, _ = _cli(capsys, "index", *args)
    assert rc == 0
    rc, out, _ = _cli(capsys, "search", "a photo", "-k", "10", *args)
    assert rc == 0 and out.count(str(folder)) == 7
    tried.append("index follows the catalog")

    # A library folder that cannot be created or written.
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    rc, _, err = _cli(capsys, "status", "--library", str(blocker / "lib"))
    assert rc == 2 and str(blocker / "lib") in err and "--library" in err
    tried.append("library folder cannot be created")
    if os.geteuid() != 0:  # root writes anywhere: only testable as a normal user
        os.chmod(lib, 0o555)
        try:
            rc, _, err = _cli(capsys, "index", *args)
            assert rc == 2 and str(lib) in err
        finally:
            os.chmod(lib, 0o755)
        tried.append("read-only library folder")

    # A damaged catalog: garbage, then a cut-off file. Named, with what to do.
    catalog = lib / "catalog.sqlite"
    with sqlite3.connect(catalog) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    good = catalog.read_bytes()
    for kind, blob in [
        ("catalog overwritten with garbage", os.urandom(len(good))),
        ("catalog cut short", good[: len(good) // 2]),
    ]:
        catalog.write_bytes(blob)
        for wal in (lib / "catalog.sqlite-wal", lib / "catalog.sqlite-shm"):
            wal.unlink(missing_ok=True)
        for command in (["status"], ["search", "x"], ["index"]):
            rc, _, err = _cli(capsys, *command, *args)
            assert rc == 2, (kind, command)
            assert str(catalog) in err and "Move it aside" in err, (kind, command, err)
        tried.append(kind)
    _report("storage", len(tried), len(tried), tried)


# -- queries ---------------------------------------------------------------------------


QUERIES: list[tuple[str, list[str], int, str]] = [
    ("empty", ["search", ""], 2, "empty"),
    ("blank", ["search", "   "], 2, "empty"),
    ("10 KB", ["search", "beach " * 1707], 0, ""),
    ("emoji only", ["search", "🐶🌅🎉"], 0, ""),
    ("k = 0", ["search", "x", "-k", "0"], 2, "at least 1"),
    ("k negative", ["search", "x", "-k", "-5"], 2, "at least 1"),
    ("k huge", ["search", "x", "-k", str(10**12)], 0, ""),
    ("malformed date", ["search", "x", "--after", "2024-13-45"], 2, "not a date"),
    ("word date", ["search", "x", "--before", "yesterday"], 2, "not a date"),
    ("dates inverted", ["search", "x", "--after", "2030", "--before", "2020"], 0, "No matching"),
    ("dangling +", ["search", '"beach" +'], 2, "Cannot read"),
    ("terms cancel", ["search", '"a" - "a"'], 2, "cancel"),
    ("unknown folder", ["search", "x", "--folder", "/no/such/folder"], 0, "No matching"),
    ("similar to missing file", ["similar", "/no/such.jpg"], 2, "does not exist"),
    ("similar k = 0", ["similar", "PHOTO", "-k", "0"], 2, "at least 1"),
]


@pytest.mark.parametrize("name", [q[0] for q in QUERIES])
def test_bad_query_is_a_clear_error_or_a_sensible_result(name: str, tmp_path: Path, capsys) -> None:
    folder, lib = _queries_library(tmp_path)
    _, argv, expected_rc, text = next(q for q in QUERIES if q[0] == name)
    argv = [str(folder / "p0.jpg") if a == "PHOTO" else a for a in argv]
    rc, out, err = _cli(capsys, *argv, "--library", str(lib), "--model", TINY_MODEL)
    assert rc == expected_rc, err
    assert text in (out + err)
    if rc == 0 and "No matching" not in out:
        assert out.count(str(folder)) == 6  # every photo, once, however large k is
    _report(f"query {name}", 1, 1, [name])


def _queries_library(tmp_path: Path) -> tuple[Path, Path]:
    return _indexed(tmp_path)
