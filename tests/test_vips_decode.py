"""libvips decoding of PNG and WebP in imaging.decode_for_model: it must give what
Pillow gives (size, orientation, metadata, nearly the same pixels) without
Pillow decoding the pixels too, and fall back to Pillow whenever it cannot help."""

from __future__ import annotations

import struct
import sys
import types
import zlib
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, PngImagePlugin, WebPImagePlugin

from glimpse.core.errors import ImageDecodeError
from glimpse.core.media import imaging

pyvips = pytest.importorskip("pyvips")

TAKEN = "2021:05:04 13:14:15"


def _exif(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif.get_ifd(0x8769)[36867] = TAKEN
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (48.0, 51.0, 29.0), 3: "E", 4: (2.0, 17.0, 40.0)})
    return exif.tobytes()


def _picture(size: tuple[int, int] = (1200, 900)) -> Image.Image:
    """Left half red, right half blue, with noise so the codecs have work to do."""
    rng = np.random.default_rng(7)
    arr = np.zeros((size[1], size[0], 3), np.float32)
    arr[:, : size[0] // 2] = (220, 30, 30)
    arr[:, size[0] // 2 :] = (30, 30, 220)
    arr += rng.normal(0, 12, arr.shape)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")


def _chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    out, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        out.append((data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]))
        pos += 12 + length
    return out


def _png_bytes(chunks: list[tuple[bytes, bytes]]) -> bytes:
    body = b"".join(
        struct.pack(">I", len(d)) + c + d + struct.pack(">I", zlib.crc32(c + d)) for c, d in chunks
    )
    return b"\x89PNG\r\n\x1a\n" + body


def write_photo(path: Path, fmt: str, exif_after_idat: bool = False) -> Path:
    """A landscape photo stored with EXIF orientation 6, a capture time and GPS."""
    buf = BytesIO()
    if fmt == "PNG":
        _picture().save(buf, "PNG", exif=_exif(6))
        data = buf.getvalue()
        if exif_after_idat:  # where some writers put it: Pillow only sees it after decoding
            chunks = _chunks(data)
            exif = [c for c in chunks if c[0] == b"eXIf"]
            assert exif, "Pillow wrote no eXIf chunk"
            rest = [c for c in chunks if c[0] != b"eXIf"]
            data = _png_bytes(rest[:-1] + exif + rest[-1:])
            with Image.open(BytesIO(data)) as im:
                assert "exif" not in im.info  # the header alone does not show it
        path.write_bytes(data)
    else:
        _picture().save(path, "WEBP", quality=90, exif=_exif(6))
    return path


def pillow_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(imaging, "_vips_module", None)
    monkeypatch.setattr(imaging, "_vips_tried", True)


def count_pillow_decodes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every call of Pillow's pixel loader for PNG or WebP (one decode calls it
    more than once; none means Pillow decoded nothing)."""
    calls: list[str] = []
    for cls in (PngImagePlugin.PngImageFile, WebPImagePlugin.WebPImageFile):
        original = cls.load

        def load(self, _original=original):  # type: ignore[no-untyped-def]
            calls.append(self.format)
            return _original(self)

        monkeypatch.setattr(cls, "load", load)
    return calls


def mean_abs_diff(a: Image.Image, b: Image.Image) -> float:
    return float(np.abs(np.asarray(a, np.float32) - np.asarray(b, np.float32)).mean())


@pytest.mark.parametrize(
    ("fmt", "exif_after_idat"), [("PNG", False), ("PNG", True), ("WEBP", False)]
)
def test_vips_decode_matches_pillow_without_a_pillow_decode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str, exif_after_idat: bool
) -> None:
    path = write_photo(tmp_path / f"photo.{fmt.lower()}", fmt, exif_after_idat)
    assert imaging._vips() is not None
    decodes = count_pillow_decodes(monkeypatch)
    fast = imaging.decode_for_model(path, min_side=224)
    assert decodes == []  # pixels came from vips; Pillow read only the metadata

    with monkeypatch.context() as m:
        pillow_only(m)
        ref = imaging.decode_for_model(path, min_side=224)
    assert fmt in decodes  # and without vips, Pillow decodes it

    # Stored 1200x900 landscape, orientation 6: upright it is portrait, red on top.
    assert (fast.width, fast.height) == (ref.width, ref.height) == (900, 1200)
    assert fast.image.size == ref.image.size == (224, 299)
    assert fast.taken_at == ref.taken_at and str(fast.taken_at) == "2021-05-04 13:14:15"
    assert fast.gps == ref.gps and fast.gps is not None
    assert fast.gps == pytest.approx((48.858, 2.2944), abs=1e-3)
    top, bottom = np.asarray(fast.image)[20], np.asarray(fast.image)[-20]
    assert top[:, 0].mean() > 150 > top[:, 2].mean()  # red
    assert bottom[:, 2].mean() > 150 > bottom[:, 0].mean()  # blue
    assert mean_abs_diff(fast.image, ref.image) < 2.0


def test_transparent_png_is_flattened_on_white_like_pillow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rgba = _picture((1000, 700)).convert("RGBA")
    alpha = Image.new("L", rgba.size, 255)
    alpha.paste(0, (0, 0, 1000, 350))  # top half fully transparent
    rgba.putalpha(alpha)
    path = tmp_path / "clear.png"
    rgba.save(path)
    fast = imaging.decode_for_model(path)
    with monkeypatch.context() as m:
        pillow_only(m)
        ref = imaging.decode_for_model(path)
    assert fast.image.size == ref.image.size == (320, 224)
    assert np.asarray(fast.image)[:80].min() == 255  # white, not the hidden pixels
    assert mean_abs_diff(fast.image, ref.image) < 2.0


def test_without_pyvips_pillow_decodes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_photo(tmp_path / "photo.png", "PNG")
    monkeypatch.setitem(sys.modules, "pyvips", None)  # import pyvips now fails
    monkeypatch.setattr(imaging, "_vips_module", None)
    monkeypatch.setattr(imaging, "_vips_tried", False)
    decodes = count_pillow_decodes(monkeypatch)
    photo = imaging.decode_for_model(path)
    assert imaging._vips() is None
    assert "PNG" in decodes
    assert photo.image.size == (224, 299) and str(photo.taken_at) == "2021-05-04 13:14:15"


def test_glimpse_vips_0_turns_it_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GLIMPSE_VIPS", "0")
    monkeypatch.setattr(imaging, "_vips_module", None)
    monkeypatch.setattr(imaging, "_vips_tried", False)
    assert imaging._vips() is None


def test_vips_failure_falls_back_to_pillow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_photo(tmp_path / "photo.webp", "WEBP")

    def broken(*args: object, **kwargs: object) -> None:
        raise pyvips.Error("simulated libvips failure")

    fake = types.SimpleNamespace(Image=types.SimpleNamespace(new_from_file=broken))
    monkeypatch.setattr(imaging, "_vips_module", fake)
    monkeypatch.setattr(imaging, "_vips_tried", True)
    decodes = count_pillow_decodes(monkeypatch)
    photo = imaging.decode_for_model(path)
    assert "WEBP" in decodes
    assert photo.image.size == (224, 299) and photo.gps is not None


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_truncated_large_file_is_still_an_error(tmp_path: Path, fmt: str) -> None:
    assert imaging._vips() is not None
    good = write_photo(tmp_path / f"good.{fmt.lower()}", fmt).read_bytes()
    path = tmp_path / f"half.{fmt.lower()}"
    path.write_bytes(good[: len(good) // 2])
    with pytest.raises(ImageDecodeError, match="truncated or corrupt image data"):
        imaging.decode_for_model(path)


def test_sixteen_bit_and_animated_stay_with_pillow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gray16 = tmp_path / "gray16.png"
    Image.fromarray(np.full((600, 800), 40000, np.uint16)).save(gray16)
    frames = [_picture((600, 500)), _picture((600, 500)).rotate(180)]
    anim = tmp_path / "anim.webp"
    frames[0].save(anim, save_all=True, append_images=frames[1:], duration=100)
    calls: list[object] = []
    original = imaging._vips_decode

    def spy(path, im, min_side):  # type: ignore[no-untyped-def]
        out = original(path, im, min_side)
        calls.append(out)
        return out

    monkeypatch.setattr(imaging, "_vips_decode", spy)
    gray = imaging.decode_for_model(gray16)
    assert np.asarray(gray.image).mean() == pytest.approx(40000 * 255 / 65535, abs=1)
    assert imaging.decode_for_model(anim).image.size == (269, 224)
    assert calls == [None, None]


def test_vips_is_thread_safe_under_the_decode_pool(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    paths = [write_photo(tmp_path / f"p{i}.{f.lower()}", f) for i, f in enumerate(["PNG", "WEBP"] * 3)]
    serial = [np.asarray(imaging.decode_for_model(p).image) for p in paths]
    with ThreadPoolExecutor(4) as pool:
        threaded = list(pool.map(lambda p: np.asarray(imaging.decode_for_model(p).image), paths))
    for a, b in zip(serial, threaded, strict=True):
        assert np.array_equal(a, b)



@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_thumbnails_of_png_and_webp_come_from_vips_like_pillows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    """The signal passes' decode (make_thumbnail at 1600 px and the like) shrinks
    PNG and WebP in libvips too: the same upright picture, no Pillow decode."""
    path = write_photo(tmp_path / f"photo.{fmt.lower()}", fmt, False)
    decodes = count_pillow_decodes(monkeypatch)
    fast = imaging.make_thumbnail(path, max_side=320)
    assert decodes == []
    with monkeypatch.context() as m:
        pillow_only(m)
        ref = imaging.make_thumbnail(path, max_side=320)
    assert fmt in decodes
    assert fast.size == ref.size == (240, 320)  # upright portrait (orientation 6)
    top = np.asarray(fast)[10]
    assert top[:, 0].mean() > 150 > top[:, 2].mean()  # red on top, as Pillow has it
    assert mean_abs_diff(fast, ref) < 2.0
