"""RAW and DNG files: we index the preview the camera embedded, not the sensor data.

Developing a raw file takes seconds and a choice of look; the embedded JPEG
(usually full-size or close to it) is what the camera showed and costs one
read. LibRaw (through rawpy) finds it in every format it knows. A file
without a preview fails like any unreadable photo, with a reason.
"""

from __future__ import annotations

import io
import os

import numpy as np
from PIL import Image

from glimpse.core.errors import ImageDecodeError

RAW_EXTENSIONS = frozenset({".dng", ".cr2", ".cr3", ".nef", ".arw", ".orf", ".rw2", ".raf"})

# LibRaw's `flip` (0, 3, 5, 6) as an EXIF orientation.
_FLIP_TO_ORIENTATION = {0: 1, 3: 3, 5: 8, 6: 6}


def is_raw(path: str | os.PathLike[str]) -> bool:
    return os.path.splitext(os.fspath(path))[1].lower() in RAW_EXTENSIONS


def preview(path: str | os.PathLike[str]) -> tuple[io.BytesIO | Image.Image, int]:
    """(the embedded JPEG's bytes, or a bitmap preview as an image; EXIF orientation).

    Raises ImageDecodeError with a short reason."""
    import rawpy

    try:
        with rawpy.imread(os.fspath(path)) as raw:
            orientation = _FLIP_TO_ORIENTATION.get(int(raw.sizes.flip), 1)
            thumb = raw.extract_thumb()
    except FileNotFoundError:
        raise ImageDecodeError("file vanished before it could be read") from None
    except PermissionError:
        raise ImageDecodeError("permission denied") from None
    except (rawpy.LibRawNoThumbnailError, rawpy.LibRawUnsupportedThumbnailError):
        raise ImageDecodeError("RAW file without an embedded preview") from None
    except rawpy.LibRawFileUnsupportedError:
        raise ImageDecodeError("unsupported or corrupt RAW file") from None
    except (rawpy.LibRawError, OSError, ValueError) as exc:
        raise ImageDecodeError(f"truncated or corrupt RAW file ({type(exc).__name__})") from None
    except MemoryError:
        raise ImageDecodeError("not enough memory to decode image") from None
    if thumb.format == rawpy.ThumbFormat.JPEG:
        return io.BytesIO(bytes(thumb.data)), orientation
    return Image.fromarray(np.asarray(thumb.data)), orientation
