"""People: faces grouped incrementally, named and corrected by the user.

Grouping (group_faces, run after each face pass) never re-clusters what is
already grouped:
1. every face with no person joins the nearest person whose centroid (mean
   embedding of its faces) lies within JOIN_DISTANCE, unless the user moved
   it out of that person before (faces.rejected);
2. the faces still alone start new people where at least MIN_FACES_TO_START good
   faces (quality >= MIN_START_QUALITY) lie within START_DISTANCE of one good
   face (a DBSCAN core point over unassigned faces only, densest first); its
   free neighbours form the person, then step 1 runs again for the rest.
Small or blurry faces may join a person but never start one.

dlib's rule of thumb is "same person below 0.6 euclidean"; on Flickr8k (small,
low-resolution faces of mostly different people) 82% of good faces have a face
of another photo within 0.6, and 6% within 0.4, so 0.6 would merge strangers.
scripts/bench_faces.py --sweep chose the values below: with them no person forms
from the faces of 1000 different Flickr8k photos, and 97.3% of faces found again
in edited copies join their original's person (0.5/0.45: 4 people, the largest
holding 25% of all faces). Precision first: two groups of one person are merged
by the user in one click; a stranger in someone's group is worse.

Names, hidden flags, merges, faces the user placed (manual) and faces the user
moved out (rejected) are user data: replace_faces() carries them over to the
re-detected faces of a photo (matched by box overlap and embedding: same_face())
when the face pass reads it again after a version bump (a new detector, too), and
group_faces() never touches manual faces.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from glimpse.core.errors import GlimpseError
from glimpse.core.storage.catalog import Catalog


@dataclass(frozen=True)
class Face:
    box: tuple[float, float, float, float]  # x, y, w, h as fractions of the upright photo
    size_px: int  # shorter side of the box, in pixels of the photo as analysed
    sharpness: float
    score: float  # the detector's decision value
    quality: float  # 0..1, see quality()
    embedding: np.ndarray  # 128 float32
    t_seconds: float | None = None  # a video's keyframe the face is in; None for a photo



JOIN_DISTANCE = 0.40
START_DISTANCE = 0.35
MIN_FACES_TO_START = 3
MIN_START_QUALITY = 0.5
SAME_FACE_IOU = 0.5  # a re-detected box overlapping an old one this much is the same face
# ... and one overlapping it less, down to this, if its embedding is this close. One
# face's HOG and MTCNN boxes give embeddings 0.06-0.14 apart (astronaut.jpg and a
# Flickr8k group photo); two people side by side are over 0.6 apart.
UPGRADE_IOU = 0.2
SAME_FACE_DISTANCE = JOIN_DISTANCE
SAME_FRAME_S = 0.05  # keyframe times are stored to the millisecond


@dataclass(frozen=True)
class Person:
    id: int
    name: str | None
    hidden: bool
    faces: int
    photos: int
    best_face: int | None  # face id of its best-quality face, for the card

    @property
    def label(self) -> str:
        return self.name or f"Person {self.id}"


@dataclass(frozen=True)
class FaceRow:
    id: int
    photo_id: int
    box: tuple[float, float, float, float]
    size_px: int
    quality: float
    person_id: int | None
    manual: bool
    rejected: frozenset[int]
    t_seconds: float | None = None  # in a video: the keyframe the face is in


def _blob(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


def _vector(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype="<f4")


def _rejected(text: str) -> frozenset[int]:
    return frozenset(int(t) for t in text.split(",") if t)


def _rejected_text(ids: frozenset[int] | set[int]) -> str:
    return ",".join(str(i) for i in sorted(ids))


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    w = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    h = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = w * h
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


# -- writes from the face pass ----------------------------------------------

def replace_faces(db: sqlite3.Connection, photo_id: int, faces: Sequence[Face]) -> None:
    """Store a photo's faces, keeping the user's choices for faces found again
    (same place and, in a video, the same keyframe)."""
    old = db.execute(
        "SELECT x, y, w, h, person_id, manual, rejected, t_seconds, embedding FROM faces "
        "WHERE photo_id=?",
        (photo_id,),
    ).fetchall()
    db.execute("DELETE FROM faces WHERE photo_id=?", (photo_id,))
    for face in faces:
        person, manual, rejected = None, 0, ""
        same_frame = [o for o in old if _same_time(o[7], face.t_seconds)]
        best = max(same_frame, key=lambda o: iou(o[:4], face.box), default=None)
        if best is not None and same_face(best[:4], _vector(best[8]), face):
            person, manual, rejected = best[4], best[5], best[6]
            old.remove(best)
        db.execute(
            """INSERT INTO faces(photo_id, x, y, w, h, size_px, sharpness, score, quality,
                                 embedding, person_id, manual, rejected, t_seconds)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (photo_id, *face.box, face.size_px, face.sharpness, face.score, face.quality,
             _blob(face.embedding), person, manual, rejected, face.t_seconds),
        )


