"""Videos: keyframes searched like photos, the best frame wins, Live Photo clips pair with stills."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from conftest import make_photo
from glimpse.core.errors import ImageDecodeError
from glimpse.core.indexing.scan import scan_folder
from glimpse.core.library import Library
from glimpse.core.media import video
from glimpse.core.search.ranking import Filters

SEGMENT_S = 2
FPS = 10


def segment_image(seed: int, size: tuple[int, int] = (128, 96)) -> Image.Image:
    """The same kind of picture as conftest.make_photo: coarse random colour blocks."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 256, size=(6, 8, 3), dtype=np.uint8)
    return Image.fromarray(blocks, "RGB").resize(size, Image.Resampling.NEAREST)


def make_video(path: Path, seeds: list[int], codec: str = "libx264") -> Path:
    """SEGMENT_S seconds of each seed's picture, a keyframe every second."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=FPS)
        stream.width, stream.height = 128, 96
        stream.pix_fmt = "yuv420p"
        stream.codec_context.gop_size = FPS
        for seed in seeds:
            frame = av.VideoFrame.from_image(segment_image(seed))
            for _ in range(SEGMENT_S * FPS):
                for packet in stream.encode(frame):
                    out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def test_sample_times_are_capped_and_spread() -> None:
    assert video.sample_times(7.0) == [0.0, 2.0, 4.0, 6.0]
    long = video.sample_times(2 * 3600)
    assert len(long) == video.MAX_FRAMES
    assert long[-1] > 2 * 3600 * 0.95  # spread over the whole film, not its first minutes
    assert video.sample_times(0) == [0.0]


def test_decode_video_keyframes(tmp_path: Path) -> None:
    clip = video.decode_video(make_video(tmp_path / "a.mp4", [10, 11, 12]), min_side=48)
    assert [t for t, _ in clip.frames] == [0.0, 2.0, 4.0]
    assert clip.duration == pytest.approx(6.0, abs=0.2)
    assert (clip.width, clip.height) == (128, 96)
    assert min(clip.frames[0][1].size) == 48
    # the frame at 2 s is segment 11's picture (compare with a shrunk original)
    want = np.asarray(segment_image(11).resize(clip.frames[1][1].size), dtype=np.float32)
    got = np.asarray(clip.frames[1][1], dtype=np.float32)
    assert np.abs(want - got).mean() < 12


def test_corrupt_and_truncated_videos_get_reasons(tmp_path: Path) -> None:
    good = make_video(tmp_path / "good.mp4", [1, 2])
    (tmp_path / "cut.mp4").write_bytes(good.read_bytes()[:700])
    (tmp_path / "junk.mov").write_bytes(b"not a video at all" * 20)
    (tmp_path / "empty.mkv").write_bytes(b"")
    for name in ("cut.mp4", "junk.mov", "empty.mkv"):
        with pytest.raises(ImageDecodeError) as err:
            video.decode_video(tmp_path / name)
        assert "video" in str(err.value) or "empty" in str(err.value) or "readable" in str(err.value)


@pytest.fixture
def mixed_dir(tmp_path: Path) -> Path:
    root = tmp_path / "mixed"
    for i in range(4):
        make_photo(root / f"photo_{i}.jpg", seed=100 + i)
    make_video(root / "clip.mp4", [200, 201, 202, 203, 204])  # 10 s, keyframes at 0..8 s
    make_video(root / "other.webm", [300, 301], codec="libvpx")
    return root


def test_image_search_finds_the_video_at_the_right_second(
    library: Library, mixed_dir: Path, tmp_path: Path
) -> None:
    library.add_folder(mixed_dir)
    report = library.index()
    assert report.encode.failed == 0 and report.encode.encoded == 6
    for seed, second in ((200, 0.0), (202, 4.0), (204, 8.0)):
        query = tmp_path / f"q{seed}.png"
        segment_image(seed).save(query)
        hits = library.similar(query, k=3)
        assert Path(hits[0].path).name == "clip.mp4", seed
        assert hits[0].kind == "video" and hits[0].t_seconds == second
        assert hits[0].duration == pytest.approx(10.0, abs=0.2)
        # one entry per item, however many of its keyframes matched
        assert len({h.photo_id for h in hits}) == len(hits) == 3
    webm_query = tmp_path / "q301.png"
    segment_image(301).save(webm_query)
    top = library.similar(webm_query, k=1)[0]
    assert Path(top.path).name == "other.webm" and top.t_seconds == 2.0
    # the filtered (exact) path ranks frames too
    top = library.similar(webm_query, k=1, filters=Filters(folder=str(mixed_dir)))[0]
    assert Path(top.path).name == "other.webm" and top.t_seconds == 2.0
    photo_hit = next(h for h in library.search("x", k=10) if h.kind == "photo")
    assert photo_hit.t_seconds is None and photo_hit.duration is None


def test_frames_survive_reopen_and_leave_with_the_file(
    mixed_dir: Path, tmp_path: Path
) -> None:
    query = tmp_path / "q.png"
    segment_image(203).save(query)
    with Library(tmp_path / "lib", model="GlimpseTiny:random") as lib:
        lib.add_folder(mixed_dir)
        lib.index()
    # The reopened library builds its index from the catalog, keyframes included.
    with Library(tmp_path / "lib", model="GlimpseTiny:random") as lib:
        top = lib.similar(query, k=1)[0]
        assert Path(top.path).name == "clip.mp4" and top.t_seconds == 6.0
        (mixed_dir / "clip.mp4").unlink()
        lib.index()
        assert all(Path(h.path).name != "clip.mp4" for h in lib.similar(query, k=10))
        # A deleted file's row and vectors are kept for a while (a copy that comes
        # back is not re-encoded), its keyframes with it; they leave when it is purged.
        frames = "SELECT COUNT(*) FROM frames WHERE photo_id=?"
        assert lib.catalog.photo(top.photo_id).status == "missing"
        with lib.catalog.transaction() as db:
            lib.catalog.purge_missing(db, keep_s=0)
        assert lib.catalog._query(frames, (top.photo_id,))[0][0] == 0


def test_bad_video_is_recorded_and_the_run_goes_on(library: Library, tmp_path: Path) -> None:
    root = tmp_path / "v"
    make_photo(root / "ok.jpg", 1)
    good = make_video(root / "good.mp4", [5, 6])
    (root / "broken.mov").write_bytes(good.read_bytes()[:700])
    library.add_folder(root)
    report = library.index()
    assert report.encode.encoded == 2 and report.encode.failed == 1
    [(path, reason)] = library.errors()
    assert path.endswith("broken.mov") and "video" in reason


def test_live_photo_clip_is_not_a_second_item(tmp_path: Path) -> None:
    root = tmp_path / "live"
    make_photo(root / "IMG_0001.jpg", 1)
    make_video(root / "IMG_0001.MOV", [1])
    make_video(root / "IMG_0002.mov", [2])  # a clip on its own is indexed
    make_photo(root / "holiday.jpg", 3)
    make_video(root / "holiday.mp4", [3])  # not a Live Photo pair: those are .MOV
    found = {Path(p).name for p in scan_folder(root)}
    assert found == {"IMG_0001.jpg", "IMG_0002.mov", "holiday.jpg", "holiday.mp4"}


def test_video_thumbnail_frame(tmp_path: Path) -> None:
    clip = make_video(tmp_path / "t.mp4", [7, 8])
    thumb = video.thumbnail_frame(clip, 2.0, 64)
    assert max(thumb.size) == 64
    want = np.asarray(segment_image(8).resize(thumb.size), dtype=np.float32)
    assert np.abs(np.asarray(thumb, dtype=np.float32) - want).mean() < 15


def test_frames_at_reads_stored_keyframes_again(tmp_path: Path) -> None:
    """The face pass decodes keyframes at the stored times, each with its own time;
    a time between keyframes lands on the one before it, and repeats come once."""
    clip = make_video(tmp_path / "f.mp4", [20, 21, 22])
    frames = video.frames_at(clip, [0.0, 2.0, 2.5, 4.0], max_side=64)
    assert [t for t, _ in frames] == [0.0, 2.0, 4.0]
    assert all(max(image.size) == 64 for _, image in frames)
    for (_, image), seed in zip(frames, [20, 21, 22], strict=True):
        want = np.asarray(segment_image(seed).resize(image.size), dtype=np.float32)
        assert np.abs(np.asarray(image, dtype=np.float32) - want).mean() < 15
    (tmp_path / "cut.mp4").write_bytes(clip.read_bytes()[:700])
    with pytest.raises(ImageDecodeError, match="video"):
        video.frames_at(tmp_path / "cut.mp4", [0.0], max_side=64)


def test_samsung_motion_photo_is_one_photo() -> None:
    from conftest import SHARED

    folder = SHARED / "data" / "formats-immich" / "formats" / "motionphoto"
    if not folder.exists():
        pytest.skip("shared formats-immich data not present")
    # The clip lives inside the HEIC; nothing extracts it, so the still is the one item.
    [path] = scan_folder(folder)
    from glimpse.core.media import imaging

    photo = imaging.decode_for_model(path)
    assert (photo.width, photo.height) == (3000, 4000)


def test_similar_to_a_video_file_outside_the_library(library: Library, mixed_dir: Path, tmp_path: Path) -> None:
    library.add_folder(mixed_dir)
    library.index()
    outside = make_video(tmp_path / "elsewhere" / "q.mkv", [300, 301])  # same start as other.webm
    top = library.similar(outside, k=1)[0]
    assert Path(top.path).name == "other.webm" and top.t_seconds == 0.0


def test_two_hour_video_is_capped(tmp_path: Path) -> None:
    """A 2-hour clip (tiny frames, so the test is quick) yields MAX_FRAMES keyframes
    spread over the whole film, not its first few minutes."""
    path = tmp_path / "film.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=1, options={"preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        stream.codec_context.gop_size = 10
        for i in range(2 * 3600):
            arr = np.full((32, 32, 3), (i // 60) % 256, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(arr, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    clip = video.decode_video(path, 32)
    times = [t for t, _ in clip.frames]
    assert len(times) == video.MAX_FRAMES
    assert clip.duration == pytest.approx(7200, abs=2)
    assert times[0] == 0.0 and times[-1] > 6900
    assert all(b - a > 100 for a, b in zip(times, times[1:], strict=False))


def test_video_place_and_date_from_its_metadata(library: Library, tmp_path: Path) -> None:
    root = tmp_path / "meta"
    root.mkdir()
    with av.open(str(root / "walk.mov"), "w") as out:
        out.metadata["location"] = "+38.7169-009.1399/"  # ISO 6709, as phones write it
        out.metadata["creation_time"] = "2024-05-01T10:20:30.000000Z"
        stream = out.add_stream("libx264", rate=5)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        frame = av.VideoFrame.from_image(segment_image(1, (64, 48)))
        for _ in range(10):
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    library.add_folder(root)
    library.index()
    [hit] = library.search("x", k=5, filters=Filters(place="Portugal"))
    assert hit.kind == "video" and hit.place == "Lisbon, Portugal"
    assert hit.taken_at is not None and hit.taken_at.startswith("2024-05-0")  # UTC shown as local time
