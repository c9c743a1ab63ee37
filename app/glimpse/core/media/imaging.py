"""Open, orient and shrink photos for the model and for thumbnails.

Every file a user points us at passes through here, so this is where odd
files must turn into one clear :class:`ImageDecodeError` instead of whatever
Pillow or a plugin happened to raise: the indexer records the message per
photo and moves on. Decoding runs on a thread pool, so nothing here keeps
state per call outside the image being decoded; the only shared state (plugin
registration, Pillow's pixel limit, one warning filter) is set up once.

Speed matters more than anything else here: the model sees 224 px, yet
photos are 12-50 MP. JPEG "draft" mode lets libjpeg decode at 1/2, 1/4 or
1/8 scale, and pillow-heif's draft picks an embedded thumbnail, so most
photos are never decoded at full size. Pillow has no such mode for PNG or
WebP, so those go through libvips (optional, ``pyvips``) when it is
installed: it decodes them streaming, shrinking as it goes (WebP at reduced
size), in about half the CPU time. Pillow still reads their metadata.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import hashlib
import importlib
import io
import math
import os
import re
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO, TypeVar

import numpy as np
from PIL import Image, ImageFile, UnidentifiedImageError

from glimpse.core import settings
from glimpse.core.errors import ImageDecodeError
from glimpse.core.media import raw as raw_files

# A 200 MP limit lets through every camera and panorama we know of but stops
# a tiny file that claims to be 100,000 x 100,000 pixels from eating all RAM.
MAX_IMAGE_PIXELS: int = 200_000_000
Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS

# Pillow only *warns* between 1x and 2x the limit: we want an exception, so
# such a file fails like any other too-large one. Pillow also warns (to
# stderr) about e.g. corrupt EXIF in photos it decodes fine; core modules
# never print. warnings.catch_warnings() is not thread-safe, so these are
# process-wide filters, re-added whenever someone (pytest, a
# catch_warnings block that imported us) dropped them. They only keep the
# output quiet: the pixel limit itself is also checked in _opened().
_PIL_MODULES = r"PIL(\..*)?$"


def _ensure_warning_filters() -> None:
    if ("error", None, Image.DecompressionBombWarning, None, 0) not in warnings.filters:
        warnings.filterwarnings("error", category=Image.DecompressionBombWarning)
    if ("ignore", None, UserWarning, re.compile(_PIL_MODULES), 0) not in warnings.filters:
        warnings.filterwarnings("ignore", category=UserWarning, module=_PIL_MODULES)


_ensure_warning_filters()

_BASE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".jpe", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif"}
)
# Pillow format names we agree to open. Deliberately excludes formats that
# shell out (EPS runs Ghostscript) or that are not photos (ICO, PSD, PDF...),
# whatever a file's extension claims.
_BASE_FORMATS = ("JPEG", "MPO", "PNG", "WEBP", "TIFF", "BMP", "DIB", "GIF")

_WHITE = (255, 255, 255)
_HIGH_BIT_DEPTH_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I"})
_ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "RGBa", "La"})
_ORIENT_TRANSPOSE: dict[int, tuple[Image.Transpose, ...]] = {
    2: (Image.Transpose.FLIP_LEFT_RIGHT,),
    3: (Image.Transpose.ROTATE_180,),
    4: (Image.Transpose.FLIP_TOP_BOTTOM,),
    5: (Image.Transpose.TRANSPOSE,),
    6: (Image.Transpose.ROTATE_270,),
    7: (Image.Transpose.TRANSVERSE,),
    8: (Image.Transpose.ROTATE_90,),
}

_EXIF_IFD = 0x8769
_TAG_ORIENTATION = 0x0112
_TAG_DATETIME = 306
# (date tag, sub-second tag, IFD): best first. DateTime (IFD0) changes when
# software edits the file, so it is only the last resort.
_DATE_TAGS = ((36867, 37521, True), (36868, 37522, True), (_TAG_DATETIME, 37520, False))
_DATE_RE = re.compile(
    r"^\s*(\d{4})[:\-/.](\d{1,2})[:\-/.](\d{1,2})"
    r"(?:[ T]+(\d{1,2})[:.](\d{1,2})(?:[:.](\d{1,2}))?)?"
)

_T = TypeVar("_T")

_plugin_lock = threading.Lock()
_plugins_registered = False
_open_formats: tuple[str, ...] = _BASE_FORMATS
_extensions: frozenset[str] = _BASE_EXTENSIONS


def register_plugins() -> None:
    """Teach Pillow HEIC/HEIF, AVIF and (if installed) JPEG XL; safe to call often.

    Runs at import so every caller gets the same formats; it is public for
    code that opens images with Pillow directly (e.g. the GUI).
    """
    global _plugins_registered, _open_formats, _extensions
    if _plugins_registered:
        return
    with _plugin_lock:
        if _plugins_registered:
            return
        Image.init()  # load Pillow's own plugins once, not racily from many threads
        formats = list(_BASE_FORMATS)
        extensions = set(_BASE_EXTENSIONS)
        try:
            import pillow_heif

            pillow_heif.register_heif_opener()
            formats.append("HEIF")
            extensions |= {".heic", ".heif"}
        except Exception:  # noqa: BLE001 - a broken optional codec must not break import
            pass
        if "AVIF" not in Image.OPEN:  # Pillow >= 11.3 usually has it built in
            _try_import("pillow_avif")
        if "AVIF" in Image.OPEN:
            formats.append("AVIF")
            extensions.add(".avif")
        if "JXL" not in Image.OPEN and not _try_import("pillow_jxl"):
            _try_import("jxlpy.JXLImagePlugin")
        if "JXL" in Image.OPEN:
            formats.append("JXL")
            extensions.add(".jxl")
        if _try_import("rawpy"):  # RAW/DNG: their embedded previews (core/media/raw.py)
            extensions |= raw_files.RAW_EXTENSIONS
        _open_formats = tuple(f for f in formats if f in Image.OPEN)
        _extensions = frozenset(extensions)
        _plugins_registered = True


def _try_import(module: str) -> bool:
    """Import an optional Pillow plugin (importing registers it)."""
    try:
        importlib.import_module(module)
    except Exception:  # noqa: BLE001 - missing or broken: the format is just unsupported
        return False
    return True


register_plugins()

SUPPORTED_EXTENSIONS: frozenset[str] = _extensions


def is_supported(path: str | os.PathLike[str]) -> bool:
    """Whether a file's extension is one we index (case-insensitive); cheap, no I/O."""
    return os.path.splitext(os.fspath(path))[1].lower() in SUPPORTED_EXTENSIONS


