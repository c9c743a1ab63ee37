"""The face pass for real: dlib's models on Flickr8k photos (read from ../shared,
never bundled), grouping real embeddings, names kept across a re-run, the CLI."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageEnhance, ImageOps

from conftest import SHARED, make_photo
from glimpse.core.errors import GlimpseError
from glimpse.core.signals import faces as faces_mod
from glimpse.core.signals import people
from glimpse.core.signals.faces import FaceEngine, FacePass

IMAGES = SHARED / "data" / "flickr8k-1k" / "images"
# Captions: "A group of people ... smiling" (three faces), "a man and a boy" (two faces
# in view), and "A black dog ..." (no person).
PEOPLE_PHOTO = "1244306891_8e78ae1620.jpg"
TWO_PEOPLE = "1079274291_9aaf896cc1.jpg"
DOG_PHOTO = "1001773457_577c3a7d70.jpg"

needs_flickr = pytest.mark.skipif(
    not (IMAGES / PEOPLE_PHOTO).is_file(), reason=f"Flickr8k photos are not in {IMAGES}"
)
# Real faces that may be bundled (tests/assets/faces/README.md): Eileen Collins
# (NASA, public domain) and a cameraman (CC0), from scikit-image's sample data.
ASSETS = Path(__file__).parent / "assets" / "faces"


@pytest.fixture(scope="module")
def engine() -> FaceEngine:
    return FaceEngine()


@needs_flickr
def test_faces_found_in_people_photos_and_not_in_a_dog_photo(engine: FaceEngine) -> None:
    faces = engine.faces_in(Image.open(IMAGES / PEOPLE_PHOTO))
    assert len(faces) >= 2
    for f in faces:
        x, y, w, h = f.box
        assert 0 <= x < x + w <= 1 and 0 <= y < y + h <= 1
        assert f.embedding.shape == (128,) and 0 < f.quality <= 1
    assert engine.faces_in(Image.open(IMAGES / DOG_PHOTO)) == []


def edited_copies(src: Path, folder: Path) -> list[Path]:
    """The photo and the edits a phone archive has: half size, JPEG q60, brighter, mirrored."""
    img = Image.open(src).convert("RGB")
    folder.mkdir(parents=True, exist_ok=True)
    out = [folder / "orig.jpg", folder / "half.jpg", folder / "q60.jpg", folder / "bright.jpg",
           folder / "mirror.jpg"]
    img.save(out[0], quality=95)
    img.resize((img.width // 2, img.height // 2), Image.Resampling.LANCZOS).save(out[1], quality=95)
    img.save(out[2], quality=60)
    ImageEnhance.Brightness(img).enhance(1.4).save(out[3], quality=95)
    ImageOps.mirror(img).save(out[4], quality=95)
    return out


@pytest.fixture
def faces_library(library, tmp_path: Path, engine: FaceEngine):  # type: ignore[no-untyped-def]
    root = tmp_path / "photos"
    edited_copies(IMAGES / PEOPLE_PHOTO, root / "group")
    shutil.copy(IMAGES / TWO_PEOPLE, root / "two.jpg")
    shutil.copy(IMAGES / DOG_PHOTO, root / "dog.jpg")
    library.add_folder(root)
    library.index(skip={"ocr", "faces"})
    library.engines.get("faces", lambda: engine)  # the module's shared engine
    report = library.find_faces()
    assert report.done == 7 and report.failed == 0
    return library


@needs_flickr
def test_the_same_faces_become_people_and_strangers_do_not_join(faces_library) -> None:  # type: ignore[no-untyped-def]
    lib = faces_library
    cat = lib.catalog
    found = people.people(cat)
    assert found, "the five copies of the group photo start people"
    group_ids = {lib.catalog.photo_by_path(str(p)).id
                 for p in sorted((Path(lib.folder_paths()[0]) / "group").iterdir())}
    two = lib.catalog.photo_by_path(str(Path(lib.folder_paths()[0]) / "two.jpg")).id
    for p in found:
        photos = people.photo_ids_of(cat, [p.id])
        assert photos <= group_ids and two not in photos
    biggest = found[0]
    assert biggest.photos >= 4  # the face is re-found and joins in most copies
    assert people.faces_of_photo(cat, two) and all(
        f.person_id is None for f in people.faces_of_photo(cat, two))


@needs_flickr
def test_names_search_and_a_new_face_pass_version_keep_user_data(faces_library, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    lib = faces_library
    cat = lib.catalog
    anna = people.people(cat)[0]
    people.name_person(cat, anna.id, "Anna")
    stray = people.faces_of_person(cat, anna.id)[-1]
    people.remove_face(cat, stray.id)
    before = people.photo_ids_of(cat, [anna.id])

    from glimpse.core.search import names as people_query
    from glimpse.core.search.ranking import Filters

    named = people_query.extract("Anna at the beach", people.names(cat))
    assert named.text == "at the beach" and named.person_ids == ((anna.id,),)
    hits = lib.search(named.text, k=10, filters=Filters(photo_ids=frozenset(before)))
    assert {h.photo_id for h in hits} == before
    assert {h.photo_id for h in lib.search("", k=10, filters=Filters(photo_ids=frozenset(before)))} == before

    monkeypatch.setattr(FacePass, "version", FacePass.version + 1)
    report = lib.find_faces()
    assert report.done == 7  # every photo read again by the new version
    again = people.person(cat, anna.id)
    assert again.name == "Anna" and people.photo_ids_of(cat, [anna.id]) == before
    refound = [f for f in people.faces_of_photo(cat, stray.photo_id)
               if people.iou(f.box, stray.box) > 0.5]
    assert refound and anna.id in refound[0].rejected and refound[0].person_id != anna.id


@needs_flickr
def test_cli_faces_people_and_person_search(tmp_path: Path) -> None:
    from test_cli import run_cli

    root = tmp_path / "photos"
    edited_copies(IMAGES / PEOPLE_PHOTO, root)
    shutil.copy(IMAGES / DOG_PHOTO, root / "dog.jpg")
    lib = tmp_path / "lib"
    out = run_cli("index", str(root), "--no-ocr", "--no-faces", lib=lib).stdout
    assert "faces" not in out
    assert "No people yet" in run_cli("people", lib=lib).stdout
    out = run_cli("faces", lib=lib).stdout
    assert "Looked for faces in 6 photos" in out
    listed = json.loads(run_cli("people", "--json", lib=lib).stdout)
    assert listed and listed[0]["photos"] >= 4 and listed[0]["name"] is None
    first = str(listed[0]["id"])
    run_cli("people", "name", first, "Anna", lib=lib)
    assert "Anna" in run_cli("people", lib=lib).stdout
    hits = run_cli("search", "Anna at the beach", "--json", lib=lib)
    assert f"People filter: Anna ({listed[0]['photos']} photos)" in hits.stderr
    paths = {Path(h["path"]).name for h in json.loads(hits.stdout)}
    assert len(paths) == listed[0]["photos"] and "dog.jpg" not in paths
    by_option = json.loads(run_cli("search", "beach", "--person", "anna", "--json", lib=lib).stdout)
    assert {Path(h["path"]).name for h in by_option} == paths
    unknown = run_cli("search", "x", "--person", "Zed", lib=lib, check=False)
    assert unknown.returncode == 2 and "Nobody is named 'Zed'" in unknown.stderr
    plain = run_cli("search", "Zed at the beach", lib=lib).stdout  # a non-name stays words
    assert "People filter" not in plain
    if len(listed) > 1:
        run_cli("people", "merge", first, str(listed[1]["id"]), lib=lib)
    run_cli("people", "hide", first, lib=lib)
    assert "Anna" not in run_cli("people", lib=lib).stdout
    assert "(hidden)" in run_cli("people", "--all", lib=lib).stdout


@needs_flickr
def test_people_says_what_the_face_pass_found_when_no_one_recurs(tmp_path: Path) -> None:
    from test_cli import run_cli

    root = tmp_path / "photos"
    root.mkdir()
    shutil.copy(IMAGES / PEOPLE_PHOTO, root / "people.jpg")
    shutil.copy(IMAGES / DOG_PHOTO, root / "dog.jpg")
    lib = tmp_path / "lib"
    run_cli("index", str(root), "--no-ocr", "--no-faces", lib=lib)
    assert "no photo has been looked at for faces" in run_cli("people", lib=lib).stdout
    run_cli("faces", lib=lib)
    out = run_cli("people", lib=lib).stdout
    assert "Looked for faces in 2 of 2 photos: " in out
    assert "none of them seen in more than one photo yet" in out
    assert int(out.split("photos: ")[1].split(" faces")[0]) >= 1


# -- faces in video keyframes (real dlib models, a real face, a real H.264 clip) --

FPS = 10


def face_clip(path: Path, segments: list[Image.Image], seconds: int = 2) -> Path:
    """`seconds` of each picture, a keyframe every second (as a phone writes them)."""
    import av

    width, height = segments[0].size
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        stream.codec_context.gop_size = FPS
        for picture in segments:
            frame = av.VideoFrame.from_image(picture.convert("RGB"))
            for _ in range(seconds * FPS):
                for packet in stream.encode(frame):
                    out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def on_background(face: Image.Image, seed: int, folder: Path,
                  size: tuple[int, int] = (480, 360)) -> Image.Image:
    """The picture, square, in the middle of a frame of coloured blocks."""
    back = Image.open(make_photo(folder / f"bg{seed}.png", seed, size, "PNG")).convert("RGB")
    face = face.convert("RGB").resize((size[1], size[1]), Image.Resampling.LANCZOS)
    back.paste(face, ((size[0] - size[1]) // 2, 0))
    return back


def test_spread_caps_the_keyframes_and_keeps_both_ends() -> None:
    times = [float(t) for t in range(0, 128, 2)]  # MAX_FRAMES keyframes of a long clip
    picked = faces_mod.spread(times)
    assert len(picked) == faces_mod.MAX_VIDEO_FRAMES
    assert picked[0] == 0.0 and picked[-1] == 126.0 and picked == sorted(picked)
    assert faces_mod.spread([4.0, 0.0, 2.0]) == [0.0, 2.0, 4.0]
    assert faces_mod.spread([]) == []



def eileen_photos(root: Path) -> Image.Image:
    """Three photos of Eileen Collins as an archive holds them (as taken, mirrored,
    brighter and re-saved at quality 70) in `root`; her picture, for more."""
    root.mkdir(parents=True, exist_ok=True)
    eileen = Image.open(ASSETS / "astronaut.jpg").convert("RGB")
    eileen.save(root / "eileen.jpg", quality=95)
    ImageOps.mirror(eileen).save(root / "eileen_mirror.jpg", quality=95)
    ImageEnhance.Brightness(eileen).enhance(1.3).save(root / "eileen_bright.jpg", quality=70)
    return eileen

@pytest.fixture
def video_library(library, tmp_path: Path, engine: FaceEngine):  # type: ignore[no-untyped-def]
    """Three edited photos of Eileen Collins, one of the cameraman, and a 6 s clip
    whose middle 2 seconds show her (keyframes at 0, 2 and 4 s)."""
    root = tmp_path / "photos"
    eileen = eileen_photos(root)
    Image.open(ASSETS / "camera.jpg").crop((100, 40, 340, 280)).save(root / "cameraman.jpg")
    frames = [on_background(Image.new("RGB", (8, 8), "grey"), 1, tmp_path),
              on_background(eileen, 2, tmp_path),
              on_background(eileen.crop((350, 0, 512, 300)), 3, tmp_path)]  # the shuttle model
    face_clip(root / "clip.mp4", frames)
    library.add_folder(root)
    library.index(skip={"ocr", "faces"})
    library.engines.get("faces", lambda: engine)  # the module's shared engine
    report = library.find_faces()
    assert report.done == 5 and report.failed == 0, report.errors
    return library


def test_faces_in_video_keyframes_join_the_person_and_her_name_finds_the_video(video_library) -> None:  # type: ignore[no-untyped-def]
    lib = video_library
    cat = lib.catalog
    root = Path(lib.folder_paths()[0])
    clip = cat.photo_by_path(str(root / "clip.mp4")).id
    photo = cat.photo_by_path(str(root / "eileen.jpg")).id
    assert cat.keyframe_times()[clip] == [0.0, 2.0, 4.0]
    in_clip = people.faces_of_photo(cat, clip)
    assert in_clip and {f.t_seconds for f in in_clip} == {2.0}  # only the keyframe showing her
    assert all(f.t_seconds is None for f in people.faces_of_photo(cat, photo))
    # Her face in the clip joins the person her photos started, like any face.
    eileen_face = max(people.faces_of_photo(cat, photo), key=lambda f: f.size_px)
    assert eileen_face.person_id is not None
    video_face = max(in_clip, key=lambda f: f.size_px)
    assert video_face.person_id == eileen_face.person_id
    people.name_person(cat, eileen_face.person_id, "Eileen")
    (found,) = [p for p in people.people(cat) if p.name == "Eileen"]
    assert found.photos == 4  # three photos and the video, counted once
    shown = people.photo_ids_of(cat, people.person_by_name(cat, "eileen"))
    assert clip in shown and cat.photo_by_path(str(root / "cameraman.jpg")).id not in shown

    from glimpse.core.search import names as people_query
    from glimpse.core.search.ranking import Filters

    query = people_query.extract("Eileen", people.names(cat))
    hits = lib.search(query.text, k=10, filters=Filters(photo_ids=frozenset(shown)))
    assert any(h.photo_id == clip and h.kind == "video" for h in hits), [(h.photo_id, h.kind, h.path) for h in hits]


def test_a_new_face_pass_keeps_names_in_videos_and_a_bad_clip_is_recorded(
        video_library, monkeypatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    lib = video_library
    cat = lib.catalog
    clip = cat.photo_by_path(str(Path(lib.folder_paths()[0]) / "clip.mp4")).id
    face = max(people.faces_of_photo(cat, clip), key=lambda f: f.size_px)
    pid = people.assign_face(cat, face.id, "Eileen")
    monkeypatch.setattr(FacePass, "version", FacePass.version + 1)
    assert lib.find_faces().done == 5
    again = max(people.faces_of_photo(cat, clip), key=lambda f: f.size_px)
    assert (again.t_seconds, again.person_id, again.manual) == (2.0, pid, True)
    # A clip that cannot be decoded again is recorded with its reason, like a bad photo.
    row = cat.photo(clip)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(Path(row.path).read_bytes()[:300])
    with pytest.raises(GlimpseError, match="video"):
        FacePass(lib.engines.get("faces", FaceEngine), {clip: [0.0, 2.0]}).process(replace(row, path=str(broken)))


def test_a_library_made_by_the_hog_pass_keeps_its_names_under_the_cnn_detector(
        tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Version 1 of the pass (dlib's HOG detector) named Eileen and placed a face by
    hand; the current version (MTCNN) draws other boxes, and every name stays with her."""
    from conftest import TINY_MODEL
    from glimpse.core.library import Library

    root = tmp_path / "photos"
    eileen = eileen_photos(root)
    eileen.resize((384, 384)).save(root / "eileen_small.jpg", quality=90)
    with monkeypatch.context() as old_pass:
        old_pass.setattr(FacePass, "version", 1)
        lib = Library(tmp_path / "lib", model=TINY_MODEL)
        lib.add_folder(root)
        lib.index(skip={"ocr", "faces"})
        lib.engines.get("faces", lambda: FaceEngine(detector="hog"))
        assert lib.find_faces().done == 4
        cat = lib.catalog
        (person,) = [p for p in people.people(cat) if p.photos >= 3]
        people.name_person(cat, person.id, "Eileen")
        small = cat.photo_by_path(str(root / "eileen_small.jpg")).id
        hog_face = max(people.faces_of_photo(cat, small), key=lambda f: f.size_px)
        people.assign_face(cat, hog_face.id, "Eileen")  # placed by hand: manual
        before = people.photo_ids_of(cat, [person.id])
        hog_boxes = {f.photo_id: f.box for f in people.faces_of_person(cat, person.id)}
        lib.close()
    lib = Library(tmp_path / "lib", model=TINY_MODEL)  # a new run: the default detector
    try:
        assert lib.engines.get("faces", FaceEngine).detector == "mtcnn"
        assert lib.find_faces().done == 4  # the new version reads every photo again
        cat = lib.catalog
        again = people.person(cat, person.id)
        assert again.name == "Eileen" and people.photo_ids_of(cat, [person.id]) == before
        moved = {f.photo_id: f.box for f in people.faces_of_person(cat, person.id)}
        assert moved.keys() == hog_boxes.keys() and moved != hog_boxes  # new boxes, same person
        placed = max(people.faces_of_photo(cat, small), key=lambda f: f.size_px)
        assert placed.person_id == person.id and placed.manual
    finally:
        lib.close()


