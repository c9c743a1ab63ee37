"""People: grouping, naming, merging, corrections (core/signals/people.py) and the schema upgrade.

These use synthetic 128-d embeddings to pin the rules exactly; tests/test_faces.py
runs the real dlib models on real photos."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from glimpse.core.errors import GlimpseError
from glimpse.core.signals import people
from glimpse.core.signals.people import Face
from glimpse.core.storage import catalog as catalog_mod
from glimpse.core.storage.catalog import Catalog


def _face(vec: np.ndarray, x: float = 0.1, quality: float = 1.0) -> Face:
    return Face((x, 0.1, 0.2, 0.2), 100 if quality >= 0.5 else 20, 200.0, 1.0, quality,
                vec.astype(np.float32))


def _identity(rng: np.random.Generator) -> np.ndarray:
    v = rng.normal(size=128)
    return v / np.linalg.norm(v) * 2.0  # identities far apart (distance ~2.8)


def _near(rng: np.random.Generator, centre: np.ndarray, spread: float = 0.2) -> np.ndarray:
    noise = rng.normal(size=128)
    return centre + noise / np.linalg.norm(noise) * spread


@pytest.fixture
def cat(tmp_path: Path) -> Catalog:
    c = Catalog(tmp_path / "catalog.sqlite")
    folder = c.add_folder(str(tmp_path))
    with c.transaction() as db:
        for i in range(40):
            pid = c.insert_photo(db, f"{tmp_path}/p{i:02d}.jpg", folder, 1, 1, f"fp{i}")
            c.store_decoded(db, pid, 100, 100, None)
    yield c
    c.close()


def _store(cat: Catalog, photo_id: int, faces: list[Face]) -> None:
    with cat.transaction() as db:
        people.replace_faces(db, photo_id, faces)


def test_groups_start_from_good_faces_and_new_faces_join(cat: Catalog) -> None:
    rng = np.random.default_rng(0)
    anna, ben = _identity(rng), _identity(rng)
    for pid in range(1, 5):
        _store(cat, pid, [_face(_near(rng, anna)), _face(_near(rng, ben), x=0.6)])
    _store(cat, 5, [_face(_near(rng, _identity(rng)))])  # a stranger, once
    report = people.group_faces(cat)
    assert report.started == 2 and report.unassigned == 1
    found = people.people(cat)
    assert [p.photos for p in found] == [4, 4]
    # A new photo of Anna joins her without re-grouping; a blurry face of her too.
    anna_id = people.faces_of_photo(cat, 1)[0].person_id
    _store(cat, 6, [_face(_near(rng, anna)), _face(_near(rng, anna), x=0.6, quality=0.1)])
    report = people.group_faces(cat)
    assert report.joined == 2 and report.started == 0
    assert {f.person_id for f in people.faces_of_photo(cat, 6)} == {anna_id}


def test_blurry_faces_never_start_a_person(cat: Catalog) -> None:
    rng = np.random.default_rng(1)
    carl = _identity(rng)
    for pid in range(1, 6):
        _store(cat, pid, [_face(_near(rng, carl), quality=0.2)])
    report = people.group_faces(cat)
    assert report.started == 0 and report.unassigned == 5 and people.people(cat) == []


def test_name_merge_hide_and_not_this_person(cat: Catalog) -> None:
    rng = np.random.default_rng(2)
    anna = _identity(rng)
    for pid in range(1, 4):
        _store(cat, pid, [_face(_near(rng, anna, 0.1))])
    other_look = anna + 0.45 * _identity(rng)  # the same person, seen differently
    for pid in range(4, 7):  # ... forms a second group
        _store(cat, pid, [_face(_near(rng, other_look, 0.1))])
    people.group_faces(cat)
    a, b = people.people(cat)
    people.name_person(cat, b.id, "  Anna  ")
    people.merge(cat, a.id, b.id)
    (merged,) = people.people(cat)
    assert merged.id == a.id and merged.name == "Anna" and merged.photos == 6
    assert people.names(cat) == {"anna": [a.id]}
    with pytest.raises(GlimpseError):
        people.merge(cat, a.id, b.id)  # b is gone
    # "Not Anna": the face leaves and grouping never puts it back there.
    wrong = people.faces_of_photo(cat, 1)[0]
    people.remove_face(cat, wrong.id)
    people.group_faces(cat)
    again = people.face(cat, wrong.id)
    assert again.person_id is None and a.id in again.rejected
    assert people.photo_ids_of(cat, [a.id]) == {2, 3, 4, 5, 6}
    # Naming a face by hand puts it with that person again, by the user's choice.
    assert people.assign_face(cat, wrong.id, "anna") == a.id
    assert people.face(cat, wrong.id).manual
    people.hide_person(cat, a.id)
    assert people.people(cat) == [] and people.names(cat) == {}
    assert people.people(cat, include_hidden=True)[0].hidden


def test_redetected_faces_keep_the_users_choices(cat: Catalog) -> None:
    """A face pass version bump stores new face rows: names, manual placements and
    rejections carry over to the faces found again at the same place."""
    rng = np.random.default_rng(3)
    anna = _identity(rng)
    vecs = {pid: _near(rng, anna, 0.1) for pid in range(1, 5)}
    for pid, v in vecs.items():
        _store(cat, pid, [_face(v)])
    people.group_faces(cat)
    (p,) = people.people(cat)
    people.name_person(cat, p.id, "Anna")
    people.remove_face(cat, people.faces_of_photo(cat, 4)[0].id)
    for pid, v in vecs.items():  # the pass again: new rows, boxes shifted slightly
        _store(cat, pid, [Face((0.11, 0.1, 0.2, 0.2), 100, 200.0, 1.0, 1.0,
                               (v + 0.01).astype(np.float32))])
    people.group_faces(cat)
    (after,) = people.people(cat)
    assert (after.id, after.name, after.photos) == (p.id, "Anna", 3)
    assert p.id in people.faces_of_photo(cat, 4)[0].rejected


def test_video_faces_keep_choices_per_keyframe_and_group_like_photos(cat: Catalog) -> None:
    """Faces of one video at different keyframes are distinct rows; a re-run carries
    the user's choices to the face at the same place of the same keyframe only."""
    rng = np.random.default_rng(4)
    ben = _identity(rng)
    for pid in range(1, 4):
        _store(cat, pid, [_face(_near(rng, ben, 0.1))])
    clip = [replace(_face(_near(rng, ben, 0.1)), t_seconds=t) for t in (0.0, 2.0, 4.0)]
    _store(cat, 10, clip)  # the same box in three keyframes of a video
    people.group_faces(cat)
    (p,) = people.people(cat)
    assert p.photos == 4 and p.faces == 6  # the video counts once, its faces each
    by_t = {f.t_seconds: f for f in people.faces_of_photo(cat, 10)}
    assert sorted(by_t) == [0.0, 2.0, 4.0] and {f.person_id for f in by_t.values()} == {p.id}
    people.remove_face(cat, by_t[2.0].id)  # "not Ben" at 0:02 only
    _store(cat, 10, [replace(f, embedding=f.embedding + 0.01) for f in clip])  # the pass again
    people.group_faces(cat)
    again = {f.t_seconds: f for f in people.faces_of_photo(cat, 10)}
    assert again[2.0].person_id is None and p.id in again[2.0].rejected
    assert again[0.0].person_id == again[4.0].person_id == p.id
    assert not again[0.0].rejected and not again[4.0].rejected