@dataclass(frozen=True)
class DecodedPhoto:
    """A photo ready for the model, plus the facts the catalog keeps about it.

    ``image`` is RGB, upright, and small (shorter side about ``min_side``), but
    ``width``/``height`` are the upright full-resolution size, since that is
    what the user knows the photo by.
    """

    image: Image.Image
    width: int
    height: int
    taken_at: dt.datetime | None
    gps: tuple[float, float] | None = None  # (latitude, longitude) from EXIF


def decode_for_model(path: str | os.PathLike[str], min_side: int = 224) -> DecodedPhoto:
    """Decode a photo so its shorter side is exactly ``min_side`` (or smaller if
    the photo itself is smaller: upscaling is left to the model's preprocessing).

    Raises ImageDecodeError with a short human reason.
    """
    if min_side < 1:
        raise ValueError(f"min_side must be positive, got {min_side}")
    with _opened(path) as im:
        full_w, full_h = im.size
        short = min(full_w, full_h)
        shrunk = _vips_decode(path, im, min_side) if short > min_side else None
        if shrunk is None:
            if short > min_side:
                scale = min_side / short
                _draft(im, (math.ceil(full_w * scale), math.ceil(full_h * scale)))
            _load(im)
        orientation = _orientation(im)
        taken_at = _capture_time(im)
        gps = _gps(im)
        if shrunk is None:
            rgb = _to_rgb(im)
            w, h = rgb.size
        else:  # vips shrank it part way: size it as if Pillow had decoded it whole
            rgb, (w, h) = shrunk, (full_w, full_h)
        if min(w, h) > min_side:
            scale = min_side / min(w, h)
            size = (max(min_side, round(w * scale)), max(min_side, round(h * scale)))
            rgb = _guard(lambda: rgb.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0))
        rgb = _detach(_apply_orientation(rgb, orientation), im)
    if orientation in (5, 6, 7, 8):
        full_w, full_h = full_h, full_w
    return DecodedPhoto(rgb, full_w, full_h, taken_at, gps)


