"""ONNX Runtime as the CPU engine: export open_clip's towers once, then run them without torch.

Why: on a CPU, ONNX Runtime runs CLIP's towers faster and in less memory than
torch, and it starts in a fraction of the time (no torch, torchvision or
open_clip import). A search needs only the text tower and the tokenizer; a
"more like this" on a new file needs only the image tower.

The first CPU use of a model exports both towers with torch (once per model
id: architecture plus weights, a checkpoint being named by its content hash)
into a cache folder, checks them against the torch model (cosine >= 0.999 on
generated images and sample texts, identical token ids, identical
preprocessing), and writes `meta.json` last, so a half-written export is never
used. A cache that fails to load is deleted and rebuilt. When the export or
its check fails, the caller falls back to torch and says so.

By default both towers then run in int8 (weights quantized to 8 bits,
activations quantized on the fly: onnxruntime's dynamic quantization), made
right after the export (or on first use of an older export) beside the fp32
files and checked against them (cosine >= 0.99, else fp32 is kept). The image
tower encodes 2.7x as fast as fp32 on ViT-B-32-256; the text tower's file is a
quarter of the size, so a cold search loads it in a third of the time.
MatMul/Gemm (and the text tower's token table) are quantized, not Conv:
onnxruntime's ConvInteger is far slower than its fp32 Conv (5x on the learned
ResNet test model), and static (QDQ) quantization was both slower and further
from fp32 on this CPU (scripts/bench_int8.py measures all of this).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from glimpse.core import settings

log = logging.getLogger(__name__)

FORMAT = 1  # bump when the export layout or wrapper code changes: old caches are rebuilt
CACHE_ENV = settings.setting("onnx_cache").env
THREADS_ENV = settings.setting("onnx_threads").env
MIN_COSINE = 0.999
INT8_MIN_COSINE = 0.99  # int8 against fp32, on the generated check images
# What is quantized. Conv stays fp32 (ConvInteger is slower than fp32 Conv); the
# text tower's token table (a Gather) is most of its weights: int8, the file is a
# quarter the size and a cold search loads it in a third of the time.
INT8_OPS = {"image": ["MatMul", "Gemm"], "text": ["MatMul", "Gemm", "Gather"]}
PRECISIONS = ("int8", "fp32")
_META = "meta.json"
_IMAGE, _TEXT, _VOCAB = "image.onnx", "text.onnx", "bpe_vocab.txt.gz"
_CHECK_TEXTS = [
    "a dog", "Two DOGS playing in the snow!", "a photo of a lighthouse at dusk",
    "ünïcödé café &amp; résumé", "東京の夜景", "", "word " * 90,
]


class OnnxExportError(Exception):
    """The model could not be exported or did not match torch; use torch instead."""


def available() -> bool:
    """onnxruntime is installed (checked without importing it)."""
    import importlib.util

    return importlib.util.find_spec("onnxruntime") is not None


def cache_root() -> Path:
    env = settings.text("onnx_cache")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("Glimpse", appauthor=False)) / "onnx"


def export_dir(model_id: str, root: Path | None = None) -> Path:
    """One folder per model id; the readable part helps a user find it, the hash keeps it unique."""
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in model_id)[:80]
    digest = hashlib.sha256(model_id.encode("utf-8")).hexdigest()[:12]
    return (root or cache_root()) / f"{safe}-{digest}"


def _quick_digest(path: Path) -> str:
    """Size plus a hash of the first and last MiB: catches truncated or overwritten
    files in milliseconds, where hashing hundreds of MiB would cost a cold search."""
    size = path.stat().st_size
    h = hashlib.sha256(str(size).encode())
    with open(path, "rb") as f:
        h.update(f.read(1 << 20))
        if size > 1 << 20:
            f.seek(max(size - (1 << 20), 0))
            h.update(f.read(1 << 20))
    return h.hexdigest()


def read_meta(directory: Path, model_id: str) -> dict[str, Any] | None:
    """The export's description, or None when it is missing, stale or damaged."""
    try:
        meta = json.loads((directory / _META).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if meta.get("format") != FORMAT or meta.get("model_id") != model_id:
        return None
    try:
        for name, digest in meta["files"].items():
            if _quick_digest(directory / name) != digest:
                log.warning("ONNX export %s is damaged (%s); it will be rebuilt.", directory, name)
                return None
    except (OSError, KeyError, AttributeError):
        return None
    return dict(meta)


# -- preprocessing (numpy + Pillow, the same arithmetic as open_clip's torchvision transform) --


def make_preprocess(meta: dict[str, Any]) -> Callable[[Any], np.ndarray]:
    """PIL image -> float32 [3, S, S]: resize (shortest side, or squash), centre crop,
    scale to [0, 1], normalise; torchvision does exactly this with Pillow underneath."""
    from PIL import Image

    size = int(meta["image_size"])
    mode = meta["resize_mode"]
    resample = {"bicubic": Image.Resampling.BICUBIC, "bilinear": Image.Resampling.BILINEAR}[
        meta["interpolation"]
    ]
    mean = np.asarray(meta["mean"], dtype=np.float32).reshape(3, 1, 1)
    std = np.asarray(meta["std"], dtype=np.float32).reshape(3, 1, 1)

    def preprocess(image: Any) -> np.ndarray:
        w, h = image.size
        if mode == "squash":
            if (w, h) != (size, size):
                image = image.resize((size, size), resample)
        else:
            short, long = (w, h) if w <= h else (h, w)
            new_long = int(size * long / short)
            new_w, new_h = (size, new_long) if w <= h else (new_long, size)
            if (new_w, new_h) != (w, h):
                image = image.resize((new_w, new_h), resample)
            w, h = image.size
            top, left = int(round((h - size) / 2.0)), int(round((w - size) / 2.0))
            if (w, h) != (size, size):
                image = image.crop((left, top, left + size, top + size))
        if image.mode != "RGB":
            image = image.convert("RGB")
        pixels = np.asarray(image, dtype=np.float32) / np.float32(255.0)
        return ((pixels.transpose(2, 0, 1) - mean) / std).astype(np.float32, copy=False)

    return preprocess


# -- export ---------------------------------------------------------------------


def _preprocess_meta(model: Any) -> dict[str, Any]:
    cfg = dict(getattr(model.visual, "preprocess_cfg", {}) or {})
    size = cfg.get("size", model.visual.image_size)
    if isinstance(size, (tuple, list)):
        if len(set(size)) != 1:
            raise OnnxExportError(f"non-square input size {size} is not supported")
        size = size[0]
    mode = cfg.get("resize_mode", "shortest")
    interpolation = cfg.get("interpolation", "bicubic")
    if mode not in ("shortest", "squash") or interpolation not in ("bicubic", "bilinear"):
        raise OnnxExportError(f"preprocessing {mode}/{interpolation} is not supported")
    from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD

    return {
        "image_size": int(size),
        "resize_mode": mode,
        "interpolation": interpolation,
        "mean": [float(v) for v in cfg.get("mean", OPENAI_DATASET_MEAN)],
        "std": [float(v) for v in cfg.get("std", OPENAI_DATASET_STD)],
    }


def _plain_clip_tokenizer(tokenizer: Any) -> bool:
    """Only open_clip's standard CLIP BPE tokenizer can be replaced by ours."""
    from open_clip.tokenizer import SimpleTokenizer

    return (
        type(tokenizer) is SimpleTokenizer
        and getattr(tokenizer, "reduction_fn", None) is None
        and getattr(tokenizer.clean_fn, "__name__", "") == "_clean_lower"
        and tokenizer.vocab_size == 49408
    )


def _check_images(size: int) -> list[Any]:
    """Generated photos of several shapes: smooth gradients plus noise, like real
    pictures' mix of flat areas and texture (real photos are checked by the tests)."""
    from PIL import Image

    rng = np.random.default_rng(0)
    images = []
    for w, h in [(size * 2, int(size * 1.5)), (size, size), (int(size * 0.8), size * 2), (97, 61)]:
        yy, xx = np.mgrid[0:h, 0:w]
        base = np.stack([xx * 255 / w, yy * 255 / h, (xx + yy) * 127 / (w + h)], axis=-1)
        noisy = base + rng.normal(0, 25, size=base.shape)
        images.append(Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8), "RGB"))
    return images


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.maximum(np.linalg.norm(a, axis=-1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=-1, keepdims=True), 1e-12)
    return np.sum(a * b, axis=-1)