def test_schema_upgrade_adds_keyframe_times_and_keeps_faces_and_names(tmp_path: Path) -> None:
    """5 -> 6: faces get t_seconds (NULL: photos); faces, names, vectors and the face
    pass's record of photos survive; videos are forgotten by the face pass only."""
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    before = 5
    for step in range(before):
        db.executescript(catalog_mod._MIGRATIONS[step])
    db.execute("INSERT INTO folders(id, path, added_at) VALUES (1, '/p', 0)")
    for pid, name in ((7, "a.jpg"), (8, "clip.mp4")):
        db.execute("INSERT INTO photos(id, path, folder_id, size, mtime_ns, fingerprint, status, "
                   "updated_at) VALUES (?, ?, 1, 1, 1, ?, 'ok', 0)", (pid, f"/p/{name}", f"fp{pid}"))
        db.execute("INSERT INTO pass_state VALUES ('faces', ?, 1, ?, ?, 0)",
                   (pid, f"fp{pid}", "not an image" if pid == 8 else None))
        db.execute("INSERT INTO pass_state VALUES ('ocr', ?, 1, ?, NULL, 0)", (pid, f"fp{pid}"))
    db.execute("INSERT INTO models VALUES (1, 'm', 4, 0)")
    db.execute("INSERT INTO embeddings VALUES (7, 1, ?)",
               (catalog_mod.vector_to_blob(np.arange(4, dtype=np.float32)),))
    db.execute("INSERT INTO videos VALUES (8, 6.0, 0.0)")
    db.execute("INSERT INTO frames VALUES (1, 8, 1, 2.0, ?)",
               (catalog_mod.vector_to_blob(np.ones(4, dtype=np.float32)),))
    db.execute("INSERT INTO people VALUES (3, 'Anna', 0, 0)")
    vector = np.linspace(-1, 1, 128, dtype=np.float32)
    db.execute("INSERT INTO faces(id, photo_id, x, y, w, h, size_px, sharpness, score, quality, "
               "embedding, person_id, manual, rejected) "
               "VALUES (5, 7, 0.1, 0.2, 0.3, 0.4, 90, 100, 1, 1, ?, 3, 1, '9')",
               (vector.astype("<f4").tobytes(),))
    db.execute(f"PRAGMA user_version={before}")
    db.commit()
    db.close()
    cat = Catalog(path)
    assert cat.read("PRAGMA user_version")[0][0] == catalog_mod.SCHEMA_VERSION  # and on to the latest
    ids, matrix = cat.embeddings(1)
    assert ids.tolist() == [7] and matrix[0].tolist() == [0, 1, 2, 3]
    (anna,) = people.people(cat)
    assert (anna.id, anna.name, anna.photos) == (3, "Anna", 1)
    f = people.face(cat, 5)
    assert (f.photo_id, f.box, f.person_id, f.manual, f.rejected, f.t_seconds) == (
        7, (0.1, 0.2, 0.3, 0.4), 3, True, frozenset({9}), None)
    stored = cat.read("SELECT embedding FROM faces WHERE id=5")[0][0]
    assert np.frombuffer(stored, dtype="<f4").tolist() == vector.tolist()
    assert cat.pass_counts("faces", 1) == (1, 2)  # the photo stays read, the video is to read
    assert cat.ids_needing_pass("faces", 1) == [8]
    assert cat.pass_counts("ocr", 1) == (2, 2)
    assert cat.keyframe_times() == {8: [0.0, 2.0]}
    cat.close()


