"""OpenCLIP models: parse the user's choice, pick a device, load, encode.

A model is named `ARCH[:TAG]` (an open_clip pretrained tag), `ARCH:/path/to/
checkpoint` (a local file), or `ARCH:random` (random weights, for offline
benchmarks and tests only). Its *model id* names the vectors it makes: the
catalog keeps vectors of different models apart by that id.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from glimpse.core import settings
from glimpse.core.encoding.presets import PRESETS
from glimpse.core.errors import ModelLoadError

if TYPE_CHECKING:  # numpy is imported where it is used: every CLI command imports this
    # module (for download progress), and a search the service answers needs no numpy
    import numpy as np

log = logging.getLogger(__name__)

# ViT-B-32 on LAION-2B: the best-known small CLIP; ~88M image-tower params, so
# it encodes a few photos a second on a laptop CPU and hundreds on a GPU.
DEFAULT_MODEL = "ViT-B-32:laion2b_s34b_b79k"
RANDOM_TAG = "random"
MODEL_ENV = settings.setting("model").env
TINY_TEST_ARCH = "GlimpseTiny"

_CONFIG_DIR = Path(__file__).parent / "model_configs"
_register_lock = threading.Lock()
_registered = False


def register_bundled_configs() -> None:
    """Make the bundled architectures (the tiny self-test model) known to open_clip."""
    global _registered
    with _register_lock:
        if _registered:
            return
        import open_clip

        open_clip.add_model_config(_CONFIG_DIR)
        _registered = True


# Architectures registered from a config file found beside a checkpoint, by
# name: a later checkpoint of the same name brings its own config again.
_checkpoint_configs: dict[str, Path] = {}
# Image preprocessing an open_clip_config.json asks for (mean, std, ...), by name.
_checkpoint_preprocess: dict[str, dict[str, Any]] = {}
_config_copies: tempfile.TemporaryDirectory[str] | None = None
HF_CONFIG_NAME = "open_clip_config.json"  # as in Hugging Face open_clip repositories
_CONFIG_KEYS = ("embed_dim", "vision_cfg", "text_cfg")
_PREPROCESS_ARGS = {
    "mean": "image_mean",
    "std": "image_std",
    "interpolation": "image_interpolation",
    "resize_mode": "image_resize_mode",
}


def register_checkpoint_config(arch: str, checkpoint: Path) -> Path:
    """Make `arch` known to open_clip from a config file beside its checkpoint.

    A model trained with a custom architecture (or downloaded from a Hugging
    Face open_clip repository) ships its config next to the weights; without
    this, only architectures built into open_clip could be loaded from a file.
    Looks for `<arch>.json` (an open_clip model config), then
    `open_clip_config.json` (whose "model_cfg" holds one). Returns the file used.
    """
    import open_clip

    folder = checkpoint.parent
    own, hf = folder / f"{arch}.json", folder / HF_CONFIG_NAME
    preprocess: dict[str, Any] = {}
    if own.is_file():
        source, cfg = own, _read_config(own)
    elif hf.is_file():
        data = _read_json(hf)
        found = data.get("model_cfg") if isinstance(data, dict) else None
        if not isinstance(found, dict):
            raise ModelLoadError(f"{hf} has no \"model_cfg\" section describing the architecture.")
        _check_config(found, hf)
        source, cfg = hf, found
        if isinstance(data.get("preprocess_cfg"), dict):
            preprocess = data["preprocess_cfg"]
    else:
        raise ModelLoadError(
            f"Unknown model architecture '{arch}', and no {own.name} or {hf.name} beside "
            f"{checkpoint} describes it. Put the model's open_clip config there, or choose "
            "an architecture `glimpse models` lists."
        )
    global _config_copies
    with _register_lock:
        if source == own:
            open_clip.add_model_config(own)
        else:
            # open_clip names a config by its file stem, so the model_cfg is
            # copied to `<arch>.json` in a folder that lives as long as we do.
            if _config_copies is None:
                _config_copies = tempfile.TemporaryDirectory(prefix="glimpse-configs-")
            copy = Path(_config_copies.name) / f"{arch}.json"
            copy.write_text(json.dumps(cfg), encoding="utf-8")
            open_clip.add_model_config(copy)
        _checkpoint_configs[arch] = source
        _checkpoint_preprocess[arch] = {
            _PREPROCESS_ARGS[k]: v for k, v in preprocess.items() if k in _PREPROCESS_ARGS
        }
    log.info("Architecture %s registered from %s", arch, source)
    return source


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelLoadError(f"Model config {path} cannot be read: {exc}.") from exc


def _read_config(path: Path) -> dict[str, Any]:
    cfg = _read_json(path)
    _check_config(cfg, path)
    return cfg


def _check_config(cfg: Any, path: Path) -> None:
    # open_clip silently skips a file without these keys; say so instead.
    missing = [k for k in _CONFIG_KEYS if not isinstance(cfg, dict) or k not in cfg]
    if missing:
        raise ModelLoadError(
            f"{path} is not an open_clip model config: it lacks {', '.join(missing)}."
        )


@dataclass(frozen=True)
class ModelSpec:
    arch: str
    tag: str | None = None  # open_clip pretrained tag, or RANDOM_TAG
    checkpoint: Path | None = None

    @classmethod
    def parse(cls, text: str | None) -> ModelSpec:
        """`ViT-B-32`, `ViT-B-32:openai`, `ViT-B-32:/x/model.bin`, `ViT-B-32:random`,
        or a preset's name (`fast`, `balanced`, `best`, `multilingual`)."""
        text = (text or settings.text("model") or DEFAULT_MODEL).strip()
        text = next((p.model for p in PRESETS if p.key == text.lower()), text)
        arch, sep, rest = text.partition(":")
        if not arch:
            raise ModelLoadError(f"'{text}' names no architecture; try e.g. {DEFAULT_MODEL}.")
        if not sep or not rest:
            return cls(arch, tag=_default_tag(arch))
        if _looks_like_path(rest):
            return cls(arch, checkpoint=Path(rest).expanduser().resolve())
        return cls(arch, tag=rest)

    @property
    def is_random(self) -> bool:
        return self.tag == RANDOM_TAG

    @property
    def model_id(self) -> str:
        """Stable name for the vectors: a checkpoint is named by its content hash,
        so moving the file keeps the index and replacing it rebuilds it."""
        if self.checkpoint is not None:
            return f"{self.arch}:sha256-{checkpoint_digest(self.checkpoint)[:16]}"
        return f"{self.arch}:{self.tag or 'none'}"

    def __str__(self) -> str:
        if self.checkpoint is not None:
            return f"{self.arch}:{self.checkpoint}"
        return f"{self.arch}:{self.tag}" if self.tag else self.arch


