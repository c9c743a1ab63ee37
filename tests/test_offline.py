"""Archives that come and go: offline folders, kept vectors of deleted photos,
moved folders, and the schema migration that stores all this."""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import make_photo
from glimpse.cli.main import main
from glimpse.core.errors import GlimpseError
from glimpse.core.storage import catalog as catalog_mod
from glimpse.core.storage.catalog import Catalog


def _encoded(lib) -> int:
    return len(lib.catalog.embedding_ids(lib.model_key()))


@pytest.fixture
def two_folders(library, tmp_path: Path):
    """An always-present folder and an 'external disk' folder, both indexed."""
    home = tmp_path / "home"
    disk = tmp_path / "disk" / "Archive"
    for i in range(4):
        make_photo(home / f"h{i}.jpg", seed=i)
    for i in range(6):
        make_photo(disk / f"a{i}.jpg", seed=100 + i)
    make_photo(disk / "sub" / "deep.jpg", seed=200)
    library.add_folder(home)
    library.add_folder(disk)
    report = library.index()
    assert report.encode.encoded == 11
    return home, disk


@pytest.mark.parametrize("how", ["vanished", "empty mount point", "unreadable"])
def test_offline_folder_keeps_its_photos_and_leaves_search(
    library, two_folders, tmp_path: Path, how: str
) -> None:
    home, disk = two_folders
    ids_before = {r.id for r in library.catalog.photos_under(library.catalog.folder_id(str(disk)))}
    vec = library.catalog.embedding_for(min(ids_before), library.model_key())
    parked = tmp_path / "parked"
    shutil.move(disk, parked)  # the disk is unplugged
    if how == "empty mount point":
        disk.mkdir()
    elif how == "unreadable":
        disk.symlink_to(tmp_path / "no-such-share")  # a dead link: the root cannot be listed

    report = library.index()
    assert report.scan.removed == 0 and report.scan.offline == [str(disk)]
    assert report.encode.encoded == 0 and report.encode.failed == 0
    rows = library.catalog.photos_under(library.catalog.folder_id(str(disk)))
    assert {r.id for r in rows} == ids_before and {r.status for r in rows} == {"ok"}
    assert np.array_equal(library.catalog.embedding_for(min(ids_before), library.model_key()), vec)
    offline = [f for f in library.folders() if f.path == str(disk)][0]
    assert offline.offline_since is not None and offline.indexed == 7
    assert library.catalog.counts()["offline"] == 7
    # Left out of every kind of search, and out of the HNSW index itself.
    hits = library.search("anything", k=50)
    assert {Path(h.path).parent for h in hits} == {home}
    assert not ids_before & library.index_for().ids
    assert library.search("anything", k=50, filters=_filters(folder=str(disk))) == []
    # A second scan while away changes nothing (and keeps the first date).
    assert library.index().scan.removed == 0
    assert [f for f in library.folders() if f.path == str(disk)][0].offline_since == offline.offline_since

    # Plugged back in: everything is unchanged, nothing is encoded.
    if disk.is_symlink():
        disk.unlink()
    elif disk.exists():
        disk.rmdir()
    shutil.move(parked, disk)
    report = library.index()
    assert report.scan.offline == [] and report.scan.unchanged == 11
    assert (report.scan.added, report.scan.removed, report.encode.encoded) == (0, 0, 0)
    assert [f for f in library.folders() if f.path == str(disk)][0].offline_since is None
    assert ids_before <= library.index_for().ids
    assert len({Path(h.path).parent for h in library.search("anything", k=50)}) == 3


def _filters(**kw):  # type: ignore[no-untyped-def]
    from glimpse.core.search.ranking import Filters

    return Filters(**kw)


