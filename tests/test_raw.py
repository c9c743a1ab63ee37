"""RAW/DNG: the embedded preview is indexed. No real RAW file exists in the shared data,
so LibRaw itself is exercised on broken files and the preview handling through a
stand-in for rawpy.imread that returns what LibRaw returns (JPEG bytes or a bitmap)."""

from __future__ import annotations

import io
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import rawpy
from PIL import Image

from conftest import make_photo
from glimpse.core.errors import ImageDecodeError
from glimpse.core.library import Library
from glimpse.core.media import imaging, raw


def test_raw_extensions_are_supported() -> None:
    for name in ("a.DNG", "b.cr2", "c.CR3", "d.nef", "e.arw", "f.orf", "g.rw2", "h.raf"):
        assert imaging.is_supported(name) and raw.is_raw(name)


@pytest.mark.parametrize("content", [b"", b"not a raw file" * 100])
def test_broken_raw_files_get_a_reason(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "broken.dng"
    path.write_bytes(content)
    with pytest.raises(ImageDecodeError) as err:
        imaging.decode_for_model(path)
    assert "RAW" in str(err.value)


class _FakeRaw:
    def __init__(self, thumb: SimpleNamespace, flip: int) -> None:
        self.thumb, self.sizes = thumb, SimpleNamespace(flip=flip)

    def __enter__(self) -> _FakeRaw:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def extract_thumb(self) -> SimpleNamespace:
        return self.thumb


def _fake_imread(monkeypatch: pytest.MonkeyPatch, thumb: SimpleNamespace, flip: int = 0) -> None:
    monkeypatch.setattr(rawpy, "imread", lambda path: _FakeRaw(thumb, flip))


def test_jpeg_preview_is_decoded_and_turned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (600, 400), (200, 30, 30)).save(buf, "JPEG")
    _fake_imread(monkeypatch, SimpleNamespace(format=rawpy.ThumbFormat.JPEG, data=buf.getvalue()), flip=6)
    path = tmp_path / "IMG_1.CR2"
    path.write_bytes(b"x")
    photo = imaging.decode_for_model(path, min_side=100)
    assert (photo.width, photo.height) == (400, 600)  # LibRaw's flip 6: portrait
    assert photo.image.size == (100, 150)
    assert photo.image.getpixel((50, 75))[0] > 150
    assert max(imaging.make_thumbnail(path, 64).size) == 64


def test_bitmap_preview_is_decoded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bitmap = np.zeros((300, 500, 3), np.uint8)
    bitmap[..., 2] = 220
    _fake_imread(monkeypatch, SimpleNamespace(format=rawpy.ThumbFormat.BITMAP, data=bitmap))
    path = tmp_path / "IMG_2.nef"
    path.write_bytes(b"x")
    photo = imaging.decode_for_model(path, min_side=60)
    assert (photo.width, photo.height) == (500, 300)
    assert photo.image.getpixel((10, 10))[2] > 200


def test_raw_without_preview(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_thumb(path: str) -> None:
        raise rawpy.LibRawNoThumbnailError("no thumbnail")

    monkeypatch.setattr(rawpy, "imread", no_thumb)
    path = tmp_path / "IMG_3.arw"
    path.write_bytes(b"x")
    with pytest.raises(ImageDecodeError, match="without an embedded preview"):
        imaging.decode_for_model(path)


def test_raw_files_are_indexed(library: Library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (90, 60), (10, 200, 10)).save(buf, "JPEG")
    _fake_imread(monkeypatch, SimpleNamespace(format=rawpy.ThumbFormat.JPEG, data=buf.getvalue()))
    root = tmp_path / "raws"
    make_photo(root / "a.jpg", 1)
    (root / "b.dng").write_bytes(b"raw bytes")
    library.add_folder(root)
    assert library.index().encode.encoded == 2
    assert {Path(h.path).name for h in library.search("x", k=5)} == {"a.jpg", "b.dng"}
