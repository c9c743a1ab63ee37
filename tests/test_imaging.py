"""Tests for glimpse.core.media.imaging: generated photos of every awkward kind, bad
files, and (when ../shared/data is there) real HEIC/AVIF/JPEG samples."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
import sys
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile, JpegImagePlugin

from glimpse.core.errors import ImageDecodeError
from glimpse.core.media import imaging

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
if not SHARED_DATA.is_dir():  # the checkout may live elsewhere; this is where CI has it
    SHARED_DATA = Path("/work/shared/data")
IMMICH = SHARED_DATA / "formats-immich"
EXIF_SAMPLES = SHARED_DATA / "exif-samples"


def shared(folder: Path, relative: str) -> Path:
    """A real sample file, or skip the test when the shared data is not there."""
    path = folder / relative
    if not path.is_file():
        pytest.skip(f"shared sample data not available: {path}")
    return path


# --- helpers ---------------------------------------------------------------------------


def two_tone(
    size: tuple[int, int], left: tuple[int, int, int], right: tuple[int, int, int]
) -> Image.Image:
    """Left half one colour, right half another: shows where a rotation put things."""
    im = Image.new("RGB", size, left)
    im.paste(right, (size[0] // 2, 0, size[0], size[1]))
    return im


def exif_with(
    orientation: int | None = None,
    original: str | None = None,
    digitized: str | None = None,
    datetime_ifd0: str | None = None,
) -> Image.Exif:
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    if datetime_ifd0 is not None:
        exif[306] = datetime_ifd0
    sub = exif.get_ifd(0x8769)
    if original is not None:
        sub[36867] = original
    if digitized is not None:
        sub[36868] = digitized
    return exif


def mean_color(im: Image.Image, box: tuple[int, int, int, int]) -> np.ndarray:
    return np.asarray(im.crop(box), dtype=np.float64).reshape(-1, 3).mean(axis=0)


def assert_close(actual: np.ndarray, expected: tuple[int, int, int], tol: float = 12) -> None:
    assert np.abs(actual - np.array(expected)).max() <= tol, (actual, expected)


def expect_error(fn: Callable[[], object], reason: str) -> ImageDecodeError:
    with pytest.raises(ImageDecodeError) as info:
        fn()
    assert str(info.value).startswith(reason), str(info.value)
    return info.value


# --- extensions and setup --------------------------------------------------------------


def test_supported_extensions_cover_common_photo_formats() -> None:
    for ext in (
        ".jpg",
        ".jpeg",
        ".jpe",
        ".png",
        ".webp",
        ".heic",
        ".heif",
        ".avif",
        ".tif",
        ".tiff",
        ".bmp",
        ".gif",
    ):
        assert ext in imaging.SUPPORTED_EXTENSIONS
    assert (".jxl" in imaging.SUPPORTED_EXTENSIONS) == ("JXL" in Image.OPEN)
    assert all(e == e.lower() and e.startswith(".") for e in imaging.SUPPORTED_EXTENSIONS)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.jpg", True),
        ("A.JPG", True),
        ("dir.d/IMG_1.HeIc", True),
        ("x.tiff", True),
        ("notes.txt", False),
        ("jpg", False),
        ("archive.jpg.zip", False),
        (".jpg", False),
    ],
)
def test_is_supported_by_extension(name: str, expected: bool) -> None:
    assert imaging.is_supported(name) is expected
    assert imaging.is_supported(Path(name)) is expected


def test_register_plugins_is_idempotent_and_limits_are_set() -> None:
    imaging.register_plugins()
    imaging.register_plugins()
    assert "HEIF" in Image.OPEN
    assert Image.MAX_IMAGE_PIXELS == imaging.MAX_IMAGE_PIXELS
    # A truncated photo must be an error, not half a picture.
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


# --- orientation, size, dates ------------------------------------------------------------


def test_jpeg_orientation_6_is_turned_upright_and_dated(tmp_path: Path) -> None:
    path = tmp_path / "portrait.jpg"
    # Stored landscape 800x600, left red / right blue; orientation 6 means
    # "rotate 90 degrees clockwise to view", so the viewer sees red on top.
    two_tone((800, 600), (255, 0, 0), (0, 0, 255)).save(
        path, quality=95, exif=exif_with(orientation=6, original="2021:05:04 13:14:15")
    )
    photo = imaging.decode_for_model(path)
    assert (photo.width, photo.height) == (600, 800)
    assert photo.image.mode == "RGB"
    w, h = photo.image.size
    assert (w, h) == (224, 299)
    assert_close(mean_color(photo.image, (0, 0, w, h // 3)), (255, 0, 0))
    assert_close(mean_color(photo.image, (0, 2 * h // 3, w, h)), (0, 0, 255))
    assert photo.taken_at == dt.datetime(2021, 5, 4, 13, 14, 15)
    assert imaging.read_capture_time(path) == photo.taken_at

    thumb = imaging.make_thumbnail(path, max_side=128)
    assert thumb.mode == "RGB" and thumb.size == (96, 128)
    assert_close(mean_color(thumb, (0, 0, 96, 40)), (255, 0, 0))


def test_large_jpeg_is_decoded_in_draft_mode(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "big.jpg"
    noise = Image.fromarray(np.random.default_rng(0).integers(0, 255, (30, 40, 3), np.uint8))
    noise.resize((4000, 3000), Image.Resampling.BILINEAR).save(path, quality=80)

    drafted: list[tuple[int, int]] = []
    real_draft = JpegImagePlugin.JpegImageFile.draft

    def spy(self, mode, size):  # type: ignore[no-untyped-def]
        result = real_draft(self, mode, size)
        drafted.append(self.size)
        return result

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    photo = imaging.decode_for_model(path, min_side=224)
    assert (photo.width, photo.height) == (4000, 3000)
    # libjpeg decoded at 1/8 scale (500x375), not the full 12 MP...
    assert len(drafted) == 1 and 224 <= min(drafted[0]) <= 2 * 224
    # ...and the result is just big enough for the model.
    assert min(photo.image.size) == 224 and photo.image.size == (299, 224)

    thumb = imaging.make_thumbnail(path)
    assert thumb.size == (256, 192)
    assert len(drafted) == 2 and max(drafted[1]) < 1000


def test_small_images_are_not_upscaled(tmp_path: Path) -> None:
    path = tmp_path / "small.png"
    Image.new("RGB", (120, 80), (10, 200, 30)).save(path)
    photo = imaging.decode_for_model(path)
    assert photo.image.size == (120, 80) and (photo.width, photo.height) == (120, 80)
    assert photo.taken_at is None
    assert imaging.make_thumbnail(path).size == (120, 80)


def test_large_png_is_resized_to_min_side(tmp_path: Path) -> None:
    path = tmp_path / "wide.png"
    Image.new("RGB", (2000, 1000), (0, 128, 255)).save(path)
    photo = imaging.decode_for_model(path, min_side=256)
    assert photo.image.size == (512, 256)
    assert (photo.width, photo.height) == (2000, 1000)
    assert imaging.make_thumbnail(path, max_side=100).size == (100, 50)


@pytest.mark.parametrize(
    ("original", "digitized", "ifd0", "expected"),
    [
        (
            "2020:01:02 03:04:05",
            "2019:01:01 00:00:00",
            "2018:01:01 00:00:00",
            dt.datetime(2020, 1, 2, 3, 4, 5),
        ),
        (None, "2019:06:07 08:09:10", "2018:01:01 00:00:00", dt.datetime(2019, 6, 7, 8, 9, 10)),
        (None, None, "2018:02:03 04:05:06", dt.datetime(2018, 2, 3, 4, 5, 6)),
        ("0000:00:00 00:00:00", None, None, None),
        ("    :  :     :  :  ", None, "2018:02:03 04:05:06", dt.datetime(2018, 2, 3, 4, 5, 6)),
        ("yesterday", None, None, None),
        ("2020:13:45 25:61:00", None, None, None),
        ("2020:01:02 03:04:05 ", None, None, dt.datetime(2020, 1, 2, 3, 4, 5)),
        ("2020-01-02T03:04:05+02:00", None, None, dt.datetime(2020, 1, 2, 3, 4, 5)),
        (None, None, None, None),
    ],
)
def test_capture_time_prefers_original_and_tolerates_garbage(
    tmp_path: Path,
    original: str | None,
    digitized: str | None,
    ifd0: str | None,
    expected: dt.datetime | None,
) -> None:
    path = tmp_path / "dated.jpg"
    Image.new("RGB", (32, 32), "gray").save(
        path, exif=exif_with(original=original, digitized=digitized, datetime_ifd0=ifd0)
    )
    assert imaging.read_capture_time(path) == expected
    assert imaging.decode_for_model(path).taken_at == expected


def test_truncated_exif_block_costs_nothing_and_stays_quiet(tmp_path: Path) -> None:
    exif = exif_with(original="2020:01:02 03:04:05")
    exif[270] = "x" * 200
    exif.get_ifd(0x8769)[37510] = b"y" * 300
    raw = exif.tobytes()
    path = tmp_path / "cut_exif.jpg"
    Image.new("RGB", (300, 300), "teal").save(path, exif=raw[: len(raw) - 50])
    with warnings.catch_warnings(record=True) as caught:  # filters as the app has them
        photo = imaging.decode_for_model(path)
    assert photo.taken_at == dt.datetime(2020, 1, 2, 3, 4, 5)
    assert not caught, [str(w.message) for w in caught]  # Pillow says "Truncated File Read"


def test_garbage_orientation_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "odd.jpg"
    Image.new("RGB", (300, 250), "white").save(path, exif=exif_with(orientation=42))
    photo = imaging.decode_for_model(path)
    assert (photo.width, photo.height) == (300, 250)


# --- colour modes ------------------------------------------------------------------------


def test_rgba_png_is_composited_on_white(tmp_path: Path) -> None:
    path = tmp_path / "alpha.png"
    im = Image.new("RGBA", (300, 300), (0, 0, 0, 0))  # transparent black
    im.paste((255, 0, 0, 255), (0, 0, 150, 300))
    im.save(path)
    photo = imaging.decode_for_model(path)
    assert photo.image.mode == "RGB"
    assert_close(mean_color(photo.image, (0, 0, 100, 224)), (255, 0, 0), tol=2)
    assert_close(mean_color(photo.image, (124, 0, 224, 224)), (255, 255, 255), tol=2)


def test_la_png_is_composited_on_white(tmp_path: Path) -> None:
    path = tmp_path / "la.png"
    Image.new("LA", (50, 50), (0, 0)).save(path)
    assert_close(mean_color(imaging.decode_for_model(path).image, (0, 0, 50, 50)), (255,) * 3, 1)


def test_palette_with_transparency_is_composited_on_white(tmp_path: Path) -> None:
    path = tmp_path / "pal.png"
    im = Image.new("P", (64, 64), 0)
    im.putpalette([0, 0, 0, 0, 200, 0] + [0] * (254 * 3))
    im.paste(1, (32, 0, 64, 64))
    im.save(path, transparency=0)
    photo = imaging.decode_for_model(path)
    assert_close(mean_color(photo.image, (0, 0, 32, 64)), (255, 255, 255), tol=1)
    assert_close(mean_color(photo.image, (40, 0, 64, 64)), (0, 200, 0), tol=1)
    gif = tmp_path / "pal.gif"
    im.save(gif, transparency=0)
    assert_close(mean_color(imaging.make_thumbnail(gif), (0, 0, 30, 64)), (255, 255, 255), 1)


def test_cmyk_jpeg_becomes_rgb(tmp_path: Path) -> None:
    path = tmp_path / "cmyk.jpg"
    im = Image.new("CMYK", (300, 300), (0, 0, 0, 0))  # no ink: white
    im.paste((255, 0, 0, 0), (0, 0, 150, 300))  # full cyan
    im.save(path, quality=95)
    assert Image.open(path).mode == "CMYK"
    photo = imaging.decode_for_model(path)
    assert photo.image.mode == "RGB"
    assert_close(mean_color(photo.image, (0, 0, 100, 224)), (0, 255, 255))
    assert_close(mean_color(photo.image, (124, 0, 224, 224)), (255, 255, 255))
    assert imaging.make_thumbnail(path).mode == "RGB"


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16_bit_gray_is_scaled_not_clipped(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"deep{suffix}"
    ramp = np.tile(np.linspace(0, 65535, 256).astype(np.uint16), (64, 1))
    Image.fromarray(ramp).save(path)
    assert Image.open(path).mode in ("I;16", "I")
    photo = imaging.decode_for_model(path, min_side=64)
    pixels = np.asarray(photo.image)
    assert photo.image.mode == "RGB" and photo.image.size == (256, 64)
    assert pixels[..., 0].min() <= 2 and pixels[..., 0].max() >= 253
    assert abs(int(pixels[32, 128, 0]) - 128) <= 3  # mid-grey stays mid-grey


def test_32_bit_int_image_is_scaled(tmp_path: Path) -> None:
    path = tmp_path / "deep32.tif"
    Image.fromarray(np.full((40, 40), 32768, np.int32)).save(path)
    pixels = np.asarray(imaging.decode_for_model(path).image)
    assert abs(int(pixels.mean()) - 128) <= 2


@pytest.mark.parametrize("mode", ["L", "1"])
def test_gray_and_bilevel_become_rgb(tmp_path: Path, mode: str) -> None:
    path = tmp_path / f"{mode}.png"
    im = Image.new(mode, (100, 100), 0)
    im.paste(255 if mode == "L" else 1, (50, 0, 100, 100))
    im.save(path)
    photo = imaging.decode_for_model(path)
    assert photo.image.mode == "RGB"
    assert_close(mean_color(photo.image, (0, 0, 45, 100)), (0, 0, 0), tol=1)
    assert_close(mean_color(photo.image, (55, 0, 100, 100)), (255, 255, 255), tol=1)


@pytest.mark.parametrize("suffix", [".gif", ".webp"])
def test_animation_gives_first_frame(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"anim{suffix}"
    frames = [Image.new("RGB", (64, 64), c) for c in ((255, 0, 0), (0, 0, 255), (0, 255, 0))]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert getattr(Image.open(path), "n_frames", 1) == 3
    assert_close(mean_color(imaging.decode_for_model(path).image, (0, 0, 64, 64)), (255, 0, 0))
    assert_close(mean_color(imaging.make_thumbnail(path), (0, 0, 64, 64)), (255, 0, 0))


# --- bad files ---------------------------------------------------------------------------


@pytest.fixture
def good_jpeg_bytes() -> bytes:
    from io import BytesIO

    buf = BytesIO()
    noise = np.random.default_rng(1).integers(0, 255, (300, 400, 3), np.uint8)
    Image.fromarray(noise).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


BOTH: list[Callable[[Path], object]] = [
    imaging.decode_for_model,
    imaging.make_thumbnail,
    imaging.read_capture_time,
]


@pytest.mark.parametrize("fn", BOTH)
def test_empty_file(tmp_path: Path, fn: Callable[[Path], object]) -> None:
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    expect_error(lambda: fn(path), "empty file (0 bytes)")


@pytest.mark.parametrize("fn", BOTH)
def test_text_file_named_jpg(tmp_path: Path, fn: Callable[[Path], object]) -> None:
    path = tmp_path / "notes.jpg"
    path.write_text("these are my holiday notes, not a photo\n" * 10)
    expect_error(lambda: fn(path), "not an image file")


@pytest.mark.parametrize("fn", [imaging.decode_for_model, imaging.make_thumbnail])
def test_truncated_jpeg(tmp_path: Path, good_jpeg_bytes: bytes, fn) -> None:
    path = tmp_path / "half.jpg"
    path.write_bytes(good_jpeg_bytes[: len(good_jpeg_bytes) // 2])
    expect_error(lambda: fn(path), "truncated or corrupt image data")


def test_truncated_png(tmp_path: Path) -> None:
    from io import BytesIO

    buf = BytesIO()
    Image.fromarray(np.random.default_rng(2).integers(0, 255, (200, 200, 3), np.uint8)).save(
        buf, format="PNG"
    )
    path = tmp_path / "half.png"
    path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    expect_error(lambda: imaging.decode_for_model(path), "truncated or corrupt image data")


@pytest.mark.parametrize("fn", BOTH)
def test_missing_file(tmp_path: Path, fn: Callable[[Path], object]) -> None:
    expect_error(lambda: fn(tmp_path / "gone.jpg"), "file vanished before it could be read")


def test_directory_is_not_an_image(tmp_path: Path) -> None:
    folder = tmp_path / "folder.jpg"
    folder.mkdir()
    expect_error(lambda: imaging.decode_for_model(folder), "not an image file")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_unreadable_file(tmp_path: Path, good_jpeg_bytes: bytes) -> None:
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        pytest.skip("root can read any file")
    path = tmp_path / "secret.jpg"
    path.write_bytes(good_jpeg_bytes)
    path.chmod(0)
    try:
        expect_error(lambda: imaging.decode_for_model(path), "permission denied")
        with pytest.raises(PermissionError):
            imaging.file_fingerprint(path)
    finally:
        path.chmod(0o644)


def test_known_but_declined_format_is_unsupported(tmp_path: Path) -> None:
    ico = tmp_path / "icon.png"  # an icon file pretending to be a PNG
    Image.new("RGB", (32, 32), "red").save(ico, format="ICO")
    expect_error(lambda: imaging.decode_for_model(ico), "unsupported image format")
    fake_jxl = tmp_path / "photo.jxl"
    fake_jxl.write_bytes(b"\x00\x00\x00\x0cJXL \r\n\x87\n" + b"\x00" * 64)
    if "JXL" not in Image.OPEN:
        expect_error(lambda: imaging.decode_for_model(fake_jxl), "unsupported image format")
    else:  # with a JPEG XL decoder, garbage is corrupt data, not a crash
        expect_error(lambda: imaging.decode_for_model(fake_jxl), "truncated or corrupt")


def test_decompression_bomb_by_our_limit(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "bomb.png"
    Image.new("RGB", (3000, 1000), "white").save(path)
    monkeypatch.setattr(imaging, "MAX_IMAGE_PIXELS", 1_000_000)
    expect_error(
        lambda: imaging.decode_for_model(path), "image too large (3.0 megapixels, limit 1.0)"
    )
    expect_error(lambda: imaging.make_thumbnail(path), "image too large")


@pytest.mark.parametrize("pil_limit", [2_000_000, 1_000_000])  # Pillow warns / raises
def test_decompression_bomb_by_pillow_never_warns(
    tmp_path: Path, monkeypatch, pil_limit: int
) -> None:
    path = tmp_path / "bomb.png"
    Image.new("RGB", (3000, 1000), "white").save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", pil_limit)
    with warnings.catch_warnings(record=True) as caught:
        err = expect_error(
            lambda: imaging.decode_for_model(path), "image too large (3.0 megapixels"
        )
    assert f"limit {pil_limit // 1_000_000}.0)" in str(err)
    assert not [w for w in caught if issubclass(w.category, Image.DecompressionBombWarning)]


# --- fingerprints ------------------------------------------------------------------------


def test_fingerprint_follows_content(tmp_path: Path, good_jpeg_bytes: bytes) -> None:
    original = tmp_path / "a.jpg"
    original.write_bytes(good_jpeg_bytes * 8)  # several MiB-sized chunks' worth
    moved = tmp_path / "sub" / "renamed.JPG"
    moved.parent.mkdir()
    shutil.copyfile(original, moved)
    fp = imaging.file_fingerprint(original)
    assert len(fp) == 32 and int(fp, 16) >= 0
    assert fp == imaging.file_fingerprint(moved)
    assert fp == hashlib.blake2b(original.read_bytes(), digest_size=16).hexdigest()

    data = bytearray(moved.read_bytes())
    data[len(data) // 2] ^= 0x01
    moved.write_bytes(bytes(data))
    assert imaging.file_fingerprint(moved) != fp


def test_fingerprint_of_missing_file_raises_oserror(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        imaging.file_fingerprint(tmp_path / "nope.jpg")


# --- threads -----------------------------------------------------------------------------


def test_decoding_from_a_thread_pool_matches_serial(tmp_path: Path) -> None:
    paths = []
    rng = np.random.default_rng(3)
    for i in range(12):
        path = tmp_path / f"p{i}.jpg"
        Image.fromarray(rng.integers(0, 255, (60, 80, 3), np.uint8)).resize((800, 600)).save(
            path, exif=exif_with(orientation=1 + i % 8)
        )
        paths.append(path)
    serial = [np.asarray(imaging.decode_for_model(p).image) for p in paths]
    with ThreadPoolExecutor(max_workers=6) as pool:
        parallel = list(pool.map(lambda p: np.asarray(imaging.decode_for_model(p).image), paths))
    for a, b in zip(serial, parallel, strict=True):
        assert np.array_equal(a, b)


# --- real files from ../shared/data --------------------------------------------------------


def _similar(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute difference (0-255) of two images at a common small size."""
    size = (32, 32)
    x = np.asarray(a.resize(size), dtype=np.float64)
    y = np.asarray(b.resize(size), dtype=np.float64)
    return float(np.abs(x - y).mean())