def test_every_face_is_nameable_from_the_cli_and_later_photos_join_it(tmp_path: Path) -> None:
    from test_cli import run_cli

    root = tmp_path / "photos"
    eileen_photos(root)
    camera = Image.open(ASSETS / "camera.jpg").convert("RGB")
    camera.save(root / "cameraman.jpg", quality=95)
    lib = tmp_path / "lib"
    run_cli("index", str(root), "--no-ocr", lib=lib)
    out = run_cli("people", lib=lib).stdout
    # one face in each photo; Eileen's three start a person, the cameraman is seen once
    assert ("4 faces in 4 photos; 1 person seen in several photos; 1 face seen once."
            in out), out
    assert "glimpse people --all" in out
    listed = json.loads(run_cli("people", "--all", "--json", lib=lib).stdout)
    (group,) = [e for e in listed if e["id"] is not None]
    assert sorted(Path(p).name for p in group["paths"]) == [
        "eileen.jpg", "eileen_bright.jpg", "eileen_mirror.jpg"]
    (once,) = [e for e in listed if e["id"] is None]
    assert [Path(p).name for p in once["paths"]] == ["cameraman.jpg"]
    assert f"face {once['face_id']:5d}  {root / 'cameraman.jpg'}" in run_cli(
        "people", "--all", lib=lib).stdout
    # naming a face of a group names the group; naming a lone face starts a person
    run_cli("people", "name-face", str(group["face_id"]), "Eileen", lib=lib)
    run_cli("people", "name-face", str(once["face_id"]), "Lav", lib=lib)
    out = run_cli("people", lib=lib).stdout
    assert "Eileen" in out and "Lav" in out
    assert "1 face seen once" in out  # Lav's face: a person now, but of one photo
    ImageOps.mirror(camera).save(root / "cameraman_mirror.jpg", quality=95)
    run_cli("index", str(root), "--no-ocr", lib=lib)
    after = {e["name"]: e for e in json.loads(run_cli("people", "--json", lib=lib).stdout)}
    assert sorted(Path(p).name for p in after["Lav"]["paths"]) == [
        "cameraman.jpg", "cameraman_mirror.jpg"]
    assert "5 faces in 5 photos; 2 people seen in several photos; 0 faces seen once" in run_cli(
        "people", lib=lib).stdout
    bad = run_cli("people", "name-face", "x", "Anna", lib=lib, check=False)
    assert bad.returncode == 2 and "'x' is not a face id" in bad.stderr


