"""A checkpoint of an architecture open_clip does not know loads from the config beside it."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from glimpse.core.encoding.encoder import Encoder, ModelSpec
from glimpse.core.errors import ModelLoadError


def _config() -> dict[str, Any]:
    # Unlike the bundled GlimpseTiny (32 px, 77 tokens, 32-d vectors), so a
    # model that loads with these sizes proves the config beside it was used.
    return {
        "embed_dim": 24,
        "vision_cfg": {"image_size": 40, "layers": 1, "width": 32, "head_width": 16, "patch_size": 8},
        "text_cfg": {"context_length": 20, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
    }


def _unique_arch() -> str:
    # open_clip's registry is process-wide: a fresh name per test keeps each one honest.
    return f"TestNet{uuid.uuid4().hex[:8]}"


def _save_model(folder: Path, cfg: dict[str, Any]) -> tuple[Path, torch.nn.Module]:
    import open_clip

    torch.manual_seed(7)
    model = open_clip.CLIP(**cfg).eval()
    folder.mkdir(parents=True, exist_ok=True)
    ckpt = folder / "weights.pt"
    torch.save(model.state_dict(), ckpt)
    return ckpt, model


def _text_vector(model: torch.nn.Module, text: str, context_length: int) -> np.ndarray:
    import open_clip

    with torch.inference_mode():
        out = model.encode_text(open_clip.tokenize([text], context_length=context_length), normalize=True)
    return out.numpy()


def test_config_named_after_the_architecture_is_used(tmp_path: Path) -> None:
    arch, cfg = _unique_arch(), _config()
    ckpt, source = _save_model(tmp_path / "model", cfg)
    (ckpt.parent / f"{arch}.json").write_text(json.dumps(cfg), encoding="utf-8")

    enc = Encoder(ModelSpec.parse(f"{arch}:{ckpt}"), device="cpu", precision="fp32")  # exact
    assert (enc.image_size, enc.dim) == (40, 24)
    assert enc.tokenizer(["a dog"]).shape[-1] == 20  # the config's context length, not 77
    assert np.allclose(enc.encode_texts(["a dog on a beach"]), _text_vector(source, "a dog on a beach", 20), atol=1e-5)
    from PIL import Image

    vectors = enc.encode_pil([Image.new("RGB", (64, 48), "green")])
    assert vectors.shape == (1, 24)


def test_hugging_face_open_clip_config_is_used_with_its_preprocessing(tmp_path: Path) -> None:
    arch, cfg = _unique_arch(), _config()
    ckpt, source = _save_model(tmp_path / "hf-repo", cfg)
    hf = {"model_cfg": cfg, "preprocess_cfg": {"mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]}}
    (ckpt.parent / "open_clip_config.json").write_text(json.dumps(hf), encoding="utf-8")

    enc = Encoder(ModelSpec.parse(f"{arch}:{ckpt}"), device="cpu", precision="fp32")  # exact
    enc.prepare()
    assert enc.dim == 24
    assert np.allclose(enc.encode_texts(["two cats"]), _text_vector(source, "two cats", 20), atol=1e-5)
    # A mid-grey image is exactly the config's mean, so it normalises to zeros
    # (with open_clip's default CLIP mean it would not).
    from PIL import Image

    pixels = enc.preprocess(Image.new("RGB", (40, 40), (128, 128, 128)))
    assert float(np.abs(np.asarray(pixels)).max()) < 0.02


def test_checkpoint_without_a_config_says_what_is_missing(tmp_path: Path) -> None:
    arch = _unique_arch()
    ckpt, _ = _save_model(tmp_path / "bare", _config())
    with pytest.raises(ModelLoadError, match=rf"'{arch}'.*no {arch}\.json or open_clip_config\.json beside"):
        Encoder(ModelSpec.parse(f"{arch}:{ckpt}"), device="cpu").prepare()


def test_broken_configs_give_clear_errors(tmp_path: Path) -> None:
    arch = _unique_arch()
    ckpt, _ = _save_model(tmp_path / "m", _config())
    own = ckpt.parent / f"{arch}.json"
    own.write_text('{"embed_dim": 24, "text_cfg": {}}', encoding="utf-8")
    with pytest.raises(ModelLoadError, match="not an open_clip model config: it lacks vision_cfg"):
        Encoder(ModelSpec.parse(f"{arch}:{ckpt}"), device="cpu").prepare()
    own.write_text("{not json", encoding="utf-8")
    with pytest.raises(ModelLoadError, match="cannot be read"):
        Encoder(ModelSpec.parse(f"{arch}:{ckpt}"), device="cpu").prepare()
    own.unlink()
    (ckpt.parent / "open_clip_config.json").write_text('{"preprocess_cfg": {}}', encoding="utf-8")
    with pytest.raises(ModelLoadError, match="no \"model_cfg\" section"):
        Encoder(ModelSpec.parse(f"{arch}:{ckpt}"), device="cpu").prepare()


def test_missing_checkpoint_of_unknown_architecture(tmp_path: Path) -> None:
    arch = _unique_arch()
    with pytest.raises(ModelLoadError, match="(cannot be read|does not exist)"):
        Encoder(ModelSpec.parse(f"{arch}:{tmp_path / 'gone.pt'}"), device="cpu").prepare()


def test_architecture_is_not_known_without_its_checkpoint(tmp_path: Path) -> None:
    # Registration follows the checkpoint: the name alone still is unknown.
    with pytest.raises(ModelLoadError, match="Unknown model architecture"):
        Encoder(ModelSpec.parse(f"{_unique_arch()}:random"), device="cpu").prepare()