@pytest.mark.parametrize("kind", ["landscape", "portrait"])
def test_real_exif_orientations_all_come_out_upright(kind: str) -> None:
    reference = imaging.decode_for_model(shared(EXIF_SAMPLES, f"jpg/orientation/{kind}_1.jpg"))
    expected_size = (600, 450) if kind == "landscape" else (450, 600)
    assert (reference.width, reference.height) == expected_size
    for n in range(2, 9):
        photo = imaging.decode_for_model(shared(EXIF_SAMPLES, f"jpg/orientation/{kind}_{n}.jpg"))
        assert (photo.width, photo.height) == expected_size, n
        assert photo.image.size == reference.image.size, n
        # The samples differ only in a big digit: ~15 when upright, >30 when not.
        assert _similar(photo.image, reference.image) < 25, n
        thumb = imaging.make_thumbnail(shared(EXIF_SAMPLES, f"jpg/orientation/{kind}_{n}.jpg"))
        assert (thumb.width > thumb.height) == (kind == "landscape")


@pytest.mark.parametrize(
    ("folder", "relative", "size", "taken"),
    [
        (IMMICH, "formats/heic/IMG_2682.heic", (4032, 3024), dt.datetime(2019, 3, 21, 11, 4, 22)),
        (
            IMMICH,
            "formats/motionphoto/samsung-one-ui-6.heic",
            (3000, 4000),
            dt.datetime(2024, 1, 12, 21, 38, 53),
        ),
        (
            EXIF_SAMPLES,
            "heic/mobile/iphone_13_pro_max.HEIC",
            (3024, 4032),
            dt.datetime(2022, 2, 16, 12, 55, 41),
        ),
        (EXIF_SAMPLES, "heic/IMG_5195.HEIC", (2566, 3313), dt.datetime(2021, 4, 11, 15, 47, 53)),
    ],
)
def test_real_heic(folder: Path, relative: str, size: tuple[int, int], taken: dt.datetime) -> None:
    path = shared(folder, relative)
    assert imaging.is_supported(path)
    photo = imaging.decode_for_model(path)
    assert (photo.width, photo.height) == size
    assert photo.image.mode == "RGB"
    assert 224 <= min(photo.image.size) <= 2 * 224
    assert (photo.image.width > photo.image.height) == (size[0] > size[1])
    assert photo.taken_at is not None and photo.taken_at.replace(microsecond=0) == taken
    assert np.asarray(photo.image).std() > 10  # a real picture, not a flat fill
    thumb = imaging.make_thumbnail(path)
    assert max(thumb.size) == 256 and thumb.mode == "RGB"


