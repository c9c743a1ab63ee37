"""Faces in photos: dlib's detector, 5-point aligner and ResNet face descriptor, run as a catalog pass.

Models (see README "People"): dlib's HOG frontal face detector (built into the
`dlib-bin` wheel), and from the `face_recognition_models` package the 5-point
landmark model and `dlib_face_recognition_resnet_model_v1` (128-d embeddings,
99.38% on LFW as published by dlib's author; both CC0 per the package's LICENSE).
The 68-point landmark model in the same package is not used: its training data
(iBUG 300-W) forbids commercial use.

Videos: the pass reads a video's keyframes again (core/media/video.py decodes them at
the times the indexer stored: the first one in `videos`, the others in `frames`),
at most MAX_VIDEO_FRAMES of them spread over the clip, and stores each face with
the video's photo id and the keyframe's time. Grouping treats them like any face.

The pass stores every face it finds, however small or blurry; whether a face
may start a person is decided later by its quality (core/signals/people.py). Grouping
into people runs after the pass, over the faces it stored (Library.find_faces).
"""

from __future__ import annotations

import importlib.util
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from glimpse.core.errors import EngineUnavailable, GlimpseError, ImageDecodeError
from glimpse.core.media import imaging, video
from glimpse.core.signals import people
from glimpse.core.signals.base import CatalogPass, SignalStage
from glimpse.core.signals.people import Face
from glimpse.core.storage.catalog import Catalog, PhotoRow

FACE_PASS = "faces"
FACE_VERSION = 1  # bump when models or rules change: every photo is read again

# The photo is scaled to this longest side, then upsampled once by the HOG
# detector: faces from about 40 px at this size (1/20 of the long side) are found.
# (scripts/bench_faces.py measures the cost and the faces found.)
FACE_MAX_SIDE = 800
UPSAMPLE = 1
# HOG decision values below this are mostly false alarms (trees, patterns).
MIN_SCORE = 0.0
# Quality: a face this big (px, shorter box side at FACE_MAX_SIDE) and this sharp
# (variance of the Laplacian of its grey crop: sharp Flickr8k faces give ~1000,
# the same after a 1 px Gaussian blur ~60-90, after 2 px ~10) counts fully.
GOOD_SIZE_PX = 80
GOOD_SHARPNESS = 50.0
# Keyframes of one video looked at, spread over the clip: a two-hour film costs
# at most this many detector runs (about 8 photos' worth), whatever its length.
MAX_VIDEO_FRAMES = 8

_MODELS_PACKAGE = "face_recognition_models"
_LANDMARKS = "shape_predictor_5_face_landmarks.dat"
_DESCRIPTOR = "dlib_face_recognition_resnet_model_v1.dat"


def quality(size_px: int, sharpness: float, score: float = 1.0) -> float:
    """Small, blurry and doubtful faces give unreliable embeddings: they may join
    a person but never start one (core/signals/people.py). 1.0 = big, sharp and sure."""
    sure = min(1.0, max(0.0, 0.5 + score))  # HOG decision value: 0 is the detector's edge
    return float(min(1.0, size_px / GOOD_SIZE_PX) * min(1.0, sharpness / GOOD_SHARPNESS) * sure)