def same_face(box: Sequence[float], embedding: np.ndarray, face: Face) -> bool:
    """Is this re-detected face the stored one? The same box, or (another detector
    draws its boxes differently: MTCNN's take in more forehead than HOG's) a box
    overlapping it that carries the same embedding."""
    overlap = iou(box, face.box)
    if overlap >= SAME_FACE_IOU:
        return True
    if overlap < UPGRADE_IOU or embedding.shape != face.embedding.shape:
        return False
    return float(np.linalg.norm(embedding - face.embedding)) < SAME_FACE_DISTANCE


def _same_time(a: float | None, b: float | None) -> bool:
    """Both in the photo, or both in the same keyframe of a video."""
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) < SAME_FRAME_S


# -- grouping ---------------------------------------------------------------

@dataclass(frozen=True)
class GroupReport:
    joined: int
    started: int  # new people
    unassigned: int


def _centroids(catalog: Catalog) -> tuple[np.ndarray, np.ndarray]:
    rows = catalog.read("SELECT person_id, embedding FROM faces WHERE person_id IS NOT NULL")
    if not rows:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 128), dtype=np.float32)
    by_person: dict[int, list[np.ndarray]] = {}
    for pid, blob in rows:
        by_person.setdefault(pid, []).append(_vector(blob))
    ids = np.array(sorted(by_person), dtype=np.int64)
    return ids, np.stack([np.mean(by_person[int(i)], axis=0) for i in ids]).astype(np.float32)


