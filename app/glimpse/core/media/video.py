"""Videos: a few keyframes per clip, each searched like a photo.

We take one keyframe every FRAME_INTERVAL_S seconds, and at most MAX_FRAMES
per video spread evenly over its whole length, so a two-hour film costs the
same bounded work as a three-minute clip and can never stall a run. Only
keyframes are decoded (the decoder skips every other frame, and each sample
is one seek): a sample lands on the keyframe at or before its time, which for
phone videos (a keyframe every 1-2 s) is within a second or two of it. Two
samples landing on the same keyframe are kept once.

Everything PyAV/FFmpeg raises becomes an ImageDecodeError with a short
reason, so a corrupt or truncated clip is recorded like a bad photo.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from PIL import Image

from glimpse.core.errors import ImageDecodeError

VIDEO_EXTENSIONS = frozenset({".mp4", ".mov", ".m4v", ".3gp", ".webm", ".mkv"})
FRAME_INTERVAL_S = 2.0
MAX_FRAMES = 64
# Demuxed packets we accept per sample before giving up on a file whose
# seeking is broken (it would otherwise be read to the end for every sample).
_MAX_PACKETS_PER_SAMPLE = 2000

_ISO6709 = re.compile(r"^([+-]\d+(?:\.\d+)?)([+-]\d+(?:\.\d+)?)")


def is_video(path: str | os.PathLike[str]) -> bool:
    return os.path.splitext(os.fspath(path))[1].lower() in VIDEO_EXTENSIONS


@dataclass(frozen=True)
class DecodedVideo:
    """Keyframes (seconds, small upright RGB image) plus what the catalog keeps."""

    frames: list[tuple[float, Image.Image]]
    width: int
    height: int
    duration: float
    taken_at: dt.datetime | None
    gps: tuple[float, float] | None


def sample_times(duration: float) -> list[float]:
    """When to look: every FRAME_INTERVAL_S, or MAX_FRAMES evenly spread if that is fewer."""
    if not math.isfinite(duration) or duration <= 0:
        return [0.0]
    step = max(FRAME_INTERVAL_S, duration / MAX_FRAMES)
    n = max(1, min(MAX_FRAMES, math.ceil(duration / step)))
    return [round(i * step, 3) for i in range(n)]


def decode_video(path: str | os.PathLike[str], min_side: int = 224) -> DecodedVideo:
    """Sample keyframes at `sample_times`, each shrunk so its shorter side is `min_side`.

    Raises ImageDecodeError with a short reason."""
    import av

    try:
        container = av.open(os.fspath(path), metadata_errors="ignore")
    except FileNotFoundError:
        raise ImageDecodeError("file vanished before it could be read") from None
    except PermissionError:
        raise ImageDecodeError("permission denied") from None
    except av.error.FFmpegError as exc:
        raise ImageDecodeError(f"not a readable video ({_reason(exc)})") from None
    with container:
        if not container.streams.video:
            raise ImageDecodeError("no video track")
        stream = container.streams.video[0]
        stream.codec_context.skip_frame = "NONKEY"
        duration = _duration(container, stream)
        frames: list[tuple[float, Image.Image]] = []
        width = height = 0
        try:
            for t, frame in _distinct_keyframes(container, stream, sample_times(duration)):
                image, width, height = _to_small_rgb(frame, min_side)
                frames.append((t, image))
        except av.error.FFmpegError as exc:
            if not frames:
                raise ImageDecodeError(f"truncated or corrupt video ({_reason(exc)})") from None
        except MemoryError:
            raise ImageDecodeError("not enough memory to decode video") from None
        if not frames:
            raise ImageDecodeError("truncated or corrupt video (no frame could be decoded)")
        if duration <= 0:
            duration = frames[-1][0]
        meta = dict(container.metadata)
    return DecodedVideo(
        frames, width, height, duration, _creation_time(meta), _location(meta)
    )


def _distinct_keyframes(container, stream, times: list[float]) -> Iterator[tuple[float, Any]]:  # type: ignore[no-untyped-def]
    """(time, frame) of the keyframe at or before each target time, each keyframe
    once (two targets between the same keyframes find the same one); stops at
    the first time no keyframe can be decoded."""
    seen: set[float] = set()
    for target in times:
        frame = _keyframe_at(container, stream, target)
        if frame is None:
            return
        t = round(float(frame.time if frame.time is not None else target), 3)
        if t not in seen:
            seen.add(t)
            yield t, frame


def _keyframe_at(container, stream, target: float):  # type: ignore[no-untyped-def]
    """The first keyframe the decoder gives after seeking back from `target`."""
    if target > 0:
        assert stream.time_base is not None
        container.seek(int(target / stream.time_base), stream=stream, backward=True)
    else:
        container.seek(0, stream=stream, backward=True)
    stream.codec_context.flush_buffers()
    packets = 0
    for packet in container.demux(stream):
        packets += 1
        if packets > _MAX_PACKETS_PER_SAMPLE:
            return None
        for frame in packet.decode():
            return frame
    return None


def _to_small_rgb(frame, min_side: int) -> tuple[Image.Image, int, int]:  # type: ignore[no-untyped-def]
    """Scale in FFmpeg (cheaper than a full-size RGB copy), then turn upright."""
    w, h = frame.width, frame.height
    scale = min(1.0, min_side / max(1, min(w, h)))
    size = {"width": max(1, round(w * scale)), "height": max(1, round(h * scale))}
    image = frame.to_image(**size)
    rotation = int(getattr(frame, "rotation", 0) or 0) % 360
    if rotation:
        # FFmpeg's rotation is counter-clockwise degrees to display upright.
        image = image.rotate(rotation, expand=True)
        if rotation in (90, 270):
            w, h = h, w
    return image, w, h


def _duration(container, stream) -> float:  # type: ignore[no-untyped-def]
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000  # AV_TIME_BASE
    return 0.0


def _creation_time(meta: dict[str, str]) -> dt.datetime | None:
    """QuickTime/MP4 creation_time is UTC; shown as local wall-clock time like EXIF."""
    raw = meta.get("creation_time") or meta.get("com.apple.quicktime.creationdate")
    if not raw:
        return None
    try:
        when = dt.datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.year < 1971:  # 1904/1970 epochs written by cameras with no clock
        return None
    if when.tzinfo is not None:
        when = when.astimezone().replace(tzinfo=None)
    return when.replace(microsecond=0)


def _location(meta: dict[str, str]) -> tuple[float, float] | None:
    """ISO 6709 ("+38.7223-009.1393+010.000/") as phones write it in the `location` tag."""
    for key in ("location", "com.apple.quicktime.location.ISO6709", "location-eng"):
        m = _ISO6709.match(meta.get(key, "").strip())
        if m:
            lat, lon = float(m.group(1)), float(m.group(2))
            if -90 <= lat <= 90 and -180 <= lon <= 180 and (lat, lon) != (0.0, 0.0):
                return lat, lon
    return None


def _reason(exc: Exception) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return re.sub(r"\s*:\s*'[^']*'$", "", text).strip() or type(exc).__name__


def frames_at(
    path: str | os.PathLike[str], times: list[float], max_side: int
) -> list[tuple[float, Image.Image]]:
    """The keyframes at these times (as decode_video found them), each with its own time,
    longer side <= max_side, from one opening of the file. The face pass reads a video's
    stored keyframes again this way instead of keeping their pictures."""
    import av

    out: list[tuple[float, Image.Image]] = []
    try:
        with _keyframes_of(path) as (container, stream):
            for t, frame in _distinct_keyframes(container, stream, [max(0.0, x) for x in times]):
                # Scale in FFmpeg so the longer side lands on max_side (a 4K frame is
                # never converted to RGB at full size).
                short, long = sorted((max(1, frame.width), max(1, frame.height)))
                image, _, _ = _to_small_rgb(frame, max(1, round(max_side * short / long)))
                out.append((t, image))
    except av.error.FFmpegError as exc:
        if not out:
            raise ImageDecodeError(f"truncated or corrupt video ({_reason(exc)})") from None
    except OSError as exc:
        raise ImageDecodeError(f"could not read file ({exc.strerror or exc})") from None
    if not out:
        raise ImageDecodeError("truncated or corrupt video (no frame could be decoded)")
    return out


@contextmanager
def _keyframes_of(path: str | os.PathLike[str]) -> Iterator[tuple[Any, Any]]:
    """(container, its first video stream) set to decode keyframes only; the
    caller translates FFmpeg's errors its own way."""
    import av

    with av.open(os.fspath(path), metadata_errors="ignore") as container:
        if not container.streams.video:
            raise ImageDecodeError("no video track")
        stream = container.streams.video[0]
        stream.codec_context.skip_frame = "NONKEY"
        yield container, stream


def thumbnail_frame(path: str | os.PathLike[str], t_seconds: float, max_side: int) -> Image.Image:
    """The keyframe shown for a video hit (at its matching time), longer side <= max_side."""
    import av

    try:
        with _keyframes_of(path) as (container, stream):
            frame = _keyframe_at(container, stream, max(0.0, t_seconds))
            if frame is None:
                raise ImageDecodeError("truncated or corrupt video (no frame could be decoded)")
            image, _, _ = _to_small_rgb(frame, 10**6)
    except av.error.FFmpegError as exc:
        raise ImageDecodeError(f"truncated or corrupt video ({_reason(exc)})") from None
    except OSError as exc:
        raise ImageDecodeError(f"could not read file ({exc.strerror or exc})") from None
    image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return image