def models_dir() -> Path:
    """The model folder of the face_recognition_models package, found without
    importing it (its __init__ needs pkg_resources, which may be absent)."""
    spec = importlib.util.find_spec(_MODELS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise EngineUnavailable(
            "Finding people needs the 'face_recognition_models' package: "
            "pip install face_recognition_models"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def _sharpness(grey: np.ndarray) -> float:
    """Variance of a 4-neighbour Laplacian: low for blurred or flat crops."""
    g = grey.astype(np.float32)
    if g.shape[0] < 3 or g.shape[1] < 3:
        return 0.0
    lap = g[1:-1, :-2] + g[1:-1, 2:] + g[:-2, 1:-1] + g[2:, 1:-1] - 4 * g[1:-1, 1:-1]
    return float(lap.var())


class FaceEngine:
    """Detector, aligner and descriptor, loaded on first use; calls are serialised
    (dlib objects are not documented as thread-safe)."""

    def __init__(self, max_side: int = FACE_MAX_SIDE, upsample: int = UPSAMPLE) -> None:
        self.max_side = max_side
        self.upsample = upsample
        self._models: tuple[Any, Any, Any] | None = None
        self._lock = threading.Lock()

    def _load(self) -> tuple[Any, Any, Any]:
        if self._models is None:
            try:
                import dlib
            except ImportError as exc:  # pragma: no cover - a broken install
                raise EngineUnavailable(
                    "Finding people needs dlib: pip install dlib-bin face_recognition_models"
                ) from exc
            folder = models_dir()
            for name in (_LANDMARKS, _DESCRIPTOR):
                if not (folder / name).is_file():
                    raise EngineUnavailable(f"The face model {folder / name} is missing; reinstall "
                                       "face_recognition_models.")
            self._models = (
                dlib.get_frontal_face_detector(),
                dlib.shape_predictor(str(folder / _LANDMARKS)),
                dlib.face_recognition_model_v1(str(folder / _DESCRIPTOR)),
            )
        return self._models

    def faces_in(self, image: Image.Image) -> list[Face]:
        image = imaging.fit_within(image, self.max_side)
        pixels = np.ascontiguousarray(np.asarray(image))
        grey = np.asarray(image.convert("L"))
        height, width = pixels.shape[:2]
        with self._lock:
            detector, landmarks, descriptor = self._load()
            rects, scores, _ = detector.run(pixels, self.upsample, MIN_SCORE)
            shapes = [landmarks(pixels, r) for r in rects]
            vectors = [np.asarray(descriptor.compute_face_descriptor(pixels, s), dtype=np.float32)
                       for s in shapes]
        faces = []
        for rect, score, vector in zip(rects, scores, vectors, strict=True):
            left, top = max(0, rect.left()), max(0, rect.top())
            right, bottom = min(width, rect.right()), min(height, rect.bottom())
            if right <= left or bottom <= top:
                continue
            size = min(right - left, bottom - top)
            sharp = _sharpness(grey[top:bottom, left:right])
            faces.append(Face(
                (left / width, top / height, (right - left) / width, (bottom - top) / height),
                int(size), sharp, float(score), quality(size, sharp, float(score)), vector,
            ))
        return faces


def spread(times: Sequence[float], n: int = MAX_VIDEO_FRAMES) -> list[float]:
    """At most n of these times, evenly spread from the first to the last."""
    ordered = sorted(set(times))
    if len(ordered) <= n:
        return ordered
    if n <= 1:
        return ordered[:1]
    picks = {round(i * (len(ordered) - 1) / (n - 1)) for i in range(n)}
    return [ordered[i] for i in sorted(picks)]


@dataclass(frozen=True)
class FaceResult:
    faces: list[Face]
    seconds: float


class FacePass(CatalogPass):
    """Finds and describes the faces of every indexed photo once (core/indexing/passes.py)."""

    name = FACE_PASS
    version = FACE_VERSION

    def __init__(
        self,
        engine: FaceEngine | None = None,
        keyframe_times: Mapping[int, Sequence[float]] | None = None,
    ) -> None:
        """`keyframe_times`: {video's photo id: its stored keyframe times}
        (Catalog.keyframe_times, read before the run: process() reads no database).
        A video missing from it is looked at once, at its start."""
        self.engine = engine or FaceEngine()
        self.keyframe_times = keyframe_times
        self.pixels = self.engine.max_side

    def process(self, row: PhotoRow) -> FaceResult:
        """A video (its stored keyframes), or a photo the runner did not decode."""
        start = time.monotonic()
        try:
            if video.is_video(row.path):
                times = (self.keyframe_times or {}).get(row.id, ())
                frames = video.frames_at(row.path, spread(times or (0.0,)), self.engine.max_side)
                faces = [replace(f, t_seconds=t)
                         for t, image in frames for f in self.engine.faces_in(image)]
                return FaceResult(faces, time.monotonic() - start)
            image = imaging.make_thumbnail(row.path, self.engine.max_side)
        except ImageDecodeError as exc:
            raise GlimpseError(str(exc)) from exc
        return FaceResult(self.engine.faces_in(image), time.monotonic() - start)

    def process_image(self, row: PhotoRow, image: Image.Image) -> FaceResult:
        start = time.monotonic()
        return FaceResult(self.engine.faces_in(image), time.monotonic() - start)

    def store(self, catalog: Catalog, db, row: PhotoRow, result: FaceResult) -> None:  # type: ignore[no-untyped-def]
        people.replace_faces(db, row.id, result.faces)


STAGE = SignalStage(
    name=FACE_PASS,
    verb="Looking for faces in",
    did="Looked for faces in",
    noun="faces",
    reads="pixels",
    version=FACE_VERSION,
    make_pass=lambda catalog, engines: FacePass(engines.get("faces", FaceEngine),
                                                catalog.keyframe_times()),
    after=people.group_faces,  # new faces join people (or start them) once all are read
    summary=lambda catalog: people.found_line(catalog),
)