def make_thumbnail(path: str | os.PathLike[str], max_side: int = 256) -> Image.Image:
    """An upright RGB thumbnail whose longer side is at most ``max_side``.

    Raises ImageDecodeError with a short human reason.
    """
    if max_side < 1:
        raise ValueError(f"max_side must be positive, got {max_side}")
    with _opened(path) as im:
        w, h = im.size
        shrunk = None
        if max(w, h) > max_side:
            # PNG and WebP have no draft mode: libvips shrinks them while decoding
            # (a 4096-px WebP for the signal passes: 0.43 s with Pillow, scripts/bench_ocr.py passes).
            shrunk = _vips_decode(path, im, max(1, math.floor(min(w, h) * max_side / max(w, h))))
            if shrunk is None:
                scale = max_side / max(w, h)
                _draft(im, (math.ceil(w * scale), math.ceil(h * scale)))
        if shrunk is None:
            _load(im)
        orientation = _orientation(im)
        rgb = _to_rgb(im) if shrunk is None else shrunk
        w, h = rgb.size
        if max(w, h) > max_side:
            scale = max_side / max(w, h)
            size = (max(1, round(w * scale)), max(1, round(h * scale)))
            rgb = _guard(lambda: rgb.resize(size, Image.Resampling.LANCZOS, reducing_gap=2.0))
        return _detach(_apply_orientation(rgb, orientation), im)


def read_capture_time(path: str | os.PathLike[str]) -> dt.datetime | None:
    """When the photo was taken, from EXIF, as a naive local datetime; None if unknown.

    Missing or garbage dates give None; a file that cannot be opened as an
    image raises ImageDecodeError, like decode_for_model.
    """
    with _opened(path) as im:
        return _capture_time(im)


def read_gps(path: str | os.PathLike[str]) -> tuple[float, float] | None:
    """(latitude, longitude) in degrees from EXIF; None if absent or nonsense.

    Reads only the header (no pixels): the places backfill calls it for
    photos indexed before places were stored.
    """
    with _opened(path) as im:
        return _gps(im)


def file_fingerprint(path: str | os.PathLike[str]) -> str:
    """A content hash (blake2b-128, hex) that follows a photo through renames and moves.

    Raises OSError if the file cannot be read; the caller decides what that means.
    """
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --- opening and error translation -------------------------------------------------


def opened(path: str | os.PathLike[str]) -> contextlib.AbstractContextManager[Image.Image]:
    """The file opened for its header and metadata (EXIF, XMP, IPTC), no pixels
    decoded, every failure an ImageDecodeError: for signals that read what is
    written in a photo rather than what it shows."""
    return _opened(path)


@contextmanager
def _opened(path: str | os.PathLike[str]) -> Iterator[ImageFile.ImageFile]:
    """Open an image lazily (header only), turning every failure into ImageDecodeError.

    We own the file handle so it is closed however decoding ends.
    """
    register_plugins()
    _ensure_warning_filters()
    if raw_files.is_raw(path):
        with _raw_opened(path) as im:
            yield im
        return
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed by the with below
    except OSError as exc:
        raise _os_error(exc) from None
    with fh:
        try:
            if os.fstat(fh.fileno()).st_size == 0:
                raise ImageDecodeError("empty file (0 bytes)")
            head = fh.read(32)
            fh.seek(0)
        except OSError as exc:
            raise _os_error(exc) from None
        try:
            im = Image.open(fh, formats=_open_formats)
        except UnidentifiedImageError:
            raise ImageDecodeError(_unidentified_reason(fh, head)) from None
        except Exception as exc:  # noqa: BLE001 - plugins raise anything on bad headers
            # (this includes DecompressionBombWarning, made an error above)
            raise _pil_error(exc) from None
        with im:
            w, h = im.size
            limit = _pixel_limit()
            if w * h > limit:
                raise ImageDecodeError(_too_large(w * h, limit))
            yield im


_RAW_ORIENTATION = "glimpse.raw_orientation"


