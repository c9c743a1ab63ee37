"""Faces in photos: MTCNN finds them, dlib's 5-point aligner and ResNet descriptor
describe them, run as a catalog pass.

Models (see README "People"): the detector is MTCNN (core/signals/face_detector.py:
weights from the `mtcnn` wheel, MIT, run on onnxruntime); dlib's HOG frontal face
detector (built into the `dlib-bin` wheel; the pass's version 1) stays as
FaceEngine(detector="hog") for comparison. From the `face_recognition_models`
package: the 5-point landmark model and `dlib_face_recognition_resnet_model_v1`
(128-d embeddings, 99.38% on LFW as published by dlib's author; both CC0 per the
package's LICENSE). The 68-point landmark model in the same package is not used:
its training data (iBUG 300-W) forbids commercial use.

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

from glimpse.core.encoding.providers import ProviderChoice, resolved
from glimpse.core.errors import EngineUnavailable, GlimpseError, ImageDecodeError
from glimpse.core.media import imaging, video
from glimpse.core.signals import people
from glimpse.core.signals.base import CatalogPass, SignalStage
from glimpse.core.signals.people import Face
from glimpse.core.storage.catalog import Catalog, PhotoRow

FACE_PASS = "faces"
# 2: MTCNN instead of HOG. 3: dlib's aligner starts from the MTCNN box made HOG-shaped,
# its points steadied (new embeddings). Bump when models or rules change: every photo is
# read again, names carried over (people.replace_faces).
FACE_VERSION = 3

# Longest side the photo is scaled to, per detector. HOG is upsampled once at 800
# px: faces from about 40 px (1/20 of the long side). MTCNN looks for faces from
# MIN_FACE_PX at 512 px (1/26 of the long side), at a fraction of HOG's cost
# (scripts/bench_faces.py --detector --max-side --speed measures both).
DETECTORS = {"mtcnn": 512, "hog": 800}
DEFAULT_DETECTOR = "mtcnn"
ALIGNMENTS = ("hog-box", "box", "landmarks")
DEFAULT_ALIGN = "hog-box"
UPSAMPLE = 1
MIN_FACE_PX = 20
# Off (0) by default: measured on flickr8k-1k at 720 with MIN_PROB 0.85 it found a face in
# 61.6% of person photos but false alarms in 5.1% of the others (README). When set, a
# photo smaller than the detector's size (a 500-px Flickr photo, a thumbnail) is
# searched as if upscaled to this long side: faces from MIN_FACE_PX * side / SMALL_PHOTO_SIDE
# px (14 px in a 500-px photo), never under P-Net's 12 px window (no photo is upscaled
# further). It costs such a photo what a 720-px one would; photos at or above the
# detector's size (scaled down to it) are not affected.
SMALL_PHOTO_SIDE = 0
SMALLEST_FACE_PX = 12
# HOG decision values below this are mostly false alarms (trees, patterns).
MIN_SCORE = 0.0
# MTCNN's last stage: a face below this probability is dropped.
MIN_PROB = 0.9
# Quality: a face this big (px, shorter box side in the photo as analysed) and this sharp
# (variance of the Laplacian of its grey crop: sharp Flickr8k faces give ~1000,
# the same after a 1 px Gaussian blur ~60-90, after 2 px ~10) counts fully.
GOOD_SIZE_PX = 80
GOOD_SHARPNESS = 50.0
SURE_PROB = 0.99
# dlib's 5-point aligner was trained on HOG boxes; MTCNN's reach higher up the forehead
# and are narrower. Before the aligner, an MTCNN box is made HOG-shaped: its centre moved
# by (dx, dy) of its width and height, its sides scaled by (sw, sh). The medians over the
# 246 faces both detectors find in flickr8k-1k (IoU >= 0.3): the mapped box overlaps
# the HOG box by IoU 0.75 (median; 0.70 unmapped), and faces re-found in edited copies
# join their original's person more often (scripts/bench_faces.py --align, README).
HOG_SHAPE = (-0.013, 0.042, 1.112, 0.864)
# The MTCNN box wavers from one copy of a photo to the next (brighter, re-saved, cropped),
# and dlib's points follow it. They are steadied: averaged over the HOG-shaped box and
# ten boxes round it (moved by ALIGN_SHIFT of its size along x and y, grown and shrunk
# by it), then, ALIGN_REFINE times, found again from the box those points give
# (POINTS_TO_BOX: the points' centre moved by (dx, dy) times their spread, a side of
# c times it; the medians of dlib's points in the HOG boxes of the same 246 faces).
ALIGN_SHIFT = 0.05
ALIGN_REFINE = 1
POINTS_TO_BOX = (-0.033, 0.497, 4.51)
# Keyframes of one video looked at, spread over the clip: a two-hour film costs
# at most this many detector runs (about 8 photos' worth), whatever its length.
MAX_VIDEO_FRAMES = 8

_MODELS_PACKAGE = "face_recognition_models"
_LANDMARKS = "shape_predictor_5_face_landmarks.dat"
_DESCRIPTOR = "dlib_face_recognition_resnet_model_v1.dat"


def quality(size_px: int, sharpness: float, score: float = 1.0, detector: str = "hog") -> float:
    """Small, blurry and doubtful faces give unreliable embeddings: they may join
    a person but never start one (core/signals/people.py). 1.0 = big, sharp and sure."""
    if detector == "hog":
        sure = 0.5 + score  # HOG decision value: 0 is the detector's edge
    else:  # MTCNN's probability: MIN_PROB is its edge, SURE_PROB counts fully
        sure = 0.5 + 0.5 * (score - MIN_PROB) / (SURE_PROB - MIN_PROB)
    sure = min(1.0, max(0.0, sure))
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
    (dlib objects are not documented as thread-safe).

    detector: "mtcnn" (the default, core/signals/face_detector.py) or "hog" (dlib's
    frontal HOG detector, the pass before version 2; kept for comparison in
    scripts/bench_faces.py --detector hog)."""

    def __init__(self, max_side: int | None = None, upsample: int = UPSAMPLE,
                 detector: str = DEFAULT_DETECTOR, min_face: int = MIN_FACE_PX,
                 min_prob: float = MIN_PROB, align: str | None = None,
                 small_side: int = SMALL_PHOTO_SIDE,
                 providers: ProviderChoice = ()) -> None:
        if detector not in DETECTORS:
            raise GlimpseError(f"Unknown face detector {detector!r}: one of {', '.join(DETECTORS)}")
        self.detector = detector
        self.max_side = max_side or DETECTORS[detector]
        self.upsample = upsample
        self.min_face = min_face
        self.min_prob = min_prob
        self.small_side = small_side  # 0: small photos searched from min_face like others
        # How the descriptor's face chip is aligned: "hog-box" (dlib's 5-point model run
        # inside the MTCNN box made HOG-shaped, hog_shaped(); the default), "box" (inside
        # the detector's own box: face pass version 2) or "landmarks" (MTCNN's own five
        # points made into dlib's). Measured by scripts/bench_faces.py --align (README).
        if align not in (None, *ALIGNMENTS):
            raise GlimpseError(f"Unknown face alignment {align!r}: one of {', '.join(ALIGNMENTS)}")
        self.align = align or DEFAULT_ALIGN
        self._models: tuple[Any, Any, Any] | None = None
        self._mtcnn: Any = None
        # ONNX Runtime's, for MTCNN (core/encoding/providers.py); a callable is asked when
        # MTCNN loads, so making the pass (a no-op re-index) imports no onnxruntime.
        self._providers = providers
        self._lock = threading.Lock()

    @property
    def providers(self) -> tuple[str, ...]:
        return resolved(self._providers)

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
                dlib.get_frontal_face_detector() if self.detector == "hog" else None,
                dlib.shape_predictor(str(folder / _LANDMARKS)),
                dlib.face_recognition_model_v1(str(folder / _DESCRIPTOR)),
            )
            if self.detector == "mtcnn":
                from glimpse.core.signals.face_detector import MTCNN, Thresholds

                self._mtcnn = MTCNN(self.min_face, Thresholds(onet=self.min_prob), self.providers)
        return self._models

    def _boxes(
        self, hog: Any, pixels: np.ndarray, image: Image.Image
    ) -> tuple[list[tuple], np.ndarray | None]:
        """(left, top, right, bottom, score) in pixels of `image`, and MTCNN's five
        landmarks of each (None from HOG)."""
        if self.detector == "hog":
            rects, scores, _ = hog.run(pixels, self.upsample, MIN_SCORE)
            return [(r.left(), r.top(), r.right(), r.bottom(), float(s))
                    for r, s in zip(rects, scores, strict=True)], None
        long_side = max(image.size)
        small = self.small_side and long_side < min(self.max_side, self.small_side)
        boxes, points = self._mtcnn.detect(image, max(
            SMALLEST_FACE_PX, self.min_face * long_side / self.small_side) if small else None)
        return [(int(round(b[0])), int(round(b[1])), int(round(b[2])), int(round(b[3])),
                 float(b[4])) for b in boxes], points

    def aligner_box(self, box: Sequence[float]) -> tuple[int, int, int, int]:
        """The rectangle dlib's 5-point model starts from, for a detector's box."""
        if self.detector == "mtcnn" and self.align == "hog-box":
            return hog_shaped(box)
        return int(box[0]), int(box[1]), int(box[2]), int(box[3])

    def faces_in(self, image: Image.Image) -> list[Face]:
        import dlib

        image = imaging.fit_within(image, self.max_side).convert("RGB")
        pixels = np.ascontiguousarray(np.asarray(image))
        grey = np.asarray(image.convert("L"))
        height, width = pixels.shape[:2]
        with self._lock:
            hog, landmarks, descriptor = self._load()
            found, points = self._boxes(hog, pixels, image)
            if points is not None and self.align == "landmarks":
                shapes = [_dlib_points(b, p) for b, p in zip(found, points, strict=True)]
            elif self.detector == "mtcnn" and self.align == "hog-box":
                shapes = [_steady_points(landmarks, pixels, self.aligner_box(b)) for b in found]
            else:
                shapes = [landmarks(pixels, dlib.rectangle(*self.aligner_box(b))) for b in found]
            vectors = [np.asarray(descriptor.compute_face_descriptor(pixels, s), dtype=np.float32)
                       for s in shapes]
        faces = []
        for (left, top, right, bottom, score), vector in zip(found, vectors, strict=True):
            left, top = max(0, left), max(0, top)
            right, bottom = min(width, right), min(height, bottom)
            if right <= left or bottom <= top:
                continue
            size = min(right - left, bottom - top)
            sharp = _sharpness(grey[top:bottom, left:right])
            faces.append(Face(
                (left / width, top / height, (right - left) / width, (bottom - top) / height),
                int(size), sharp, score, quality(size, sharp, score, self.detector), vector,
            ))
        return faces