def test_mtcnn_steps_on_hand_computed_boxes() -> None:
    from glimpse.core.signals import face_detector as fd

    # 12 px window for 20 px faces: scale 0.6; 100 px * 0.6 = 60, 42.5, 30.2, 21.4, 15.2
    # (>= 12), then 10.8 stops
    assert fd.pyramid(100, 200, 20) == pytest.approx([0.6 * 0.709 ** i for i in range(5)])
    boxes = np.array([[0, 0, 10, 10, 0.9],   # best
                      [1, 1, 11, 11, 0.8],   # IoU 81/119 = 0.68 with the best: dropped at 0.5
                      [20, 20, 30, 30, 0.7],  # apart: kept
                      [2, 2, 6, 6, 0.95]],   # inside the best: IoU 16/100, by-min 16/16 = 1
                     dtype=np.float32)
    assert fd.nms(boxes, 0.5).tolist() == [3, 0, 2]
    assert fd.nms(boxes, 0.5, by_min=True).tolist() == [3, 2]  # the boxes around it go
    assert fd.square(np.array([[0, 0, 10, 4, 1]], np.float32))[0, :4].tolist() == [0, -3, 10, 7]
    moved = fd.refine(np.array([[10, 10, 30, 20, 1]], np.float32),
                      np.array([[0.1, -0.5, 0.0, 1.0]], np.float32))
    assert moved[0, :4].tolist() == [12, 5, 30, 30]