@contextmanager
def _raw_opened(path: str | os.PathLike[str]) -> Iterator[ImageFile.ImageFile]:
    """A RAW file's embedded preview, opened like a photo (JPEG draft mode still applies)."""
    preview, orientation = raw_files.preview(path)
    if isinstance(preview, io.BytesIO):
        try:
            im = Image.open(preview, formats=("JPEG",))
        except Exception as exc:  # noqa: BLE001 - a broken preview is a broken file
            raise ImageDecodeError("RAW file with a corrupt embedded preview") from exc
    else:
        im = preview  # type: ignore[assignment]
    with im:
        if _orientation(im) == 1:  # previews rarely carry EXIF; LibRaw knows the turn
            im.info[_RAW_ORIENTATION] = orientation
        w, h = im.size
        if w * h > _pixel_limit():
            raise ImageDecodeError(_too_large(w * h, _pixel_limit()))
        yield im  # type: ignore[misc]


def _draft(im: ImageFile.ImageFile, size: tuple[int, int]) -> None:
    """Ask the decoder for a cheaper, smaller decode (JPEG DCT scaling, HEIC thumbnail)."""
    try:
        im.draft("RGB", size)
    except Exception as exc:  # noqa: BLE001
        raise _pil_error(exc) from None


def _load(im: ImageFile.ImageFile) -> None:
    """Decode the pixels now, so truncation is found here and not later (first frame only)."""
    try:
        im.load()
    except Exception as exc:  # noqa: BLE001 - truncated data surfaces as anything
        raise _pil_error(exc) from None


def _guard(op: Callable[[], _T]) -> _T:
    """Run a Pillow operation on decoded pixels; only memory can fail there."""
    try:
        return op()
    except MemoryError:
        raise ImageDecodeError("not enough memory to decode image") from None


def _os_error(exc: OSError) -> ImageDecodeError:
    if isinstance(exc, FileNotFoundError):
        return ImageDecodeError("file vanished before it could be read")
    if isinstance(exc, PermissionError):
        return ImageDecodeError("permission denied")
    if isinstance(exc, IsADirectoryError):
        return ImageDecodeError("not an image file")
    return ImageDecodeError(f"could not read file ({exc.strerror or exc})")


def fit_within(image: Image.Image, max_side: int) -> Image.Image:
    """RGB, scaled down (never up) so its longer side is at most max_side: the
    signal passes (OCR, faces) look at photos at a bounded size."""
    image = image.convert("RGB")
    if max(image.size) <= max_side:
        return image
    scale = max_side / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.BILINEAR)


def _pil_error(exc: BaseException) -> ImageDecodeError:
    """Map whatever Pillow or a plugin raised while parsing/decoding to a reason."""
    if isinstance(exc, (Image.DecompressionBombError, Image.DecompressionBombWarning)):
        match = re.search(r"\((\d+) pixels\)", str(exc))
        return ImageDecodeError(_too_large(int(match[1]) if match else None, _pixel_limit()))
    if isinstance(exc, MemoryError):
        return ImageDecodeError("not enough memory to decode image")
    if isinstance(exc, OSError) and exc.errno is not None:
        # A real I/O error (Pillow's own decoder errors carry no errno).
        if exc.errno == errno.ENOENT:
            return ImageDecodeError("file vanished before it could be read")
        if exc.errno in (errno.EACCES, errno.EPERM):
            return ImageDecodeError("permission denied")
        return ImageDecodeError(f"could not read file ({exc.strerror or exc})")
    return ImageDecodeError("truncated or corrupt image data")


def _unidentified_reason(fh: BinaryIO, head: bytes) -> str:
    """Tell "an image we cannot read" from "not an image at all": the first is
    fixable (install a codec, convert the file), the second is not."""
    if (
        head[4:8] == b"ftyp"  # HEIF/AVIF without a codec
        or head.startswith(b"\xff\x0a")  # bare JPEG XL codestream
        or head.startswith(b"\x00\x00\x00\x0cJXL \r\n\x87\n")  # JPEG XL container
    ):
        return "unsupported image format"
    try:  # does Pillow know it under a format we decline (PSD, ICO, EPS...)?
        fh.seek(0)
        with Image.open(fh):
            return "unsupported image format"
    except Exception:  # noqa: BLE001 - anything here just means "not an image"
        return "not an image file"