def test_an_empty_new_folder_is_not_offline(library, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    library.add_folder(empty)
    assert library.index().scan.offline == []


def test_status_and_folders_list_say_offline_since(library, two_folders, tmp_path, capsys) -> None:
    _, disk = two_folders
    shutil.move(disk, tmp_path / "parked")
    library.index()
    library.close()
    args = ["--library", str(library.root), "--model", "GlimpseTiny:random"]
    assert main(["status", *args]) == 0
    out = capsys.readouterr().out
    line = [x for x in out.splitlines() if str(disk) in x][0]
    assert "offline since " + time.strftime("%Y-%m-%d") in line
    assert "7 in offline folders" in out
    assert main(["folders", "list", *args]) == 0
    assert "offline since" in capsys.readouterr().out


def test_deleted_photo_restored_from_trash_is_not_reencoded(library, photo_dir: Path, tmp_path) -> None:
    library.add_folder(photo_dir)
    library.index()
    victim = photo_dir / "img_03.jpg"
    old_id = library.catalog.photo_by_path(str(victim)).id
    trash = tmp_path / "trash"
    trash.mkdir()
    shutil.move(victim, trash / victim.name)
    report = library.index()
    assert report.scan.removed == 1
    assert old_id not in library.index_for().ids
    assert str(victim) not in {h.path for h in library.search("x", k=50)}
    shutil.move(trash / victim.name, victim)  # restored, mtime kept
    report = library.index()
    assert report.scan.restored == 1 and report.encode.encoded == 0
    assert library.catalog.photo_by_path(str(victim)).id == old_id
    assert old_id in library.index_for().ids


def test_deleted_photo_copied_back_elsewhere_reuses_vectors(library, photo_dir: Path, tmp_path) -> None:
    library.add_folder(photo_dir)
    library.index()
    data = (photo_dir / "img_01.jpg").read_bytes()
    (photo_dir / "img_01.jpg").unlink()
    assert library.index().scan.removed == 1
    (photo_dir / "trip" / "copied back.jpg").write_bytes(data)  # new path, new mtime
    report = library.index()
    assert report.scan.restored == 1 and report.encode.encoded == 0
    assert _encoded(library) == 8


def test_kept_vectors_are_purged_by_age_and_by_count(library, tmp_path: Path) -> None:
    folder = tmp_path / "p"
    for i in range(6):  # one stays: an emptied folder would look like an unplugged disk
        make_photo(folder / f"{i}.jpg", seed=i)
    library.add_folder(folder)
    library.index()
    for i in range(5):
        (folder / f"{i}.jpg").unlink()
    assert library.index().scan.removed == 5
    cat = library.catalog
    assert cat.counts()["missing"] == 5
    with cat.transaction() as db:
        # Count cap: only the newest 3 are kept.
        assert len(Catalog.purge_missing(db, keep_rows=3)) == 2
        # Age: a month later, nothing is kept.
        later = time.time() + catalog_mod.MISSING_KEEP_S + 1
        assert len(Catalog.purge_missing(db, now=later)) == 3
    assert cat.counts()["missing"] == 0
    assert cat._query("SELECT COUNT(*) FROM embeddings")[0][0] == 1


def test_folder_move_repoints_without_reencoding(library, two_folders, tmp_path: Path) -> None:
    _, disk = two_folders
    new = tmp_path / "mnt" / "usb" / "Archive"
    new.parent.mkdir(parents=True)
    shutil.move(disk, new)  # the disk is mounted at another path
    library.index()  # sees the old path offline
    ids = {r.id for r in library.catalog.photos_under(library.catalog.folder_id(str(disk)))}
    assert library.moved_from(new).path == str(disk)
    assert library.move_folder(disk, new) == 7
    assert library.folder_paths() == sorted([str(two_folders[0]), str(new)])
    report = library.index()
    assert (report.scan.added, report.scan.removed, report.encode.encoded) == (0, 0, 0)
    assert report.scan.unchanged == 11
    assert library.catalog.photo_by_path(str(new / "sub" / "deep.jpg")).id in ids
    assert ids <= library.index_for().ids


def test_folder_move_to_the_wrong_folder_is_refused(library, two_folders, tmp_path: Path) -> None:
    _, disk = two_folders
    other = tmp_path / "other"
    for i in range(5):
        make_photo(other / f"a{i}.jpg", seed=900 + i)  # same names, other photos
    with pytest.raises(GlimpseError, match="does not hold the photos"):
        library.move_folder(disk, other)
    with pytest.raises(GlimpseError, match="not a watched folder"):
        library.move_folder(tmp_path / "nope", other)
    assert str(disk) in library.folder_paths()


def test_cli_offers_a_move_for_a_folder_matching_an_offline_one(
    library, two_folders, tmp_path: Path, capsys
) -> None:
    _, disk = two_folders
    new = tmp_path / "renamed"
    shutil.move(disk, new)
    library.index()
    library.close()
    args = ["--library", str(library.root), "--model", "GlimpseTiny:random"]
    assert main(["index", str(new), *args]) == 0
    err = capsys.readouterr().err
    assert f"glimpse folders move '{disk}' '{new}'" in err
    assert str(new) not in {f for f in _folders(library.root)}  # not indexed as new
    assert main(["folders", "move", str(disk), str(new), *args]) == 0
    assert "7 photos re-pointed" in capsys.readouterr().out
    assert main(["index", *args]) == 0
    assert "Encoded 0 photos" in capsys.readouterr().out


def _folders(root: Path) -> list[str]:
    cat = Catalog(root / "catalog.sqlite")
    try:
        return [f.path for f in cat.folders()]
    finally:
        cat.close()


def test_migration_from_schema_1_keeps_every_row_and_vector(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite"
    db = sqlite3.connect(path, isolation_level=None)
    db.executescript(catalog_mod._MIGRATIONS[0])
    db.execute("PRAGMA user_version=1")
    db.execute("INSERT INTO folders(path, added_at) VALUES ('/photos', 0)")
    db.execute("INSERT INTO models(model_id, dim, created_at) VALUES ('m', 4, 0)")
    for i in range(1, 4):
        db.execute(
            "INSERT INTO photos(id, path, folder_id, size, mtime_ns, fingerprint, status, updated_at)"
            " VALUES (?, ?, 1, 1, 1, ?, 'ok', 0)",
            (i, f"/photos/{i}.jpg", f"fp{i}"),
        )
        db.execute(
            "INSERT INTO embeddings VALUES (?, 1, ?)",
            (i, catalog_mod.vector_to_blob(np.full(4, i, dtype=np.float32))),
        )
    db.close()
    cat = Catalog(path)
    assert cat._query("PRAGMA user_version")[0][0] == catalog_mod.SCHEMA_VERSION
    assert [f.offline_since for f in cat.folders()] == [None]
    ids, matrix = cat.embeddings(1)
    assert ids.tolist() == [1, 2, 3] and matrix[:, 0].tolist() == [1, 2, 3]
    cat.close()


def test_mount_point_with_only_hidden_files_is_offline(library, two_folders) -> None:
    _, disk = two_folders
    for p in sorted(disk.rglob("*"), reverse=True):
        p.rmdir() if p.is_dir() else p.unlink()
    (disk / ".DS_Store").write_bytes(b"x")
    # Not empty (a hidden file) and the photos are really gone: that is a deletion,
    # but the vectors are kept (status 'missing') for the retention period.
    report = library.index()
    assert report.scan.offline == [] and report.scan.removed == 7
    assert library.catalog.counts()["missing"] == 7
    assert os.path.isdir(disk)


def test_watch_rewatches_a_folder_whose_disk_is_back(library, two_folders, tmp_path: Path) -> None:
    from glimpse.cli.indexing import _rewatch_returned

    _, disk = two_folders
    shutil.move(disk, tmp_path / "parked")
    library.index()

    class FakeWatcher:
        def __init__(self) -> None:
            self.calls: list[tuple[str, str]] = []
            self.queue = self

        def remove(self, path: str) -> None:
            self.calls.append(("remove", path))

        def add(self, path: str) -> None:
            self.calls.append(("add", path))

        def put(self, path: str) -> None:
            self.calls.append(("rescan", path))

    watcher = FakeWatcher()
    _rewatch_returned(library, watcher)
    assert watcher.calls == []  # still away
    shutil.move(tmp_path / "parked", disk)
    _rewatch_returned(library, watcher)
    assert watcher.calls == [("remove", str(disk)), ("add", str(disk)), ("rescan", str(disk))]


def test_two_copies_of_a_deleted_photo_coming_back_encode_nothing(library, photo_dir: Path) -> None:
    library.add_folder(photo_dir)
    library.index()
    data = (photo_dir / "img_02.jpg").read_bytes()
    (photo_dir / "img_02.jpg").unlink()
    library.index()
    (photo_dir / "back1.jpg").write_bytes(data)
    (photo_dir / "back2.jpg").write_bytes(data)
    report = library.index()
    assert (report.scan.restored, report.scan.copied, report.encode.encoded) == (1, 1, 0)
    rows = [library.catalog.photo_by_path(str(photo_dir / n)) for n in ("back1.jpg", "back2.jpg")]
    assert {r.status for r in rows} == {"ok"} and rows[0].id != rows[1].id
    assert _encoded(library) == 9