def test_schema_upgrade_keeps_vectors_and_text(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    before_people = 4  # places, offline folders and the OCR pass came first
    for step in range(before_people):
        db.executescript(catalog_mod._MIGRATIONS[step])
    db.execute("INSERT INTO folders(id, path, added_at) VALUES (1, '/p', 0)")
    db.execute("INSERT INTO photos(id, path, folder_id, size, mtime_ns, fingerprint, status, "
               "updated_at) VALUES (7, '/p/a.jpg', 1, 1, 1, 'fp', 'ok', 0)")
    db.execute("INSERT INTO models VALUES (1, 'm', 4, 0)")
    db.execute("INSERT INTO embeddings VALUES (7, 1, ?)",
               (catalog_mod.vector_to_blob(np.arange(4, dtype=np.float32)),))
    db.execute("INSERT INTO pass_state VALUES ('ocr', 7, 1, 'fp', NULL, 0)")
    db.execute("INSERT INTO photo_text(rowid, text) VALUES (7, 'hello')")
    db.execute(f"PRAGMA user_version={before_people}")
    db.commit()
    db.close()
    cat = Catalog(path)
    assert cat.read("PRAGMA user_version")[0][0] == catalog_mod.SCHEMA_VERSION
    ids, matrix = cat.embeddings(1)
    assert ids.tolist() == [7] and matrix[0].tolist() == [0, 1, 2, 3]
    assert cat.photo_text(7) == "hello" and cat.pass_counts("ocr", 1) == (1, 1)
    assert people.people(cat) == [] and people.face_count(cat) == 0
    cat.close()


def test_a_new_detector_s_box_keeps_the_name_when_its_embedding_matches(cat: Catalog) -> None:
    """HOG's box and MTCNN's box of one face overlap by less than SAME_FACE_IOU
    at times; the embedding says whether it is the same face."""
    rng = np.random.default_rng(7)
    anna, ben = _identity(rng), _identity(rng)
    for pid in range(1, 4):
        _store(cat, pid, [_face(_near(rng, anna, 0.1))])
    people.group_faces(cat)
    pid = people.people(cat)[0].id
    people.name_person(cat, pid, "Anna")
    old = people.faces_of_photo(cat, 1)[0]
    assert old.box == (0.1, 0.1, 0.2, 0.2)
    # a taller box from the new detector
    taller = (0.1, 0.02, 0.2, 0.45)  # overlap 0.2*0.2=0.04, union 0.09: IoU 0.444
    assert abs(people.iou(old.box, taller) - 0.04 / 0.09) < 1e-9
    same = replace(_face(_near(rng, anna, 0.05)), box=taller)
    _store(cat, 1, [same])
    assert people.faces_of_photo(cat, 1)[0].person_id == pid  # carried over
    # the same box on photo 2, but somebody else's embedding: not carried over
    _store(cat, 2, [replace(_face(_near(rng, ben, 0.05)), box=taller)])
    assert people.faces_of_photo(cat, 2)[0].person_id is None
    # far boxes never match, even with the same embedding (IoU 0)
    _store(cat, 3, [_face(_near(rng, anna, 0.05), x=0.6)])
    assert people.faces_of_photo(cat, 3)[0].person_id is None
    assert people.person(cat, pid).name == "Anna"


def test_same_face_rule() -> None:
    vec = np.zeros(128, dtype=np.float32)
    face = Face((0.1, 0.1, 0.2, 0.2), 100, 200.0, 1.0, 1.0, vec)
    assert people.same_face((0.1, 0.1, 0.2, 0.2), vec + 5, face)  # same box: embedding not asked
    low = (0.1, 0.1, 0.2, 0.6)  # IoU 0.04 / 0.12 = 0.333
    near = vec.copy()
    near[0] = people.SAME_FACE_DISTANCE - 0.01
    far = vec.copy()
    far[0] = people.SAME_FACE_DISTANCE + 0.01
    assert people.same_face(low, near, face) and not people.same_face(low, far, face)
    tiny = (0.1, 0.1, 0.2, 1.2)  # IoU 0.04 / 0.24 = 0.167 < UPGRADE_IOU
    assert not people.same_face(tiny, vec, face)


def test_found_line_counts_faces_photos_recurring_people_and_faces_seen_once(cat: Catalog) -> None:
    rng = np.random.default_rng(3)
    anna, ben = _identity(rng), _identity(rng)
    for pid in range(1, 4):  # Anna in photos 1-3, with a stranger in photo 1
        extra = [_face(_identity(rng), x=0.6)] if pid == 1 else []
        _store(cat, pid, [_face(_near(rng, anna, 0.1)), *extra])
    _store(cat, 4, [_face(_near(rng, ben, 0.1))])  # Ben, once
    people.group_faces(cat)
    # 5 faces in 4 photos; Anna (3 photos) recurs; the stranger and Ben are seen once
    assert people.found_line(cat) == ("5 faces in 4 photos; 1 person seen in several photos; "
                                      "2 faces seen once")
    ben_face = people.faces_of_photo(cat, 4)[0]
    assert {f.id for f in people.lone_faces(cat)} == {
        ben_face.id, max(people.faces_of_photo(cat, 1), key=lambda f: f.box[0]).id}
    pid = people.name_face(cat, ben_face.id, "Ben")  # a lone face starts a named person
    assert people.person(cat, pid).name == "Ben" and people.face(cat, ben_face.id).manual
    assert people.found_line(cat).endswith("2 faces seen once; 1 named")
    _store(cat, 5, [_face(_near(rng, ben, 0.1))])  # a later photo of Ben joins him
    people.group_faces(cat)
    assert people.faces_of_photo(cat, 5)[0].person_id == pid
    assert people.found_line(cat) == ("6 faces in 5 photos; 2 people seen in several photos; "
                                      "1 face seen once; 1 named")
    # naming one face of an unnamed group names the group; a taken name merges into it
    anna_face = people.faces_of_photo(cat, 2)[0]
    anna_id = anna_face.person_id
    assert anna_id is not None and people.name_face(cat, anna_face.id, "Anna") == anna_id
    assert people.person(cat, anna_id).name == "Anna" and not people.face(cat, anna_face.id).manual
    with pytest.raises(GlimpseError, match="no face"):
        people.name_face(cat, 999, "Anna")


def test_naming_a_group_with_a_taken_name_joins_that_person(cat: Catalog) -> None:
    rng = np.random.default_rng(4)
    anna = _identity(rng)
    for pid in range(1, 7):  # two groups of Anna far enough apart to start two people
        shift = 0.0 if pid <= 3 else 0.9
        _store(cat, pid, [_face(_near(rng, anna + shift, 0.1))])
    people.group_faces(cat)
    first, second = sorted(p.id for p in people.people(cat))
    people.name_person(cat, first, "Anna")
    face = people.faces_of_person(cat, second)[0]
    assert people.name_face(cat, face.id, "anna") == first
    assert [p.id for p in people.people(cat)] == [first] and people.person(cat, first).photos == 6