def _pixel_limit() -> int:
    """Our limit, or Pillow's if someone lowered that one."""
    pil = Image.MAX_IMAGE_PIXELS
    return min(MAX_IMAGE_PIXELS, pil) if pil else MAX_IMAGE_PIXELS


def _too_large(pixels: int | None, limit: int) -> str:
    if pixels is None:
        return f"image too large (limit {_megapixels(limit)} megapixels)"
    return f"image too large ({_megapixels(pixels)} megapixels, limit {_megapixels(limit)})"


def _megapixels(pixels: int) -> str:
    mp = pixels / 1e6
    if mp >= 10:
        return f"{mp:.0f}"
    if mp >= 1:
        return f"{mp:.1f}"
    return f"{mp:.2g}"


# --- libvips: reduced-size decoding for PNG and WebP --------------------------------

# Pillow decodes these at full size only; libvips streams them through a
# shrink (WebP even decodes scaled), which halves the CPU a large one costs.
# Animated files, 16-bit PNGs and odd modes stay with Pillow, whose handling
# of them (_to_rgb) is the reference.
_VIPS_FORMATS = frozenset({"PNG", "WEBP"})
_VIPS_MODES = frozenset({"1", "L", "LA", "P", "RGB", "RGBA"})
# vips shrinks the shorter side to this many times min_side (and not below
# _VIPS_FLOOR px), Pillow's LANCZOS does the last step exactly as for every other
# photo. Measured with scripts/bench_vips_decode.py on the sample photos: at 2x
# the vectors match Pillow's (fp32 cosine >= 0.99998 at 256 px) while a 4x
# intermediate costs a quarter more CPU for PNG; for a 64 px model 2x (128 px)
# fell to 0.9986, hence the floor (256 px: 0.9995).
_VIPS_OVERSHOOT = 2.0
_VIPS_FLOOR = 256
_PNG_TAIL_READ = "glimpse.png_tail_read"
_vips_lock = threading.Lock()
_vips_module: object | None = None
_vips_tried = False


def _vips_wanted() -> bool:
    try:
        return settings.enabled("vips")
    except ValueError:
        return True  # a value we cannot read: the default, as before

def _vips() -> object | None:
    """pyvips, set up once, or None when it is missing, broken or turned off
    (GLIMPSE_VIPS=0): then Pillow decodes everything, as before."""
    global _vips_module, _vips_tried
    if _vips_tried:
        return _vips_module
    with _vips_lock:
        if not _vips_tried:
            module = None
            if _vips_wanted():
                try:
                    import pyvips

                    # No operation cache: it is keyed by file name, so an edited
                    # photo could come back with its old pixels. One vips thread
                    # per call: the indexer's decode pool already fills the cores.
                    pyvips.cache_set_max(0)
                    pyvips.concurrency_set(1)
                    module = pyvips
                except Exception:  # noqa: BLE001 - no libvips here: Pillow does it all
                    module = None
            _vips_module = module
            _vips_tried = True
    return _vips_module


def _vips_decode(
    path: str | os.PathLike[str], im: ImageFile.ImageFile, min_side: int
) -> Image.Image | None:
    """RGB pixels of a PNG or WebP, shorter side about ``_VIPS_OVERSHOOT * min_side``
    (not yet oriented), decoded by libvips; None means "let Pillow do it"
    (not a format vips helps with, no pyvips, or vips failed on the file:
    Pillow then decodes it and reports any damage the usual way)."""
    if im.format not in _VIPS_FORMATS or im.mode not in _VIPS_MODES:
        return None
    if getattr(im, "is_animated", False) or raw_files.is_raw(path):
        return None
    pyvips = _vips()
    if pyvips is None:
        return None
    full_w, full_h = im.size
    target = max(_VIPS_OVERSHOOT * min_side, _VIPS_FLOOR)
    scale = min(1.0, target / min(full_w, full_h))
    try:
        options: dict[str, object] = {"access": "sequential", "fail_on": "error"}
        if im.format == "WEBP" and scale < 1.0:
            options["scale"] = scale
        image = pyvips.Image.new_from_file(os.fspath(path), **options)  # type: ignore[attr-defined]
        if image.format != "uchar" or image.bands not in (1, 2, 3, 4):
            return None  # 16-bit and the like: Pillow's conversion is the reference
        if im.format == "PNG" and (image.width, image.height) != (full_w, full_h):
            return None  # vips and Pillow disagree about the file: trust neither here
        if image.hasalpha():
            # Transparent areas become white, as _to_rgb does, before shrinking.
            image = image.flatten(background=[255] * (image.bands - 1))
        if im.format == "PNG" and scale < 1.0:
            image = image.resize(scale, kernel="lanczos3")
        mode = "L" if image.bands == 1 else "RGB"
        if image.bands not in (1, 3) or min(image.width, image.height) < min_side:
            return None
        pixels = image.write_to_memory()
        out = Image.frombytes(mode, (image.width, image.height), pixels)
    except MemoryError:
        raise ImageDecodeError("not enough memory to decode image") from None
    except Exception:  # noqa: BLE001 - pyvips.Error and friends: fall back to Pillow
        return None
    if im.format == "PNG" and not _read_png_tail(im):
        return None
    return out if mode == "RGB" else out.convert("RGB")


