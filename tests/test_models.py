"""Model specs, loading (random, local checkpoint, offline failure), encoding."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import torch

from glimpse.core.encoding import encoder as models
from glimpse.core.encoding.encoder import DEFAULT_MODEL, Encoder, ModelSpec
from glimpse.core.errors import ModelLoadError


def test_parse_specs(tmp_path: Path) -> None:
    assert ModelSpec.parse("ViT-B-32:openai") == ModelSpec("ViT-B-32", tag="openai")
    assert ModelSpec.parse("ViT-B-32:random").is_random
    ckpt = tmp_path / "m.bin"
    assert ModelSpec.parse(f"ViT-B-32:{ckpt}") == ModelSpec("ViT-B-32", checkpoint=ckpt)
    assert ModelSpec.parse("ViT-B-32:./m.safetensors").checkpoint is not None
    assert str(ModelSpec.parse(None)) == DEFAULT_MODEL
    assert ModelSpec.parse("GlimpseTiny").is_random  # the bundled test model has no weights to fetch


def test_env_variable_chooses_model(monkeypatch) -> None:
    monkeypatch.setenv("GLIMPSE_MODEL", "RN50:openai")
    assert ModelSpec.parse(None) == ModelSpec("RN50", tag="openai")


def test_tiny_model_encodes_unit_vectors_deterministically(tiny_model_name: str) -> None:
    from PIL import Image

    enc = Encoder(ModelSpec.parse(tiny_model_name), device="cpu")
    img = enc.encode_pil([Image.new("RGB", (50, 40), "red"), Image.new("RGB", (40, 50), "blue")])
    txt = enc.encode_texts(["a red square", "a blue square", "ünïcödé"])
    assert img.shape == (2, enc.dim) and txt.shape == (3, enc.dim)
    assert np.allclose(np.linalg.norm(img, axis=1), 1, atol=1e-5)
    assert np.allclose(np.linalg.norm(txt, axis=1), 1, atol=1e-5)
    # Random weights are seeded: tomorrow's queries must match today's stored vectors.
    # (The same batch: int8 towers quantize activations per batch, so a vector
    # moves slightly, within cosine 0.99, with the other items of its batch.)
    again = Encoder(ModelSpec.parse(tiny_model_name), device="cpu")
    assert np.allclose(again.encode_texts(["a red square", "a blue square", "ünïcödé"]), txt)


def test_local_checkpoint_loads_and_is_named_by_content(tmp_path: Path, tiny_model_name: str) -> None:
    source = Encoder(ModelSpec.parse(tiny_model_name), device="cpu", engine="torch")
    # Perturb the weights so the checkpoint differs from the random init.
    with torch.no_grad():
        for p in source.model.parameters():
            p.add_(0.01)
    ckpt = tmp_path / "tiny.pt"
    torch.save(source.model.state_dict(), ckpt)
    spec = ModelSpec.parse(f"GlimpseTiny:{ckpt}")
    loaded = Encoder(spec, device="cpu", precision="fp32")  # exact; int8 is tested in test_onnx_engine
    assert np.allclose(loaded.encode_texts(["hello"]), source.encode_texts(["hello"]), atol=1e-5)
    assert spec.model_id.startswith("GlimpseTiny:sha256-")
    # The same bytes elsewhere keep the id (the index survives moving the file).
    moved = tmp_path / "elsewhere.pt"
    moved.write_bytes(ckpt.read_bytes())
    assert ModelSpec.parse(f"GlimpseTiny:{moved}").model_id == spec.model_id


def test_missing_or_broken_checkpoint_gives_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="nope.pt (cannot be read|does not exist)"):
        Encoder(ModelSpec.parse(f"GlimpseTiny:{tmp_path / 'nope.pt'}"))
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ModelLoadError, match="Could not load checkpoint"):
        Encoder(ModelSpec.parse(f"GlimpseTiny:{bad}")).prepare()


def test_unknown_architecture() -> None:
    with pytest.raises(ModelLoadError, match="Unknown model architecture"):
        Encoder(ModelSpec.parse("NoSuchNet:foo")).prepare()


def test_offline_first_download_fails_fast_with_advice(monkeypatch) -> None:
    monkeypatch.setattr(models, "hub_reachable", lambda *a, **k: False)
    start = time.monotonic()
    with pytest.raises(ModelLoadError) as err:
        Encoder(ModelSpec.parse("ViT-B-32:laion2b_s34b_b79k"), device="cpu").prepare()
    assert time.monotonic() - start < 60  # no minute-long retry loop
    message = str(err.value)
    assert "cannot be reached" in message and "--model ViT-B-32:/path/to/" in message


def test_device_choice() -> None:
    assert models.choose_device("cpu") == "cpu"
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    if not torch.cuda.is_available() and getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        expected = "mps"
    assert models.choose_device("auto") == expected
    with pytest.raises(ModelLoadError):
        models.choose_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ModelLoadError, match="No usable GPU"):
            models.choose_device("cuda")