@pytest.mark.parametrize(
    ("relative", "size"),
    [
        ("formats/avif/8bit-sRGB.avif", (1617, 1080)),
        ("formats/avif/10bit-HDR-P3-nclx.avif", (3681, 5594)),
    ],
)
def test_real_avif(relative: str, size: tuple[int, int]) -> None:
    path = shared(IMMICH, relative)
    if ".avif" not in imaging.SUPPORTED_EXTENSIONS:
        expect_error(lambda: imaging.decode_for_model(path), "unsupported image format")
        return
    photo = imaging.decode_for_model(path)
    assert (photo.width, photo.height) == size
    assert min(photo.image.size) == 224 and photo.image.mode == "RGB"
    pixels = np.asarray(photo.image)
    assert 10 < pixels.mean() < 245 and pixels.std() > 10  # HDR did not come out blank


def test_real_jxl_decodes_or_says_unsupported() -> None:
    path = shared(IMMICH, "formats/jxl/8bit-sRGB.jxl")
    if ".jxl" in imaging.SUPPORTED_EXTENSIONS:
        assert imaging.decode_for_model(path).image.mode == "RGB"
    else:
        assert not imaging.is_supported(path)
        expect_error(lambda: imaging.decode_for_model(path), "unsupported image format")


def test_real_webp_png_and_jpeg_dates() -> None:
    webp = imaging.decode_for_model(shared(IMMICH, "formats/webp/denali.webp"))
    assert (webp.width, webp.height) == (600, 315)
    assert webp.taken_at is not None
    assert webp.taken_at.replace(microsecond=0) == dt.datetime(2010, 8, 13, 21, 0, 1)
    png = imaging.decode_for_model(shared(IMMICH, "formats/png/density_plot.png"))
    assert png.image.size == (224, 224) and png.taken_at is None
    # DateTimeOriginal with a trailing space; DateTime written as ISO 8601.
    rocks = shared(IMMICH, "formats/jpeg/el_torcal_rocks.jpeg")
    assert imaging.read_capture_time(rocks) == dt.datetime(2012, 8, 5, 11, 39, 59)
    # Original wins over Digitized when both are present.
    priority = shared(IMMICH, "metadata/dates/date-priority-test.jpg")
    assert imaging.read_capture_time(priority) == dt.datetime(2023, 2, 2, 2, 0, 0)