def _read_png_tail(im: ImageFile.ImageFile) -> bool:
    """Read the chunks after a PNG's image data (eXIf, text, XMP may sit there)
    without decoding a pixel; False if they are damaged (Pillow then decodes
    the file and reports it as it always has).

    Pillow only reads them once it has decoded everything, and its getexif()
    decodes the whole image to get there; skipping the IDAT chunks gets the
    same metadata for the cost of a few seeks.
    """
    png = getattr(im, "png", None)
    fp = im.fp
    if png is None or fp is None or not im.tile:
        return False
    try:
        fp.seek(im.tile[0][2] - 8)  # the first IDAT chunk's header
        while True:
            head = fp.read(8)
            if len(head) < 8:
                break  # no IEND: Pillow's own reader stops the same way
            length, cid = int.from_bytes(head[:4], "big"), head[4:]
            if cid == b"IEND":
                break
            start = fp.tell()
            if cid not in (b"IDAT", b"fdAT", b"fcTL"):
                try:
                    png.call(cid, start, length)
                except (EOFError, AttributeError, UnicodeDecodeError):
                    pass  # a chunk Pillow skips too
            fp.seek(start + length + 4)  # past the data and its CRC
    except Exception:  # noqa: BLE001 - anything broken here is Pillow's to report
        return False
    im.info[_PNG_TAIL_READ] = True
    return True


def _exif(im: Image.Image) -> Image.Exif:
    """The EXIF of an open photo, never decoding pixels for it.

    A PNG's getexif() decodes the whole image when it has not yet seen an eXIf
    chunk; once _read_png_tail has read every chunk the base class reads the
    same EXIF (and XMP orientation) without that.
    """
    if im.info.get(_PNG_TAIL_READ):
        return Image.Image.getexif(im)
    return im.getexif()


# --- pixels ------------------------------------------------------------------------


def _to_rgb(im: Image.Image) -> Image.Image:
    """Any mode to 8-bit RGB the way a person would expect to see it."""
    try:
        if im.mode in _HIGH_BIT_DEPTH_MODES or im.mode == "F":
            im = _to_8bit_gray(im)
        if im.mode in _ALPHA_MODES or (
            im.mode in ("P", "L", "RGB") and im.info.get("transparency") is not None
        ):
            # Transparent areas are usually meant as "background": show white,
            # not whatever colour the hidden pixels happen to hold (often black).
            rgba = im.convert("RGBA")
            out = Image.new("RGB", rgba.size, _WHITE)
            out.paste(rgba, mask=rgba.getchannel("A"))
            return out
        if im.mode == "RGB":
            return im
        return im.convert("RGB")  # CMYK, L, 1, P, YCbCr, HSV
    except MemoryError:
        raise ImageDecodeError("not enough memory to decode image") from None
    except (ValueError, OSError):  # e.g. LAB, multi-channel 16-bit modes
        raise ImageDecodeError("unsupported image format") from None


def _to_8bit_gray(im: Image.Image) -> Image.Image:
    """Scale 16-bit (and 32-bit int/float) gray to 8 bits over the full range.

    Pillow's own conversion clips at 255, which turns nearly every 16-bit
    photo pure white.
    """
    arr = np.asarray(im)
    if im.mode == "F":
        top = 1.0 if float(np.nanmax(arr, initial=0.0)) <= 1.0 else 65535.0
        arr = np.nan_to_num(arr)
    else:
        top = 65535.0
    scaled = np.clip(arr.astype(np.float32) * (255.0 / top) + 0.5, 0, 255).astype(np.uint8)
    return Image.fromarray(scaled, mode="L")