def hog_shaped(box: Sequence[float], shape: Sequence[float] = HOG_SHAPE) -> tuple[int, int, int, int]:
    """An MTCNN box (left, top, right, bottom) as the HOG detector would draw it."""
    dx, dy, sw, sh = shape
    w, h = box[2] - box[0], box[3] - box[1]
    cx, cy = (box[0] + box[2]) / 2 + dx * w, (box[1] + box[3]) / 2 + dy * h
    half_w, half_h = sw * w / 2, sh * h / 2
    return (int(round(cx - half_w)), int(round(cy - half_h)),
            int(round(cx + half_w)), int(round(cy + half_h)))


def _around(box: Sequence[int], shift: float) -> list[tuple[int, int, int, int]]:
    """The box, the eight boxes moved by shift of its size, and it grown and shrunk by shift."""
    left, top, right, bottom = box
    w, h = right - left, bottom - top
    moved = [(left + dx * w, top + dy * h, right + dx * w, bottom + dy * h)
             for dx in (-shift, 0.0, shift) for dy in (-shift, 0.0, shift)]
    scaled = [(left - k * w, top - k * h, right + k * w, bottom + k * h) for k in (-shift, shift)]
    return [(int(round(a)), int(round(b)), int(round(c)), int(round(d))) for a, b, c, d in moved + scaled]