def test_real_gray_jpeg_with_orientation_6_matches_upright_original() -> None:
    upright = imaging.decode_for_model(shared(IMMICH, "metadata/faces/portrait.jpg"))
    rotated = imaging.decode_for_model(shared(IMMICH, "metadata/faces/portrait-orientation-6.jpg"))
    assert (rotated.width, rotated.height) == (upright.width, upright.height) == (840, 700)
    assert rotated.image.mode == "RGB" and rotated.image.size == upright.image.size
    gray_upright = upright.image.convert("L").convert("RGB")
    assert _similar(rotated.image, gray_upright) < 20


def test_real_files_with_odd_exif_still_decode() -> None:
    folder = EXIF_SAMPLES / "jpg"
    if not folder.is_dir():
        pytest.skip(f"shared sample data not available: {folder}")
    files = sorted(
        [*folder.glob("tests/*.jp*g"), *folder.glob("invalid/*.jpg"), *folder.glob("*.jpg")]
    )
    assert files
    with warnings.catch_warnings(record=True) as caught:  # filters as the app has them
        for path in files:
            photo = imaging.decode_for_model(path)
            assert photo.image.mode == "RGB" and photo.width > 0 and photo.height > 0
    assert not [w for w in caught if "PIL" in (w.filename or "")], [str(w.message) for w in caught]