def _pairwise(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T
    return np.sqrt(np.maximum(d, 0.0))


def group_faces(
    catalog: Catalog,
    join_distance: float = JOIN_DISTANCE,
    start_distance: float = START_DISTANCE,
    min_faces: int = MIN_FACES_TO_START,
    min_quality: float = MIN_START_QUALITY,
) -> GroupReport:
    """Give people to faces that have none (incremental; see the module docstring)."""
    joined = started = 0
    while True:
        rows = catalog.read(
            "SELECT id, embedding, quality, rejected FROM faces WHERE person_id IS NULL ORDER BY id"
        )
        if not rows:
            return GroupReport(joined, started, 0)
        ids = np.array([r[0] for r in rows], dtype=np.int64)
        vecs = np.stack([_vector(r[1]) for r in rows])
        good = np.array([r[2] >= min_quality for r in rows])
        rejected = [_rejected(r[3]) for r in rows]
        # 1. join the nearest person within reach
        pids, cents = _centroids(catalog)
        updates: list[tuple[int, int]] = []
        if len(pids):
            for start in range(0, len(ids), 2048):
                dist = _pairwise(vecs[start:start + 2048], cents)
                for j in range(dist.shape[0]):
                    order = np.argsort(dist[j])
                    for o in order:
                        if dist[j, o] >= join_distance:
                            break
                        if int(pids[o]) not in rejected[start + j]:
                            updates.append((int(pids[o]), int(ids[start + j])))
                            break
        if updates:
            with catalog.transaction() as db:
                db.executemany("UPDATE faces SET person_id=? WHERE id=? AND person_id IS NULL",
                               updates)
            joined += len(updates)
            continue
        # 2. start new people from the densest groups of good lone faces, densest first
        good_idx = np.flatnonzero(good)
        groups = _dense_groups(vecs[good_idx], start_distance, min_faces)
        if not groups:
            return GroupReport(joined, started, len(ids))
        with catalog.transaction() as db:
            for members in groups:
                cur = db.execute("INSERT INTO people(name, hidden, created_at) VALUES (NULL, 0, ?)",
                                 (time.time(),))
                person = int(cur.lastrowid or 0)
                db.executemany("UPDATE faces SET person_id=? WHERE id=?",
                               [(person, int(ids[good_idx[m]])) for m in members])
        started += len(groups)


def _dense_groups(vecs: np.ndarray, radius: float, min_faces: int) -> list[list[int]]:
    """Disjoint groups: a face with at least `min_faces` faces (itself included) within
    `radius` starts one with those of them not taken yet (DBSCAN core points, taken
    greedily from the densest). Distances go in row blocks to bound memory."""
    if len(vecs) < min_faces:
        return []
    neighbours: list[np.ndarray] = []
    for start in range(0, len(vecs), 1024):
        dist = _pairwise(vecs[start:start + 1024], vecs)
        neighbours.extend(np.flatnonzero(row < radius) for row in dist)
    taken = np.zeros(len(vecs), dtype=bool)
    groups = []
    for core in sorted(range(len(vecs)), key=lambda i: -len(neighbours[i])):
        if len(neighbours[core]) < min_faces:
            break
        if taken[core]:
            continue
        free = [int(m) for m in neighbours[core] if not taken[m]]
        if len(free) >= min_faces:
            taken[free] = True
            groups.append(free)
    return groups


# -- reading ----------------------------------------------------------------

def people(catalog: Catalog, include_hidden: bool = False) -> list[Person]:
    """Everyone with at least one face (or a name), most photos first."""
    rows = catalog.read(
        """SELECT pe.id, pe.name, pe.hidden, COUNT(f.id), COUNT(DISTINCT f.photo_id),
                  (SELECT f2.id FROM faces f2 WHERE f2.person_id = pe.id
                   ORDER BY f2.quality DESC, f2.size_px DESC LIMIT 1)
           FROM people pe LEFT JOIN faces f ON f.person_id = pe.id
           LEFT JOIN photos p ON p.id = f.photo_id AND p.status = 'ok'
           GROUP BY pe.id
           HAVING COUNT(f.id) > 0 OR pe.name IS NOT NULL
           ORDER BY COUNT(DISTINCT f.photo_id) DESC, pe.id"""
    )
    found = [Person(r[0], r[1], bool(r[2]), r[3], r[4], r[5]) for r in rows]
    return [p for p in found if include_hidden or not p.hidden]


def person(catalog: Catalog, person_id: int) -> Person:
    for p in people(catalog, include_hidden=True):
        if p.id == person_id:
            return p
    raise GlimpseError(f"There is no person {person_id}; `glimpse people` lists them.")


def names(catalog: Catalog) -> dict[str, list[int]]:
    """Casefolded name -> ids of the visible people with that name (for queries)."""
    out: dict[str, list[int]] = {}
    for pid, name in catalog.read(
        "SELECT id, name FROM people WHERE name IS NOT NULL AND hidden = 0 ORDER BY id"
    ):
        out.setdefault(str(name).casefold(), []).append(int(pid))
    return out


def photo_ids_of(catalog: Catalog, person_ids: Sequence[int]) -> set[int]:
    """Photos showing any of these people (one person's id list, e.g. a shared name)."""
    if not person_ids:
        return set()
    marks = ",".join("?" * len(person_ids))
    return {r[0] for r in catalog.read(
        f"SELECT DISTINCT photo_id FROM faces WHERE person_id IN ({marks})", list(person_ids))}


def faces_of_photo(catalog: Catalog, photo_id: int) -> list[FaceRow]:
    return [_face_row(r) for r in catalog.read(
        f"SELECT {_FACE_COLUMNS} FROM faces WHERE photo_id=? ORDER BY t_seconds, x", (photo_id,))]


def faces_of_person(catalog: Catalog, person_id: int, limit: int | None = None) -> list[FaceRow]:
    sql = f"SELECT {_FACE_COLUMNS} FROM faces WHERE person_id=? ORDER BY quality DESC, id"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return [_face_row(r) for r in catalog.read(sql, (person_id,))]


def face(catalog: Catalog, face_id: int) -> FaceRow:
    rows = catalog.read(f"SELECT {_FACE_COLUMNS} FROM faces WHERE id=?", (face_id,))
    if not rows:
        raise GlimpseError(f"There is no face {face_id}.")
    return _face_row(rows[0])


def face_count(catalog: Catalog) -> int:
    return int(catalog.read("SELECT COUNT(*) FROM faces")[0][0])


_FACE_COLUMNS = ("id, photo_id, x, y, w, h, size_px, quality, person_id, manual, rejected, "
                 "t_seconds")


def _face_row(r: tuple) -> FaceRow:
    return FaceRow(r[0], r[1], (r[2], r[3], r[4], r[5]), r[6], r[7], r[8], bool(r[9]),
                   _rejected(r[10]), r[11])


@dataclass(frozen=True)
class Summary:
    """What `glimpse status` says about people (plain counts: no model is loaded)."""

    faces: int
    people: int  # visible people with at least one face
    named: int
    photos_read: int  # by the current face pass version
    photos_indexed: int


def summary(catalog: Catalog, pass_name: str, pass_version: int) -> Summary:
    found = people(catalog)
    read, indexed = catalog.pass_counts(pass_name, pass_version)
    return Summary(face_count(catalog), sum(1 for p in found if p.faces),
                   sum(1 for p in found if p.faces and p.name), read, indexed)


@dataclass(frozen=True)
class Found:
    """What the face pass found, as `glimpse people` says it."""

    faces: int
    photos: int  # photos (and videos) with at least one face
    recurring: int  # visible people seen in more than one photo
    once: int  # faces not in such a person: a face seen once, or a person of one photo
    named: int  # visible people with a name and a face


def found(catalog: Catalog) -> Found:
    total, photos = catalog.read("SELECT COUNT(*), COUNT(DISTINCT photo_id) FROM faces")[0]
    visible = [p for p in people(catalog) if p.faces]
    recurring = [p for p in visible if p.photos > 1]
    return Found(int(total), int(photos), len(recurring),
                 int(total) - sum(p.faces for p in recurring), sum(1 for p in visible if p.name))


def _n(count: int, one: str, many: str) -> str:
    return f"{count:,} {one if count == 1 else many}"


def found_line(catalog: Catalog) -> str:
    """What the face pass has found, in one line: "20 faces in 14 photos; 3 people
    seen in several photos; 11 faces seen once" (and how many are named)."""
    f = found(catalog)
    line = (f"{_n(f.faces, 'face', 'faces')} in {_n(f.photos, 'photo', 'photos')}; "
            f"{_n(f.recurring, 'person', 'people')} seen in several photos; "
            f"{_n(f.once, 'face', 'faces')} seen once")
    return line + (f"; {f.named:,} named" if f.named else "")


def lone_faces(catalog: Catalog, limit: int | None = None) -> list[FaceRow]:
    """Faces in no person (seen once, or not like anyone yet), best first: each
    can be named (name_face), and the faces like it then join it."""
    sql = (f"SELECT {_FACE_COLUMNS} FROM faces WHERE person_id IS NULL "
           "ORDER BY quality DESC, size_px DESC, id")
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return [_face_row(r) for r in catalog.read(sql)]


def photo_paths(catalog: Catalog, photo_ids: Sequence[int] | set[int]) -> list[str]:
    """The paths of these photos, sorted (for listings)."""
    ids = sorted(photo_ids)
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    return sorted(str(r[0]) for r in catalog.read(
        f"SELECT path FROM photos WHERE id IN ({marks})", ids))


# -- user actions (user data: never recomputed) -------------------------------

def name_person(catalog: Catalog, person_id: int, name: str) -> None:
    person(catalog, person_id)
    clean = " ".join(name.split())
    with catalog.transaction() as db:
        db.execute("UPDATE people SET name=? WHERE id=?", (clean or None, person_id))


def hide_person(catalog: Catalog, person_id: int, hidden: bool = True) -> None:
    person(catalog, person_id)
    with catalog.transaction() as db:
        db.execute("UPDATE people SET hidden=? WHERE id=?", (int(hidden), person_id))


def merge(catalog: Catalog, keep: int, other: int) -> None:
    """`other`'s faces become `keep`'s; `keep` takes `other`'s name if it has none."""
    if keep == other:
        raise GlimpseError("A person cannot be merged with themselves.")
    a, b = person(catalog, keep), person(catalog, other)
    with catalog.transaction() as db:
        db.execute("UPDATE faces SET person_id=? WHERE person_id=?", (keep, other))
        if a.name is None and b.name is not None:
            db.execute("UPDATE people SET name=? WHERE id=?", (b.name, keep))
        # "not B" now means "not A"
        for fid, text in db.execute(
            "SELECT id, rejected FROM faces WHERE rejected <> ''").fetchall():
            ids = _rejected(text)
            if other in ids:
                db.execute("UPDATE faces SET rejected=? WHERE id=?",
                           (_rejected_text((ids - {other}) | {keep}), fid))
        db.execute("DELETE FROM people WHERE id=?", (other,))


def remove_face(catalog: Catalog, face_id: int) -> None:
    """"Not this person": the face leaves and never joins that person again."""
    row = face(catalog, face_id)
    if row.person_id is None:
        return
    with catalog.transaction() as db:
        db.execute("UPDATE faces SET person_id=NULL, manual=0, rejected=? WHERE id=?",
                   (_rejected_text(row.rejected | {row.person_id}), face_id))


def assign_face(catalog: Catalog, face_id: int, name: str) -> int:
    """Put a face with the person of that name (a new person if nobody has it yet)."""
    clean = " ".join(name.split())
    if not clean:
        raise GlimpseError("Give a name.")
    row = face(catalog, face_id)
    with catalog.transaction() as db:
        found = db.execute("SELECT id FROM people WHERE name=? COLLATE NOCASE ORDER BY id LIMIT 1",
                           (clean,)).fetchone()
        if found is not None:
            pid = int(found[0])
        elif row.person_id is not None and db.execute(
                "SELECT name FROM people WHERE id=?", (row.person_id,)).fetchone()[0] is None:
            pid = row.person_id  # naming an unnamed person's face names the person
            db.execute("UPDATE people SET name=? WHERE id=?", (clean, pid))
        else:
            cur = db.execute("INSERT INTO people(name, hidden, created_at) VALUES (?, 0, ?)",
                             (clean, time.time()))
            pid = int(cur.lastrowid or 0)
        db.execute("UPDATE faces SET person_id=?, manual=1, rejected=? WHERE id=?",
                   (pid, _rejected_text(row.rejected - {pid}), face_id))
    return pid


def name_face(catalog: Catalog, face_id: int, name: str) -> int:
    """Name one face: its person takes the name (or the person of that name takes
    the face; a face seen once starts a person), then the faces like it that are in
    no person join (group_faces). Returns the person's id."""
    row = face(catalog, face_id)
    if row.person_id is not None and person(catalog, row.person_id).name is None:
        same = [p for p in names(catalog).get(" ".join(name.split()).casefold(), [])
                if p != row.person_id]
        if same:  # the name is somebody's already: the group joins them
            merge(catalog, same[0], row.person_id)
            pid = same[0]
        else:  # naming one face names its group
            name_person(catalog, row.person_id, name)
            pid = row.person_id
    else:
        pid = assign_face(catalog, face_id, name)
    group_faces(catalog)
    return pid


def person_by_name(catalog: Catalog, name: str) -> list[int]:
    ids = names(catalog).get(" ".join(name.split()).casefold())
    if not ids:
        raise GlimpseError(f"Nobody is named '{name}'; `glimpse people` lists the people found.")
    return ids