def export(
    model: Any, preprocess: Callable, tokenizer: Any, model_id: str, directory: Path
) -> dict[str, Any]:
    """Export both towers of a loaded (CPU, fp32) open_clip model, check them, and
    publish them in `directory` (replacing whatever was there)."""
    import torch

    from glimpse.core.encoding.tokenizer import ClipTokenizer

    start = time.monotonic()
    meta: dict[str, Any] = {"format": FORMAT, "model_id": model_id, **_preprocess_meta(model)}
    work = directory.with_name(f"{directory.name}.tmp-{os.getpid()}-{threading.get_ident()}")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        model = model.float().eval()

        class ImageTower(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.model = model

            def forward(self, pixels: torch.Tensor) -> torch.Tensor:
                return self.model.encode_image(pixels)

        class TextTower(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.model = model

            def forward(self, tokens: torch.Tensor) -> torch.Tensor:
                return self.model.encode_text(tokens)

        size = meta["image_size"]
        pixels = torch.randn(2, 3, size, size)
        tokens = tokenizer(["a photo", "two dogs in the snow"])
        # Autograd stays on while tracing: without it nn.MultiheadAttention takes a
        # fused fast path (aten::_native_multi_head_attention) that ONNX cannot express.
        with torch.inference_mode(False), torch.enable_grad():
            for tower, example, name, inp in [
                (ImageTower(), pixels, _IMAGE, "pixels"),
                (TextTower(), tokens, _TEXT, "tokens"),
            ]:
                import warnings

                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    torch.onnx.export(
                        tower, (example,), str(work / name), input_names=[inp],
                        output_names=["embedding"], opset_version=17, dynamo=False,
                        dynamic_axes={inp: {0: "batch"}, "embedding": {0: "batch"}},
                    )
        # torch.onnx.export restores the wrapper's training flag, recursively; a fresh
        # wrapper is in training mode, which would leave BatchNorm layers (ResNet image
        # towers) normalising by batch statistics in the reference below and in a torch
        # fallback afterwards.
        model.eval()
        if _plain_clip_tokenizer(tokenizer):
            vocab = Path(tokenizer_vocab_path())
            shutil.copyfile(vocab, work / _VOCAB)
            meta["tokenizer"] = {"kind": "clip-bpe", "context_length": int(tokenizer.context_length)}
        else:
            meta["tokenizer"] = None  # texts go through torch for this model

        towers = OnnxTowers(work, meta)
        ours = make_preprocess(meta)
        images = _check_images(size)
        ref_pixels = torch.stack([preprocess(im) for im in images]).float()
        our_pixels = np.stack([ours(im) for im in images])
        pixel_err = float(np.abs(ref_pixels.numpy() - our_pixels).max())
        if pixel_err > 1e-3:
            raise OnnxExportError(f"preprocessing differs from open_clip's by {pixel_err:.2g}")
        with torch.no_grad():
            ref_img = model.encode_image(ref_pixels).numpy()
            ref_txt = model.encode_text(tokenizer(_CHECK_TEXTS)).numpy()
        img_cos = float(_cosines(towers.encode_images(our_pixels), ref_img).min())
        meta["fidelity"] = {"image_min_cosine": img_cos, "max_pixel_error": pixel_err}
        if meta["tokenizer"] is not None:
            ours_tok = ClipTokenizer(work / _VOCAB, meta["tokenizer"]["context_length"])
            if not np.array_equal(ours_tok(_CHECK_TEXTS), tokenizer(_CHECK_TEXTS).numpy()):
                meta["tokenizer"] = None
        txt_cos = float(
            _cosines(towers.run_text(tokenizer(_CHECK_TEXTS).numpy()), ref_txt).min()
        )
        meta["fidelity"]["text_min_cosine"] = txt_cos
        if min(img_cos, txt_cos) < MIN_COSINE:
            raise OnnxExportError(
                f"ONNX towers differ from torch (cosine {min(img_cos, txt_cos):.5f} < {MIN_COSINE})"
            )
        meta["dim"] = int(ref_img.shape[-1])
        towers.close()
        meta["files"] = {
            name: _quick_digest(work / name)
            for name in (_IMAGE, _TEXT, _VOCAB)
            if (work / name).exists()
        }
        meta["export_seconds"] = round(time.monotonic() - start, 1)
        (work / _META).write_text(json.dumps(meta, indent=2), "utf-8")
        shutil.rmtree(directory, ignore_errors=True)
        os.replace(work, directory)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return meta


def tokenizer_vocab_path() -> str:
    """open_clip's BPE merge list, found without importing open_clip."""
    import importlib.util

    spec = importlib.util.find_spec("open_clip")
    if spec is None or not spec.submodule_search_locations:
        raise OnnxExportError("open_clip is not installed")
    return str(Path(list(spec.submodule_search_locations)[0]) / "bpe_simple_vocab_16e6.txt.gz")


# -- int8 towers -------------------------------------------------------------------


def _int8_names(tower: str) -> tuple[str, str, str]:
    """(fp32 file, int8 file, int8 record) of a tower."""
    return f"{tower}.onnx", f"{tower}.int8.onnx", f"{tower}.int8.json"


def read_int8(directory: Path, meta: dict[str, Any], tower: str = "image") -> dict[str, Any] | None:
    """A tower's int8 record (made from this very fp32 file), or None when it is
    missing, stale or damaged. A record with ok False remembers a refusal."""
    source, target, note = _int8_names(tower)
    try:
        record = json.loads((directory / note).read_text("utf-8"))
        if record.get("format") != FORMAT or record.get("source") != meta["files"][source]:
            return None
        if record.get("ok") and _quick_digest(directory / target) != record.get("file"):
            log.warning("The int8 %s tower in %s is damaged; it will be rebuilt.", tower, directory)
            return None
    except (OSError, ValueError, KeyError, AttributeError):
        return None
    return dict(record)


def _check_inputs(directory: Path, meta: dict[str, Any], tower: str) -> dict[str, np.ndarray]:
    if tower == "image":
        preprocess = make_preprocess(meta)
        return {"pixels": np.stack([preprocess(im) for im in _check_images(int(meta["image_size"]))])}
    from glimpse.core.encoding.tokenizer import ClipTokenizer

    tokenizer = ClipTokenizer(directory / _VOCAB, meta["tokenizer"]["context_length"])
    return {"tokens": tokenizer(_CHECK_TEXTS).astype(np.int64)}


def quantize_tower(directory: Path, meta: dict[str, Any], tower: str = "image") -> dict[str, Any]:
    """Quantize an exported tower to int8 (dynamic: int8 weights, activations
    quantized per batch), check it against fp32 (cosine >= INT8_MIN_COSINE on the
    check images or texts), and record the outcome beside it. Returns the record;
    its "ok" says whether the int8 file may be used."""
    import onnxruntime as ort
    from onnxruntime.quantization import QuantType, quantize_dynamic

    source, target, note = _int8_names(tower)
    ops = INT8_OPS[tower]
    start = time.monotonic()
    suffix = f".tmp-{os.getpid()}-{threading.get_ident()}"
    work = directory / (target + suffix)
    try:
        quantize_dynamic(
            str(directory / source), str(work), weight_type=QuantType.QInt8, op_types_to_quantize=ops,
        )
        inputs = _check_inputs(directory, meta, tower)
        outputs = []
        for path in (directory / source, work):
            session = ort.InferenceSession(str(path), _session_options(), providers=["CPUExecutionProvider"])
            outputs.append(np.asarray(session.run(None, inputs)[0]))
            del session
        cosine = float(_cosines(outputs[1], outputs[0]).min())
        ok = cosine >= INT8_MIN_COSINE
        record: dict[str, Any] = {
            "format": FORMAT, "source": meta["files"][source], "ok": ok, "min_cosine": cosine,
            "ops": ops, "seconds": round(time.monotonic() - start, 1),
        }
        if ok:
            os.replace(work, directory / target)
            record["file"] = _quick_digest(directory / target)
        written = directory / (note + suffix)
        written.write_text(json.dumps(record, indent=2), "utf-8")
        os.replace(written, directory / note)
    finally:
        work.unlink(missing_ok=True)
    return record


# -- inference ------------------------------------------------------------------


def _threads() -> int:
    try:
        chosen = int(settings.number("onnx_threads"))
    except ValueError:
        chosen = 0  # not a number: onnxruntime's own choice, as if unset
    if chosen > 0:
        return chosen
    # onnxruntime's own choice: one thread per physical core. Measured with
    # scripts/bench_engine.py on 2 cores: 2 threads encode 1.9x as fast as 1
    # (int8 103 against 53 photos/s at batch 8), so no core is held back for decoding.
    return 0


def _session_options() -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = _threads()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    # Idle intra-op threads sleep instead of spinning: while indexing, the decode
    # threads need those cores between batches (scripts/bench_index.py, ViT-B-32-256
    # int8, batch 8, 277 photos on 2 cores: 28.1-28.7 photos/s against 23.2-26.0 spinning).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


class OnnxTowers:
    """The two exported towers; each session is created on first use, so a text
    search never loads the image tower (and the reverse).

    precision "int8" runs each tower quantized (made and checked on its first
    use, then cached); "fp32" runs the exported files as they are.
    """

    def __init__(self, directory: Path, meta: dict[str, Any], precision: str = "fp32") -> None:
        self.directory = directory
        self.meta = meta
        self.precision = precision
        self.precisions: dict[str, str] = {}  # what each tower runs in, once loaded
        self.dim = int(meta.get("dim", 0))
        self.image_size = int(meta["image_size"])
        self.preprocess = make_preprocess(meta)
        self._sessions: dict[str, Any] = {}
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    def _session(self, name: str) -> Any:
        session = self._sessions.get(name)
        if session is not None:
            return session
        with self._lock:
            if name not in self._sessions:
                import onnxruntime as ort

                path = self._tower_file("image" if name == _IMAGE else "text")
                self._sessions[name] = ort.InferenceSession(
                    str(path), _session_options(), providers=["CPUExecutionProvider"]
                )
            return self._sessions[name]

    def _tower_file(self, tower: str) -> Path:
        """The int8 tower when asked for and it passed its check; else fp32."""
        source, target, _ = _int8_names(tower)
        self.precisions[tower] = "fp32"
        record = self.int8_record(tower)
        if record is None or not record["ok"]:
            return self.directory / source
        self.precisions[tower] = "int8"
        return self.directory / target

    def int8_record(self, tower: str) -> dict[str, Any] | None:
        """The tower's int8 record, made now if missing; None when int8 is not
        asked for or cannot be made."""
        if self.precision != "int8" or (tower == "text" and not self.has_tokenizer):
            return None
        record = read_int8(self.directory, self.meta, tower)
        if record is None:
            log.warning("Preparing the int8 %s tower (once per model)...", tower)
            try:
                record = quantize_tower(self.directory, self.meta, tower)
            except Exception as exc:  # onnxruntime.quantization raises many kinds
                log.warning("Could not quantize the %s tower (%s: %s); it runs in fp32.",
                            tower, type(exc).__name__, exc)
                return None
            log.warning("int8 %s tower %s in %.0fs (cosine to fp32 >= %.4f).", tower,
                        "ready" if record["ok"] else "refused", record["seconds"], record["min_cosine"])
        return record

    @property
    def has_tokenizer(self) -> bool:
        return self.meta.get("tokenizer") is not None

    def tokenize(self, texts: Sequence[str]) -> np.ndarray:
        if self._tokenizer is None:
            from glimpse.core.encoding.tokenizer import ClipTokenizer

            cfg = self.meta["tokenizer"]
            self._tokenizer = ClipTokenizer(self.directory / _VOCAB, cfg["context_length"])
        return self._tokenizer(texts)

    def encode_images(self, pixels: np.ndarray) -> np.ndarray:
        """Raw (unnormalised) image embeddings of a preprocessed float32 batch."""
        session = self._session(_IMAGE)
        return np.asarray(session.run(None, {"pixels": np.ascontiguousarray(pixels, np.float32)})[0])

    def run_text(self, tokens: np.ndarray) -> np.ndarray:
        session = self._session(_TEXT)
        return np.asarray(session.run(None, {"tokens": tokens.astype(np.int64, copy=False)})[0])

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        return self.run_text(self.tokenize(texts))

    def load_check(self, tower: str) -> None:
        """Create a tower's session now (raises if the file is unusable)."""
        self._session(_IMAGE if tower == "image" else _TEXT)

    def close(self) -> None:
        self._sessions.clear()