def test_mtcnn_finds_eileen_where_she_is_and_nothing_in_a_blank_picture() -> None:
    from glimpse.core.signals.face_detector import MTCNN

    detector = MTCNN()
    boxes, marks = detector.detect(Image.open(ASSETS / "astronaut.jpg"))
    (box,) = boxes  # her face: about x 180-268, y 58-175 of the 512 px portrait
    assert 170 < box[0] < 190 and 255 < box[2] < 280 and 45 < box[1] < 70 and 165 < box[3] < 190
    assert box[4] > 0.99
    left_eye, right_eye, nose = marks[0][0], marks[0][1], marks[0][2]
    assert left_eye[0] < nose[0] < right_eye[0] and left_eye[1] < nose[1]
    blank = Image.new("RGB", (400, 300), (128, 128, 128))
    assert len(detector.detect(blank)[0]) == 0


def test_chips_aligned_from_mtcnn_landmarks_match_dlibs_own_points() -> None:
    """The five points made from MTCNN's (eye centres, nose tip) land where dlib's
    5-point model puts its own (eye corners, base of the nose), in its order."""
    import dlib

    from glimpse.core.media import imaging
    from glimpse.core.signals.faces import FaceEngine, _dlib_points

    engine = FaceEngine(align="landmarks")
    image = imaging.fit_within(Image.open(ASSETS / "astronaut.jpg"), engine.max_side).convert("RGB")
    pixels = np.ascontiguousarray(np.asarray(image))
    _, predictor, _ = engine._load()
    (box,), points = engine._boxes(None, pixels, image)
    theirs = predictor(pixels, dlib.rectangle(*box[:4]))
    ours = _dlib_points(box, points[0])
    eyes = np.linalg.norm(points[0][1] - points[0][0])
    for i in range(5):
        gap = np.hypot(theirs.part(i).x - ours.part(i).x, theirs.part(i).y - ours.part(i).y)
        assert gap < 0.15 * eyes, (i, gap, eyes)


