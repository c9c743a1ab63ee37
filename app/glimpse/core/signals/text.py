"""Text in photos: rapidocr (PP-OCR ONNX models shipped in its wheel) run as a catalog pass.

OCR costs seconds a photo on a CPU, far more than CLIP encoding, so it runs as
a second pass (core/indexing/passes.py) after every photo has its vector, and it first
asks a cheap question: is there any text at all? The text detector alone, at
low resolution, answers that in a fraction of the full OCR time; photos with no
detected text box are recorded as done with no text (see scripts/bench_ocr.py
for the measurement behind this choice).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from glimpse.core.encoding.providers import ProviderChoice, resolved, uses_cuda
from glimpse.core.errors import EngineUnavailable, GlimpseError, ImageDecodeError
from glimpse.core.media import imaging
from glimpse.core.signals.base import CatalogPass, SignalStage, WordSource
from glimpse.core.storage.catalog import Catalog, PhotoRow

log = logging.getLogger(__name__)

OCR_PASS = "ocr"
OCR_VERSION = 1  # bump when models or rules change: every photo is read again

# Longest side the full OCR sees: enough for 12 px text in a phone screenshot
# (1170x2532 is read at about 0.8x) at a bounded cost per photo.
OCR_MAX_SIDE = 1600
# The skip check runs the detector alone with the photo's longest side at this size.
PROBE_MAX_SIDE = 640
MIN_SCORE = 0.6  # recognised lines below this confidence are mostly noise
GATE_BOXES = 12  # the skip check reads at most this many of the detector's likeliest boxes
MIN_SIDE = 8  # no legible text fits in a thinner image
MAX_ASPECT = 8  # longer images are padded to this ratio before OCR (see _bounded_aspect)


def ocr_threads() -> int:
    """ONNX Runtime's threads for the OCR models: every core but one, which decodes
    the next photo meanwhile (core/indexing/passes.py). On 2 cores, one thread read
    text and faces in the 277 sample photos at 4.90 photos/s against 4.50 with
    ONNX Runtime's default of two (its second thread gave the detector 1.3x for
    twice the CPU)."""
    return max(1, (os.cpu_count() or 2) - 1)


@dataclass(frozen=True)
class OcrText:
    text: str  # lines joined by newlines, reading order as the models give it
    lines: int
    skipped: bool  # True when the cheap check found no text and full OCR did not run
    seconds: float


class OcrEngine:
    """One detector/recogniser pair, loaded on first use; calls are serialised."""

    def __init__(self, threads: int | None = None, probe_side: int = PROBE_MAX_SIDE,
                 providers: ProviderChoice = ()) -> None:
        self._threads = threads
        # CUDA where ONNX Runtime has it and the device allows (core/encoding/providers.py);
        # a callable is asked when the models load, so making the pass imports nothing.
        self._providers = providers
        self.probe_side = probe_side
        self._full: Any = None  # rapidocr.RapidOCR, imported on first use
        self._probe: Any = None
        self._lock = threading.Lock()

    @property
    def providers(self) -> tuple[str, ...]:
        return resolved(self._providers)

    def provider_params(self) -> dict[str, object]:
        """rapidocr's switch for ONNX Runtime's CUDA provider (it keeps the CPU behind it)."""
        return {"EngineConfig.onnxruntime.use_cuda": True} if uses_cuda(self.providers) else {}

    def _engine(self, probe: bool):  # type: ignore[no-untyped-def]
        with self._lock:
            if (self._probe if probe else self._full) is None:
                try:
                    from rapidocr import RapidOCR
                except ImportError as exc:  # pragma: no cover - a broken install
                    raise EngineUnavailable(
                        "Reading text in photos needs the 'rapidocr' and 'onnxruntime' "
                        "packages: pip install rapidocr onnxruntime"
                    ) from exc
                params: dict[str, object] = {
                    "Global.log_level": "error",
                    "EngineConfig.onnxruntime.intra_op_num_threads": self._threads or ocr_threads(),
                }
                params.update(self.provider_params())
                if probe:
                    params.update({"Det.limit_side_len": self.probe_side, "Det.limit_type": "max"})
                else:
                    params.update({"Global.max_side_len": OCR_MAX_SIDE})
                engine = RapidOCR(params=params)
                if probe:
                    self._probe = engine
                else:
                    self._full = engine
            return self._probe if probe else self._full

    def _text_boxes(self, image: Image.Image) -> tuple[Image.Image, list, list[float]]:
        """The detector alone at low resolution: (the image it saw, its boxes, their scores)."""
        small = imaging.fit_within(image, self.probe_side)
        out = self._engine(True)(np.asarray(small), use_det=True, use_cls=False, use_rec=False)
        boxes = getattr(out, "boxes", None)
        if boxes is None or len(boxes) == 0:
            return small, [], []
        return small, list(boxes), list(getattr(out, "scores", None) or [1.0] * len(boxes))

    def has_text(self, image: Image.Image) -> bool:
        """The detector alone at low resolution: any text box at all?"""
        return bool(self._text_boxes(image)[1])

    def legible(self, image: Image.Image) -> bool:
        """The skip check: the detector at low resolution finds text boxes, then the
        recogniser reads the GATE_BOXES likeliest of them, cut from `image` at full
        resolution; only a line it reads with confidence (MIN_SCORE, two letters or
        digits) sends the photo to full OCR. Textures, foliage and fences make the
        detector alone say "text" on a third of real photos, where the full read
        then finds nothing at 1.3 s a photo (scripts/bench_ocr.py skip)."""
        from rapidocr.utils.process_img import get_rotate_crop_image

        small, boxes, scores = self._text_boxes(image)
        if not boxes:
            return False
        scale = image.width / small.width
        pixels = np.ascontiguousarray(np.asarray(image.convert("RGB")))
        reader = self._engine(False)
        for i in np.argsort(scores)[::-1][:GATE_BOXES]:
            crop = get_rotate_crop_image(pixels, np.asarray(boxes[i], np.float32) * scale)
            if min(crop.shape[:2]) < 2:
                continue
            got = reader(crop, use_det=False, use_cls=False, use_rec=True)
            for text, score in zip(getattr(got, "txts", None) or (),
                                   getattr(got, "scores", None) or (), strict=False):
                if score >= MIN_SCORE and sum(ch.isalnum() for ch in text) >= 2:
                    return True
        return False

    def read(self, image: Image.Image) -> list[tuple[str, float]]:
        """(line, confidence) for every text line found."""
        # Every step named: the skip check calls the same engine with detection off,
        # and rapidocr keeps the switches of its last call.
        out = self._engine(False)(np.asarray(imaging.fit_within(image, OCR_MAX_SIDE)),
                                  use_det=True, use_cls=True, use_rec=True)
        txts = getattr(out, "txts", None) or ()
        scores = getattr(out, "scores", None) or ()
        return [(t, float(s)) for t, s in zip(txts, scores, strict=False)]

    def text_of(self, image: Image.Image, skip_check: bool = True) -> OcrText:
        start = time.monotonic()
        if min(image.size) < MIN_SIDE:
            return OcrText("", 0, True, time.monotonic() - start)
        image = _bounded_aspect(image)
        if skip_check and not self.legible(image):
            return OcrText("", 0, True, time.monotonic() - start)
        lines = [t.strip() for t, s in self.read(image) if s >= MIN_SCORE and t.strip()]
        return OcrText("\n".join(lines), len(lines), False, time.monotonic() - start)


def _bounded_aspect(image: Image.Image) -> Image.Image:
    """Pad a very long, thin image to MAX_ASPECT, with its corner colour.

    The models scale the shorter side up to several hundred pixels, so a
    5000x8 strip would become an enormous image (measured: two minutes for one
    blank strip); padded, it costs what any photo costs."""
    w, h = image.size
    if max(w, h) <= MAX_ASPECT * min(w, h):
        return image
    size = (w, max(h, -(-w // MAX_ASPECT))) if w > h else (max(w, -(-h // MAX_ASPECT)), h)
    canvas = Image.new("RGB", size, image.convert("RGB").getpixel((0, 0)))
    canvas.paste(image.convert("RGB"), (0, 0))
    return canvas


class OcrPass(CatalogPass):
    """Reads the text of every indexed photo once; see core/indexing/passes.py for the contract."""

    name = OCR_PASS
    version = OCR_VERSION
    pixels = OCR_MAX_SIDE

    def __init__(self, engine: OcrEngine | None = None, skip_check: bool = True) -> None:
        self.engine = engine or OcrEngine()
        self.skip_check = skip_check

    def process(self, row: PhotoRow) -> OcrText:
        """A file the runner did not decode (a video): its first frame, as a thumbnail."""
        try:
            image = imaging.make_thumbnail(row.path, OCR_MAX_SIDE)
        except ImageDecodeError as exc:
            raise GlimpseError(str(exc)) from exc
        return self.process_image(row, image)

    def process_image(self, row: PhotoRow, image: Image.Image) -> OcrText:
        try:
            return self.engine.text_of(image, self.skip_check)
        except GlimpseError:
            raise
        except Exception as exc:  # a model bug must cost one photo, not the pass
            raise GlimpseError(f"could not read text: {type(exc).__name__}: {exc}") from exc

    def store(self, catalog: Catalog, db, row: PhotoRow, result: OcrText) -> None:  # type: ignore[no-untyped-def]
        catalog.store_text(db, row.id, result.text)


STAGE = SignalStage(
    name=OCR_PASS,
    verb="Reading text in",
    did="Read text in",
    noun="text in photos",
    reads="pixels",
    version=OCR_VERSION,
    make_pass=lambda catalog, engines: OcrPass(engines.get(
        "ocr", lambda: OcrEngine(providers=lambda: engines.providers))),
    words=WordSource("photo_text", "text in the photo"),
)