def _detach(result: Image.Image, source: Image.Image) -> Image.Image:
    """Closing the file invalidates its image, so never hand out the file's own object."""
    return result.copy() if result is source else result


def _orientation(im: Image.Image) -> int:
    """EXIF orientation 1-8; anything unreadable counts as 1 (as stored)."""
    if _RAW_ORIENTATION in im.info:
        return int(im.info[_RAW_ORIENTATION])
    try:
        value = _exif(im).get(_TAG_ORIENTATION, 1)
    except Exception:  # noqa: BLE001 - broken EXIF must not cost the photo
        return 1
    if isinstance(value, (tuple, list)) and value:
        value = value[0]
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _apply_orientation(im: Image.Image, orientation: int) -> Image.Image:
    for op in _ORIENT_TRANSPOSE.get(orientation, ()):
        im = im.transpose(op)
    return im


# --- GPS ---------------------------------------------------------------------------

_GPS_IFD = 0x8825


def _gps(im: Image.Image) -> tuple[float, float] | None:
    try:
        gps = _exif(im).get_ifd(_GPS_IFD)
    except Exception:  # noqa: BLE001 - broken EXIF means "unknown place"
        return None
    if not gps:
        return None
    lat = _gps_degrees(gps.get(2), gps.get(1), "S")
    lon = _gps_degrees(gps.get(4), gps.get(3), "W")
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    if lat == 0 and lon == 0:  # "null island": a receiver without a fix writes zeros
        return None
    return lat, lon


def _gps_degrees(value: object, ref: object, negative: str) -> float | None:
    """EXIF (degrees, minutes, seconds) rationals, signed by the N/S or E/W reference."""
    try:
        parts = [float(v) for v in value] if isinstance(value, (tuple, list)) else [float(value)]  # type: ignore[arg-type]
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    if not parts or len(parts) > 3 or any(not math.isfinite(p) or p < 0 for p in parts):
        return None
    degrees = sum(p / 60**i for i, p in enumerate(parts))
    if isinstance(ref, bytes):
        ref = ref.decode("ascii", "replace")
    if not isinstance(ref, str) or ref.strip("\x00 ").upper() not in ("N", "S", "E", "W"):
        return None  # no hemisphere: the sign is unknown, so the place would be a guess
    return -degrees if ref.strip("\x00 ").upper() == negative else degrees


# --- capture time ------------------------------------------------------------------


def _capture_time(im: Image.Image) -> dt.datetime | None:
    try:
        exif = _exif(im)
        sub = exif.get_ifd(_EXIF_IFD)
    except Exception:  # noqa: BLE001 - broken EXIF means "unknown", not a broken photo
        return None
    for date_tag, subsec_tag, in_exif_ifd in _DATE_TAGS:
        raw = sub.get(date_tag) if in_exif_ifd else None
        if raw is None:
            raw = exif.get(date_tag)  # some writers put Exif-IFD tags in IFD0
        parsed = _parse_exif_datetime(raw)
        if parsed is not None:
            return parsed.replace(microsecond=_subsec_micros(sub.get(subsec_tag)))
    return None


def _parse_exif_datetime(raw: object) -> dt.datetime | None:
    """'YYYY:MM:DD HH:MM:SS' and the variants real cameras and tools write.

    Time zones (ISO strings) are dropped: EXIF times are local wall-clock
    times and we keep them that way. Placeholders like '0000:00:00' are None.
    """
    if isinstance(raw, bytes):
        raw = raw.decode("ascii", "replace")
    if not isinstance(raw, str):
        return None
    match = _DATE_RE.match(raw.strip("\x00 \t"))
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(g) if g else 0 for g in match.groups())
    if year < 1800:
        return None
    try:
        return dt.datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None


def _subsec_micros(raw: object) -> int:
    if isinstance(raw, bytes):
        raw = raw.decode("ascii", "replace")
    digits = raw.strip("\x00 ") if isinstance(raw, str) else ""
    if not digits.isdigit():
        return 0
    return int(digits[:6].ljust(6, "0"))