def test_the_aligner_starts_from_the_mtcnn_box_made_hog_shaped_and_steadies_its_points() -> None:
    """dlib's 5-point model was trained on HOG boxes: the default engine hands it the
    MTCNN box mapped to HOG's shape (hog_shaped), which lies closer to the box HOG
    itself draws round Eileen's face than MTCNN's own; her embedding is described from
    the points found there, steadied, and a box moved by 6% (as MTCNN's moves
    between copies of a photo) moves the steadied points less than the plain ones."""
    import dlib

    from glimpse.core.media import imaging
    from glimpse.core.signals.faces import DEFAULT_ALIGN, _steady_points, hog_shaped

    assert DEFAULT_ALIGN == "hog-box"
    engine = FaceEngine()
    image = imaging.fit_within(Image.open(ASSETS / "astronaut.jpg"), engine.max_side).convert("RGB")
    pixels = np.ascontiguousarray(np.asarray(image))
    _, predictor, descriptor = engine._load()
    (box,), _ = engine._boxes(None, pixels, image)
    mapped = hog_shaped(box)
    assert engine.aligner_box(box) == mapped != tuple(box[:4])
    hog = FaceEngine(detector="hog")

    def overlap(a: tuple, b: tuple) -> float:
        return people.iou((a[0], a[1], a[2] - a[0], a[3] - a[1]), (b[0], b[1], b[2] - b[0], b[3] - b[1]))

    hog_box = max(hog._boxes(hog._load()[0], pixels, image)[0], key=lambda b: overlap(b, box))

    assert overlap(mapped, hog_box) > overlap(box, hog_box) + 0.05
    (face,) = engine.faces_in(image)

    def described(shape: dlib.full_object_detection) -> np.ndarray:
        return np.asarray(descriptor.compute_face_descriptor(pixels, shape), np.float32)

    def points(shape: dlib.full_object_detection) -> np.ndarray:
        return np.array([(shape.part(i).x, shape.part(i).y) for i in range(5)], np.float64)

    assert np.allclose(face.embedding, described(_steady_points(predictor, pixels, mapped)), atol=1e-5)
    assert np.linalg.norm(face.embedding - described(_steady_points(predictor, pixels, box[:4]))) > 1e-3
    (raw,) = FaceEngine(align="box").faces_in(image)  # version 2: the raw box, points as found
    assert np.allclose(raw.embedding, described(predictor(pixels, dlib.rectangle(*box[:4]))), atol=1e-5)
    plain_moves, steady_moves = [], []
    step = round(0.06 * (mapped[2] - mapped[0]))  # 6 px of her 97 px box
    for dx, dy in ((step, 0), (0, step), (-step, -step), (step, -step), (-step, step)):
        moved = (mapped[0] + dx, mapped[1] + dy, mapped[2] + dx, mapped[3] + dy)
        plain_moves.append(np.abs(points(predictor(pixels, dlib.rectangle(*moved)))
                                  - points(predictor(pixels, dlib.rectangle(*mapped)))).mean())
        steady_moves.append(np.abs(points(_steady_points(predictor, pixels, moved))
                                   - points(_steady_points(predictor, pixels, mapped))).mean())
    assert np.mean(steady_moves) < 0.7 * np.mean(plain_moves), (steady_moves, plain_moves)