def points_box(points: np.ndarray, shape: Sequence[float] = POINTS_TO_BOX) -> tuple[int, int, int, int]:
    """The HOG-shaped box round dlib's five points (5 x 2, in pixels)."""
    centre = points.mean(0)
    spread = float(np.sqrt(((points - centre) ** 2).sum(1).mean()))
    cx, cy, half = centre[0] + shape[0] * spread, centre[1] + shape[1] * spread, shape[2] * spread / 2
    return (int(round(cx - half)), int(round(cy - half)), int(round(cx + half)), int(round(cy + half)))


def _steady_points(predictor: Any, pixels: np.ndarray, box: Sequence[int],  # noqa: ANN401
                   shift: float = ALIGN_SHIFT, refine: int = ALIGN_REFINE) -> Any:  # noqa: ANN401
    """dlib's five points for the face in box, steadied (see ALIGN_SHIFT)."""
    import dlib

    def parts(shape: Any) -> np.ndarray:  # noqa: ANN401
        return np.array([(shape.part(i).x, shape.part(i).y) for i in range(5)], np.float64)

    rects = [dlib.rectangle(*b) for b in (_around(box, shift) if shift else [tuple(box)])]
    points = np.mean([parts(predictor(pixels, r)) for r in rects], axis=0)
    for _ in range(refine):
        points = parts(predictor(pixels, dlib.rectangle(*points_box(points))))
    return dlib.full_object_detection(dlib.rectangle(*box),
                                      [dlib.point(int(round(x)), int(round(y))) for x, y in points])


def _dlib_points(box: tuple, points: np.ndarray) -> Any:  # noqa: ANN401
    """dlib's five points (each eye's outer and inner corner, the base of the nose)
    made from MTCNN's (eye centres, nose tip, mouth corners)."""
    import dlib

    left, right, nose = (np.asarray(points[i], np.float64) for i in range(3))
    if left[0] > right[0]:
        left, right = right, left
    d = right - left
    down = np.array([-d[1], d[0]])  # the eye line turned a quarter: towards the mouth
    parts = [right + 0.2 * d, right - 0.2 * d, left - 0.2 * d, left + 0.2 * d, nose + 0.1 * down]
    rect = dlib.rectangle(box[0], box[1], box[2], box[3])
    return dlib.full_object_detection(rect, [dlib.point(int(round(x)), int(round(y))) for x, y in parts])


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
    make_pass=lambda catalog, engines: FacePass(engines.get(
        "faces", lambda: FaceEngine(providers=lambda: engines.providers)),
                                                catalog.keyframe_times()),
    after=people.group_faces,  # new faces join people (or start them) once all are read
    summary=lambda catalog: people.found_line(catalog),
)