def _looks_like_path(text: str) -> bool:
    return text.startswith(("/", "~", ".", "\\")) or os.sep in text or (
        len(text) > 2 and text[1] == ":" and text[2] in "/\\"  # C:\models\x.bin
    ) or text.endswith((".bin", ".pt", ".pth", ".safetensors"))


def _default_tag(arch: str) -> str | None:
    if arch == TINY_TEST_ARCH:
        return RANDOM_TAG
    default_arch, _, default_tag = DEFAULT_MODEL.partition(":")
    if arch == default_arch:
        return default_tag  # known without importing open_clip (and torch)
    import open_clip

    register_bundled_configs()
    tags = [tag for a, tag in open_clip.list_pretrained() if a == arch]
    return tags[0] if tags else None


@lru_cache(maxsize=16)
def _digest_cached(path: str, size: int, mtime_ns: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def checkpoint_digest(path: Path) -> str:
    try:
        st = path.stat()
    except OSError as exc:
        raise ModelLoadError(f"Checkpoint {path} cannot be read: {exc.strerror}.") from exc
    return _digest_cached(str(path), st.st_size, st.st_mtime_ns)


def choose_device(preference: str = "auto") -> str:
    """CUDA, then Apple MPS, then CPU, unless the user says otherwise."""
    import torch

    preference = (preference or "auto").lower()
    if preference in ("gpu", "cuda"):
        if torch.cuda.is_available():
            return "cuda"
        mps = getattr(torch.backends, "mps", None)
        if preference == "gpu" and mps is not None and mps.is_available():
            return "mps"
        raise ModelLoadError("No usable GPU was found; choose device 'auto' or 'cpu'.")
    if preference == "mps":
        return "mps"
    if preference == "cpu":
        return "cpu"
    if preference != "auto":
        raise ModelLoadError(f"Unknown device '{preference}'; use auto, cpu, cuda or mps.")
    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def list_models() -> list[tuple[str, str]]:
    """(architecture, pretrained tag) pairs that open_clip knows how to fetch."""
    import open_clip

    register_bundled_configs()
    return [(arch, tag) for arch, tag in open_clip.list_pretrained()]


# int8 (default): ONNX Runtime runs both towers quantized: images encode 2.7x as
# fast, a cold search loads its tower 3x as fast, within cosine 0.99 of fp32
# (onnx_engine); fp32: as exported. torch ignores it.
PRECISION_ENV = settings.setting("precision").env


def gpu_possible() -> bool:
    """Could torch find a GPU here? Answered without importing torch (seconds):
    no NVIDIA device node and not Apple silicon means no."""
    import platform
    import sys

    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return False
    if sys.platform == "darwin":
        return platform.machine() == "arm64"
    if sys.platform == "win32":
        root = os.environ.get("SystemRoot", r"C:\Windows")
        return os.path.exists(os.path.join(root, "System32", "nvcuda.dll"))
    return any(os.path.exists(p) for p in ("/dev/nvidiactl", "/dev/nvidia0", "/dev/dxg"))


class Encoder:
    """A model: preprocessing, batched image encoding, text encoding.

    Outputs are float32 numpy arrays with unit L2 norm, so inner product is cosine.

    Nothing is loaded until it is needed: creating an Encoder is free, a text
    query loads only the text tower, an image batch only the image tower. On a
    CPU the towers run in ONNX Runtime (exported once, see onnx_engine); on a
    GPU, or when the export fails, they run in torch.
    """

    def __init__(
        self,
        spec: ModelSpec,
        device: str = "auto",
        cache_dir: Path | None = None,
        engine: str | None = None,
        precision: str | None = None,
    ):
        self.spec = spec
        self.model_id = spec.model_id  # a missing checkpoint fails here, at once
        self.cache_dir = cache_dir
        self._device_pref = (device or "auto").lower()
        # auto: ONNX Runtime on a CPU, torch on GPUs; onnx; torch.
        self._engine_pref = (engine or settings.text("engine") or "auto").lower()
        self.precision = (precision or settings.text("precision") or "int8").lower()
        if self.precision not in ("int8", "fp32"):
            raise ModelLoadError(f"Unknown precision '{self.precision}'; use int8 or fp32.")
        self._lock = threading.RLock()
        self._device: str | None = None
        self._engine: str | None = None
        self._onnx: Any = None  # OnnxTowers
        self._loaded: tuple[Any, Callable, Callable] | None = None  # torch model, preprocess, tokenizer
        self._torch: Any = None
        self.dtype: Any = None

    # -- what runs where ----------------------------------------------------

    @property
    def device(self) -> str:
        if self._device is None:
            pref = self._device_pref
            if pref == "auto" and (self._engine_pref == "onnx" or not gpu_possible()):
                self._device = "cpu"
            else:
                self._device = choose_device(pref)
        return self._device

    @property
    def engine(self) -> str:
        """'onnx' or 'torch'; decided (and the ONNX export made) on first use."""
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    self._engine = self._choose_engine()
        return self._engine

    def _choose_engine(self) -> str:
        from glimpse.core.encoding import onnx_engine

        if self._engine_pref == "torch" or self.device != "cpu":
            return "torch"
        if not onnx_engine.available():
            log.info("onnxruntime is not installed; %s runs in torch.", self.spec)
            return "torch"
        directory = onnx_engine.export_dir(self.model_id, onnx_engine.cache_root())
        meta = onnx_engine.read_meta(directory, self.model_id)
        if meta is None:
            meta = self._export(directory)
            if meta is None:
                return "torch"
        self._onnx = onnx_engine.OnnxTowers(directory, meta, self.precision)
        return "onnx"

    def _export(self, directory: Path) -> dict | None:
        from glimpse.core.encoding import onnx_engine

        log.warning(
            "Preparing %s for ONNX Runtime (once per model; this takes a little while)...",
            self.spec,
        )
        model, preprocess, tokenizer = self._torch_parts()  # a bad model fails here, loudly
        try:
            meta = onnx_engine.export(model, preprocess, tokenizer, self.model_id, directory)
        except Exception as exc:
            log.warning(
                "Could not use ONNX Runtime for %s (%s: %s); using torch on the CPU instead.",
                self.spec, type(exc).__name__, exc,
            )
            return None
        self._loaded = None  # the torch model was only needed for the export
        fid = meta["fidelity"]
        log.warning(
            "ONNX export ready in %.0fs (matches torch: cosine >= %.5f).",
            meta["export_seconds"], min(fid["image_min_cosine"], fid["text_min_cosine"]),
        )
        if self.precision == "int8":  # now, with the export, rather than in a first search
            towers = onnx_engine.OnnxTowers(directory, meta, self.precision)
            for tower in ("image", "text"):
                towers.int8_record(tower)
        return meta

    def _rebuild_onnx(self, exc: Exception) -> None:
        """A cached export that will not load is rebuilt once; then torch takes over."""
        from glimpse.core.encoding import onnx_engine

        log.warning("The ONNX export of %s could not be loaded (%s); rebuilding it.", self.spec, exc)
        directory = self._onnx.directory
        meta = self._export(directory)
        if meta is None:
            self._onnx, self._engine = None, "torch"
        else:
            self._onnx = onnx_engine.OnnxTowers(directory, meta, self.precision)

    def _onnx_call(self, tower: str, fn: Callable[[Any], np.ndarray]) -> np.ndarray | None:
        """Run fn on the ONNX towers, rebuilding a broken export once; None means use torch."""
        if self.engine != "onnx":
            return None
        try:
            self._onnx.load_check(tower)
        except Exception as exc:  # onnxruntime raises its own kinds for unreadable files
            with self._lock:
                self._rebuild_onnx(exc)
            if self._engine != "onnx":
                return None
        return fn(self._onnx)

    def prepare(self) -> Encoder:
        """Make sure the model can be used (export it or load it now), so errors show
        early; loads no ONNX tower yet."""
        if self.engine == "torch":
            self._torch_parts()
        return self

    def _torch_parts(self) -> tuple[Any, Callable, Callable]:
        if self._loaded is None:
            with self._lock:
                if self._loaded is None:
                    import torch

                    self._torch = torch
                    device = self.device
                    model, preprocess, tokenizer = _load(self.spec, device, self.cache_dir)
                    # fp16 halves memory and roughly doubles throughput on GPUs; CPUs gain nothing.
                    self.dtype = torch.float16 if device in ("cuda", "mps") else torch.float32
                    if self.dtype == torch.float16:
                        model = model.half()
                    model.eval()
                    self._loaded = (model, preprocess, tokenizer)
        return self._loaded

    @property
    def batch_size(self) -> int:
        """Photos per model call when indexing. ONNX Runtime on a CPU: 8, measured
        fastest (scripts/bench_engine.py, ViT-B-32-256 int8 on 2 cores: 103 photos/s
        at 8, 99 at 16, 90 at 32; the whole pipeline, scripts/bench_index.py: 28.1
        against 25.7 at 32). torch: 32, which keeps a GPU busy."""
        return 8 if self.engine == "onnx" else 32

    @property
    def model(self) -> Any:
        """The torch model (loads torch); the ONNX engine does not need it."""
        return self._torch_parts()[0]

    @property
    def tokenizer(self) -> Callable:
        return self._torch_parts()[2]

    @property
    def preprocess(self) -> Callable:
        """PIL image -> what encode_images takes (a numpy array for ONNX, a tensor for torch)."""
        if self.engine == "onnx":
            return self._onnx.preprocess
        return self._torch_parts()[1]

    @property
    def image_size(self) -> int:
        if self.engine == "onnx":
            return int(self._onnx.image_size)
        size = self.model.visual.image_size
        return int(size[0] if isinstance(size, (tuple, list)) else size)

    @property
    def dim(self) -> int:
        if self.engine == "onnx" and self._onnx.dim:
            return int(self._onnx.dim)
        model = self.model
        # Asked once per model and library: the catalog remembers it.
        torch = self._torch
        with torch.inference_mode():
            return int(model.encode_text(self.tokenizer(["probe"]).to(self.device)).shape[-1])

    # -- encoding -------------------------------------------------------------

    def encode_images(self, batch: Sequence[object] | object) -> np.ndarray:
        """Encode a batch of preprocessed images (an array/tensor [B,3,H,W], or a list of them)."""
        out = self._onnx_call("image", lambda t: t.encode_images(_as_numpy_batch(batch)))
        if out is not None:
            return _normalise(out)
        import numpy as np

        model = self.model
        torch = self._torch
        if isinstance(batch, np.ndarray):
            tensor = torch.from_numpy(batch)
        elif isinstance(batch, torch.Tensor):
            tensor = batch
        else:
            items = [torch.from_numpy(b) if isinstance(b, np.ndarray) else b for b in batch]  # type: ignore[attr-defined]
            tensor = torch.stack(items)
        # No lock: an inference-mode forward pass changes nothing in the model,
        # so a search's text encoding runs beside an indexing batch instead of
        # waiting for it (a 32-photo batch takes seconds on a CPU).
        with torch.inference_mode():
            out = model.encode_image(tensor.to(self.device, dtype=self.dtype))
            return _normalise(out.float().cpu().numpy())

    def encode_pil(self, images: Sequence[object]) -> np.ndarray:
        preprocess = self.preprocess
        return self.encode_images([preprocess(im) for im in images])

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if self.engine == "onnx" and self._onnx.has_tokenizer:
            out = self._onnx_call("text", lambda t: t.encode_texts(texts))
            if out is not None:
                return _normalise(out)
        model, _, tokenizer = self._torch_parts()
        torch = self._torch
        tokens = tokenizer(texts).to(self.device)
        with torch.inference_mode():
            out = model.encode_text(tokens)
            return _normalise(out.float().cpu().numpy())


def _as_numpy_batch(batch: Sequence[object] | object) -> np.ndarray:
    import numpy as np

    if isinstance(batch, np.ndarray):
        return batch
    if hasattr(batch, "numpy"):  # a torch tensor
        return batch.detach().cpu().float().numpy()  # type: ignore[attr-defined]
    return np.stack([b if isinstance(b, np.ndarray) else b.numpy() for b in batch])  # type: ignore[attr-defined, union-attr]


def _normalise(x: np.ndarray) -> np.ndarray:
    import numpy as np

    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return (x / np.maximum(norms, 1e-12)).astype(np.float32)


def _load(spec: ModelSpec, device: str, cache_dir: Path | None) -> tuple[Any, Callable, Callable]:
    import open_clip
    import torch

    register_bundled_configs()
    if spec.checkpoint is not None and not spec.checkpoint.is_file():
        raise ModelLoadError(f"Checkpoint file {spec.checkpoint} does not exist.")
    if spec.checkpoint is not None and (
        spec.arch not in open_clip.list_models() or spec.arch in _checkpoint_configs
    ):
        register_checkpoint_config(spec.arch, spec.checkpoint)
    if spec.arch not in open_clip.list_models():
        raise ModelLoadError(
            f"Unknown model architecture '{spec.arch}'. Run `glimpse models` to list them."
        )
    pretrained: str | None
    if spec.checkpoint is not None:
        pretrained = str(spec.checkpoint)
    elif spec.is_random or spec.tag is None:
        pretrained = None
        log.warning(
            "Model %s has RANDOM weights: search results will be meaningless. "
            "Use this only for tests and speed benchmarks.",
            spec.arch,
        )
    else:
        pretrained = spec.tag
    try:
        if pretrained is None:
            # Random weights must be the same on every run, or vectors stored
            # yesterday would not match today's queries.
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(0)
                model, _, preprocess = open_clip.create_model_and_transforms(
                    spec.arch, pretrained=None, device=device
                )
        else:
            model, preprocess = _create_pretrained(spec.arch, pretrained, device, cache_dir)
        model = prepare_for_inference(model, spec.arch)
        tokenizer = _tokenizer(spec)
    except ModelLoadError:
        raise
    except Exception as exc:  # open_clip raises many kinds; all mean "cannot load"
        raise ModelLoadError(_load_failure_message(spec, exc)) from exc
    return model, preprocess, tokenizer


TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json")


def _tokenizer(spec: ModelSpec) -> Callable:
    """The model's tokenizer, without a surprise trip to the network.

    CLIP's own BPE vocabulary ships inside open_clip. Multilingual models
    (SigLIP i18n, NLLB, XLM-R) use a Hugging Face tokenizer instead; a user who
    downloaded such a checkpoint by hand keeps its tokenizer files beside it,
    and those are used, so the model works offline. Otherwise the hub cache is
    tried first and the hub itself only when it can be reached.
    """
    import open_clip

    text_cfg = (open_clip.get_model_config(spec.arch) or {}).get("text_cfg", {})
    hub_name = text_cfg.get("hf_tokenizer_name")
    if not hub_name:
        return open_clip.get_tokenizer(spec.arch)
    if spec.checkpoint is not None and any(
        (spec.checkpoint.parent / name).is_file() for name in TOKENIZER_FILES
    ):
        from open_clip.tokenizer import HFTokenizer

        return HFTokenizer(
            str(spec.checkpoint.parent),
            context_length=text_cfg.get("context_length", 77),
            tokenizer_mode=text_cfg.get("tokenizer_mode"),
            **text_cfg.get("tokenizer_kwargs", {}),
        )
    try:
        with _hub_offline():
            return open_clip.get_tokenizer(spec.arch)
    except Exception as cached_failure:
        if spec.checkpoint is not None or not hub_reachable():
            raise ModelLoadError(
                f"{spec.arch} needs its tokenizer ({hub_name}), which is not on this computer. "
                f"Download tokenizer.json and tokenizer_config.json from the model's Hugging Face "
                f"page ({hub_name}) and put them beside the checkpoint file."
            ) from cached_failure
    return open_clip.get_tokenizer(spec.arch)


def prepare_for_inference(model: Any, arch: str) -> Any:
    """Put a freshly built model in the form its authors prescribe for inference.

    MobileCLIP's MobileOne/FastViT blocks train with parallel branches that fold
    into single convolutions for inference (Apple's README: timm's
    reparameterize_model); unfolded, the image tower is markedly slower and the
    outputs are the same.
    """
    if arch.startswith("MobileCLIP"):
        from timm.utils import reparameterize_model

        model = reparameterize_model(model)
    return model.eval()


def _create_pretrained(
    arch: str, pretrained: str, device: str, cache_dir: Path | None
) -> tuple[Any, Callable]:
    """Load from the local cache first; go online only if the hub is reachable.

    Offline, huggingface_hub retries each file for most of a minute, which a
    user sees as a hang; a cache-only attempt plus a quick reachability probe
    turns that into an immediate, actionable error.
    """
    import open_clip

    def create() -> tuple[Any, Callable]:
        model, _, preprocess = open_clip.create_model_and_transforms(
            arch,
            pretrained=pretrained,
            device=device,
            cache_dir=str(cache_dir) if cache_dir else None,
            weights_only=True,
            **_checkpoint_preprocess.get(arch, {}),
        )
        return model, preprocess

    if Path(pretrained).is_file():
        return create()
    try:
        with _hub_offline():
            return create()
    except Exception as cached_failure:
        if not hub_reachable():
            raise ModelLoadError(_not_here_message(arch, pretrained)) from cached_failure
    # Our downloader (progress, resume, sha256 check) fills the hub cache; then load cache-only.
    from glimpse.core.encoding import downloads

    if downloads.fetch_pretrained(arch, pretrained, cache_dir, _download_progress) is not None:
        with _hub_offline():
            return create()
    return create()  # a tag hosted outside the hub: open_clip downloads it


def _not_here_message(arch: str, tag: str) -> str:
    return (
        f"The weights for {arch} ({tag}) are not on this computer and the "
        "model hub cannot be reached (no network?). " + _offline_advice(arch)
    )


# Where downloads report when the caller gave no callback (the CLI sets a
# progress line here once; the GUI calls ensure_weights with its own).
_download_progress: Callable[[Any], None] | None = None


def set_download_progress(callback: Callable[[Any], None] | None) -> None:
    global _download_progress
    _download_progress = callback


def ensure_weights(
    spec: ModelSpec,
    cache_dir: Path | None = None,
    progress: Callable[[Any], None] | None = None,
    token: Any = None,
) -> Path | None:
    """Download a pretrained tag's weights, with progress and cancel, before loading.

    Returns the downloaded file, or None when there was nothing to download
    (a local checkpoint, random weights, weights already cached, a tag not on
    the hub). Offline, says so at once with the manual alternative.
    """
    if spec.checkpoint is not None or spec.is_random or spec.tag is None:
        return None
    from glimpse.core.encoding import downloads

    register_bundled_configs()
    located = downloads.hub_repo_for(spec.arch, spec.tag)
    if located is None or downloads.is_cached(*located, cache_dir):
        return None
    if downloads.offline() or not hub_reachable():
        raise ModelLoadError(_not_here_message(spec.arch, spec.tag))
    return downloads.download(downloads.resolve(*located), cache_dir, progress, token)


class _hub_offline:
    """Temporarily put huggingface_hub in offline (cache-only) mode."""

    def __enter__(self) -> None:
        import huggingface_hub.constants as hub

        self._hub, self._old = hub, hub.HF_HUB_OFFLINE
        hub.HF_HUB_OFFLINE = True

    def __exit__(self, *exc: object) -> None:
        self._hub.HF_HUB_OFFLINE = self._old


def hub_reachable(host: str | None = None, timeout: float = 3.0) -> bool:
    """A quick TCP probe of the hub (HF_ENDPOINT's host when set)."""
    import socket
    from urllib.parse import urlsplit

    from glimpse.core.encoding import downloads

    url = urlsplit(downloads.endpoint())
    port = url.port or (80 if url.scheme == "http" else 443)
    try:
        with socket.create_connection((host or url.hostname or "huggingface.co", port), timeout=timeout):
            return True
    except OSError:
        return False


def _offline_advice(arch: str) -> str:
    return (
        "Download the checkpoint file on another machine (open_clip_pytorch_model.bin "
        "from the model's Hugging Face page) and choose it with "
        f"--model {arch}:/path/to/open_clip_pytorch_model.bin (or the GLIMPSE_MODEL "
        "environment variable, or Settings > Model in the app)."
    )


def _load_failure_message(spec: ModelSpec, exc: Exception) -> str:
    if spec.checkpoint is not None:
        return (
            f"Could not load checkpoint {spec.checkpoint} as {spec.arch}: {exc}. "
            "Check that the file is an open_clip/CLIP checkpoint for this architecture."
        )
    return (
        f"Could not load the weights for {spec.arch} ({spec.tag}): {type(exc).__name__}: {exc}. "
        + _offline_advice(spec.arch)
    )