def test_a_library_made_by_face_pass_version_2_is_read_again_and_keeps_its_names(
        tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Version 2 described faces from the raw MTCNN box; version 3's embeddings differ,
    so every photo is read again, and the name given under version 2 stays."""
    from conftest import TINY_MODEL
    from glimpse.core.library import Library

    assert faces_mod.FACE_VERSION == 3
    root = tmp_path / "photos"
    eileen_photos(root)
    with monkeypatch.context() as old_pass:
        old_pass.setattr(FacePass, "version", 2)
        lib = Library(tmp_path / "lib", model=TINY_MODEL)
        lib.add_folder(root)
        lib.index(skip={"ocr", "faces"})
        lib.engines.get("faces", lambda: FaceEngine(align="box"))
        assert lib.find_faces().done == 3
        (person,) = people.people(lib.catalog)
        people.name_person(lib.catalog, person.id, "Eileen")
        old = dict(lib.catalog.read("SELECT photo_id, embedding FROM faces"))
        lib.close()
    lib = Library(tmp_path / "lib", model=TINY_MODEL)
    try:
        assert lib.find_faces().done == 3
        (again,) = people.people(lib.catalog)
        assert again.name == "Eileen" and again.photos == 3
        new = dict(lib.catalog.read("SELECT photo_id, embedding FROM faces"))
        assert new.keys() == old.keys() and len(new) == 3
        assert all(np.linalg.norm(people._vector(new[k]) - people._vector(old[k])) > 1e-4
                   for k in new)  # described anew
    finally:
        lib.close()


def test_small_photos_are_searched_for_smaller_faces_only_when_asked() -> None:
    """small_side=720: a 500-px photo is searched from 20 * 500 / 720 = 13.9 px faces, a
    photo at the detector's size from the usual 20 px, a tiny one never under 12 px;
    off by default (it raised false alarms on flickr8k-1k, README)."""
    asked: list = []

    class Detector:
        def detect(self, image: Image.Image, min_face: float | None = None) -> tuple:
            asked.append(min_face)
            return np.zeros((0, 5), np.float32), np.zeros((0, 5, 2), np.float32)

    for small_side, sizes in ((720, (500, 512, 900, 200)), (faces_mod.SMALL_PHOTO_SIDE, (500,))):
        engine = FaceEngine(small_side=small_side)
        engine._load()
        engine._mtcnn = Detector()
        for side in sizes:
            assert engine.faces_in(Image.new("RGB", (side, side * 3 // 4), (90, 90, 90))) == []
    assert asked[0] == pytest.approx(20 * 500 / 720) and asked[1:4] == [None, None, 12]
    assert asked[4] is None  # the default: off
