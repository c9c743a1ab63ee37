"""The ONNX Runtime engine: same vectors as torch, a reused export, repair, fallback."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pytest

from conftest import SHARED, TINY_MODEL, make_photo
from glimpse.core.encoding import onnx_engine
from glimpse.core.encoding.encoder import Encoder, ModelSpec
from glimpse.core.media import imaging

TEXTS = ["a dog", "Two DOGS playing in the snow!", "ünïcödé café &amp; more", "", "x " * 100]


def _engines(model: str = TINY_MODEL) -> tuple[Encoder, Encoder]:
    spec = ModelSpec.parse(model)
    onnx = Encoder(spec, device="cpu", engine="auto", precision="fp32")  # int8: its own tests below
    assert onnx.engine == "onnx"
    return onnx, Encoder(spec, device="cpu", engine="torch")


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=-1)  # both unit-norm


def test_tokenizer_matches_open_clip() -> None:
    import open_clip

    from glimpse.core.encoding.tokenizer import ClipTokenizer

    theirs = open_clip.get_tokenizer("ViT-B-32")
    ours = ClipTokenizer(Path(onnx_engine.tokenizer_vocab_path()))
    texts = TEXTS + ["東京の夜景", "it's <end_of_text> 3.14", "emoji 🐶", "mojibake Ã©", "  tabs\tand\nlines "]
    assert np.array_equal(ours(texts), theirs(texts).numpy())


def test_engines_agree_on_generated_photos_and_texts(tmp_path: Path) -> None:
    from PIL import Image

    onnx, torch_enc = _engines()
    photos = [make_photo(tmp_path / f"p{i}.png", seed=i, size=(120 + 7 * i, 90), fmt="PNG") for i in range(5)]
    images = [Image.open(p).convert("RGB") for p in photos]
    assert np.allclose(
        np.stack([onnx.preprocess(im) for im in images]),
        np.stack([torch_enc.preprocess(im).numpy() for im in images]), atol=1e-5,
    )
    assert _cos(onnx.encode_pil(images), torch_enc.encode_pil(images)).min() >= 0.999
    assert _cos(onnx.encode_texts(TEXTS), torch_enc.encode_texts(TEXTS)).min() >= 0.999
    assert onnx.dim == torch_enc.dim and onnx.image_size == torch_enc.image_size


def _sample_photos(n: int) -> list[Path]:
    folder = Path(os.environ.get("GLIMPSE_SAMPLE_PHOTOS", Path.home() / ".cache/glimpse-sample-photos"))
    if not folder.is_dir():
        pytest.skip(f"no sample photos at {folder} (run {SHARED}/scripts/get-sample-photos)")
    photos = sorted(p for p in folder.iterdir() if imaging.is_supported(p))
    return photos[:: max(1, len(photos) // n)][:n]


def test_engines_agree_on_real_photos() -> None:
    onnx, torch_enc = _engines()
    images = [imaging.decode_for_model(p, onnx.image_size).image for p in _sample_photos(12)]
    assert _cos(onnx.encode_pil(images), torch_enc.encode_pil(images)).min() >= 0.999


def test_export_is_made_once_and_reused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(onnx_engine.CACHE_ENV, str(tmp_path / "cache"))
    first = Encoder(ModelSpec.parse(TINY_MODEL), device="cpu")
    assert first.engine == "onnx"
    exported = list((tmp_path / "cache").iterdir())
    assert len(exported) == 1 and (exported[0] / "meta.json").is_file()

    def no_export(*a, **k):  # type: ignore[no-untyped-def]
        raise AssertionError("the cached export should have been used")

    monkeypatch.setattr(onnx_engine, "export", no_export)
    again = Encoder(ModelSpec.parse(TINY_MODEL), device="cpu")
    assert again.engine == "onnx"
    assert np.allclose(again.encode_texts(["hello"]), first.encode_texts(["hello"]), atol=1e-6)


@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_a_damaged_export_is_rebuilt(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, damage: str) -> None:
    monkeypatch.setenv(onnx_engine.CACHE_ENV, str(tmp_path / "cache"))
    good = Encoder(ModelSpec.parse(TINY_MODEL), device="cpu").encode_texts(["a boat"])
    (folder,) = list((tmp_path / "cache").iterdir())
    target = folder / "text.onnx"
    data = target.read_bytes()
    target.write_bytes(data[: len(data) // 2] if damage == "truncate" else b"\0garbage" * (len(data) // 8))
    fresh = Encoder(ModelSpec.parse(TINY_MODEL), device="cpu")
    assert fresh.engine == "onnx"
    assert np.allclose(fresh.encode_texts(["a boat"]), good, atol=1e-6)
    assert target.read_bytes() != b"" and onnx_engine.read_meta(folder, fresh.model_id) is not None


def test_an_export_that_will_not_load_is_rebuilt_at_first_use(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A file the quick digest accepts but onnxruntime rejects is rebuilt, not a failed search."""
    monkeypatch.setenv(onnx_engine.CACHE_ENV, str(tmp_path / "cache"))
    good = Encoder(ModelSpec.parse(TINY_MODEL), device="cpu", precision="fp32").encode_texts(["a boat"])
    fresh = Encoder(ModelSpec.parse(TINY_MODEL), device="cpu", precision="fp32")
    assert fresh.engine == "onnx"
    target = fresh._onnx.directory / "text.onnx"
    target.write_bytes(b"not an onnx model")  # after the digest check: only loading can tell
    assert np.allclose(fresh.encode_texts(["a boat"]), good, atol=1e-6)
    assert fresh.engine == "onnx" and target.stat().st_size > 1000


def test_export_failure_falls_back_to_torch(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog) -> None:
    monkeypatch.setenv(onnx_engine.CACHE_ENV, str(tmp_path / "cache"))

    def broken(*a, **k):  # type: ignore[no-untyped-def]
        raise onnx_engine.OnnxExportError("simulated")

    monkeypatch.setattr(onnx_engine, "export", broken)
    with caplog.at_level(logging.WARNING):
        enc = Encoder(ModelSpec.parse(TINY_MODEL), device="cpu")
        vec = enc.encode_texts(["a dog"])
    assert enc.engine == "torch"
    assert "using torch on the CPU instead" in caplog.text and "simulated" in caplog.text
    assert vec.shape == (1, enc.dim)


LEARNED = Path(__file__).resolve().parent / "assets" / "flickr-small-clip" / "GlimpseFlickrSmall.pt"


def test_a_batchnorm_image_tower_exports_and_the_model_stays_in_eval_mode(tmp_path: Path) -> None:
    """The learned small model's ResNet tower has BatchNorm: export used to leave
    the torch model in training mode, so the check (and a torch fallback) saw
    batch statistics and the export was refused (cosine 0.29)."""
    spec = ModelSpec.parse(f"GlimpseFlickrSmall:{LEARNED}")
    torch_enc = Encoder(spec, device="cpu", engine="torch")
    model, preprocess, tokenizer = torch_enc._torch_parts()
    meta = onnx_engine.export(model, preprocess, tokenizer, spec.model_id, tmp_path / "export")
    assert not any(m.training for m in model.modules())
    assert meta["fidelity"]["image_min_cosine"] >= onnx_engine.MIN_COSINE
    photos = [make_photo(tmp_path / f"p{i}.jpg", seed=i, size=(90, 70)) for i in range(3)]
    from PIL import Image

    images = [Image.open(p).convert("RGB") for p in photos]
    towers = onnx_engine.OnnxTowers(tmp_path / "export", meta)
    ours = towers.encode_images(np.stack([towers.preprocess(im) for im in images]))
    ours /= np.linalg.norm(ours, axis=1, keepdims=True)
    assert _cos(ours, torch_enc.encode_pil(images)).min() >= 0.999


def test_int8_towers_are_within_the_bound_of_fp32_and_cached(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The real quantization (onnxruntime's dynamic int8) on the tiny model: image
    and text vectors within cosine 0.99 of the fp32 towers', made once, then reused."""
    from PIL import Image

    monkeypatch.setenv(onnx_engine.CACHE_ENV, str(tmp_path / "cache"))
    spec = ModelSpec.parse(TINY_MODEL)
    fp32 = Encoder(spec, device="cpu", precision="fp32")
    int8 = Encoder(spec, device="cpu", precision="int8")
    photos = [make_photo(tmp_path / f"p{i}.jpg", seed=i, size=(80 + 9 * i, 64)) for i in range(8)]
    images = [Image.open(p).convert("RGB") for p in photos]
    ref = fp32.encode_pil(images)
    got = int8.encode_pil(images)
    assert int8._onnx.precisions["image"] == "int8" and fp32._onnx.precisions["image"] == "fp32"
    assert not np.allclose(got, ref, atol=1e-6)  # really a different tower
    assert _cos(got, ref).min() >= onnx_engine.INT8_MIN_COSINE
    texts8, texts32 = int8.encode_texts(TEXTS), fp32.encode_texts(TEXTS)
    assert int8._onnx.precisions["text"] == "int8" and not np.allclose(texts8, texts32, atol=1e-6)
    assert _cos(texts8, texts32).min() >= onnx_engine.INT8_MIN_COSINE
    folder = int8._onnx.directory
    for tower in ("image", "text"):
        record = onnx_engine.read_int8(folder, int8._onnx.meta, tower)
        assert record is not None and record["ok"] and (folder / f"{tower}.int8.onnx").is_file()
    assert (folder / "text.int8.onnx").stat().st_size < (folder / "text.onnx").stat().st_size / 2

    def no_quantize(*a, **k):  # type: ignore[no-untyped-def]
        raise AssertionError("the cached int8 tower should have been used")

    monkeypatch.setattr(onnx_engine, "quantize_tower", no_quantize)
    again = Encoder(spec, device="cpu", precision="int8")
    assert np.allclose(again.encode_pil(images), got, atol=1e-6)
    assert np.allclose(again.encode_texts(TEXTS), texts8, atol=1e-6)


def test_a_fresh_export_comes_with_its_int8_towers(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Quantized with the export, so the first search or index after it does not wait."""
    monkeypatch.setenv(onnx_engine.CACHE_ENV, str(tmp_path / "cache"))
    enc = Encoder(ModelSpec.parse(TINY_MODEL), device="cpu", precision="int8")
    assert enc.engine == "onnx"
    for tower in ("image", "text"):
        record = onnx_engine.read_int8(enc._onnx.directory, enc._onnx.meta, tower)
        assert record is not None and record["ok"]


def test_a_damaged_int8_tower_is_rebuilt_and_a_refused_one_runs_fp32(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from PIL import Image

    monkeypatch.setenv(onnx_engine.CACHE_ENV, str(tmp_path / "cache"))
    spec = ModelSpec.parse(TINY_MODEL)
    image = [Image.open(make_photo(tmp_path / "p.jpg", seed=3)).convert("RGB")]
    good = Encoder(spec, device="cpu", precision="int8").encode_pil(image)
    fp32 = Encoder(spec, device="cpu", precision="fp32").encode_pil(image)
    (folder,) = list((tmp_path / "cache").iterdir())
    target = folder / "image.int8.onnx"
    target.write_bytes(target.read_bytes()[:1000])
    rebuilt = Encoder(spec, device="cpu", precision="int8")
    assert np.allclose(rebuilt.encode_pil(image), good, atol=1e-6)
    assert rebuilt._onnx.precisions["image"] == "int8" and target.stat().st_size > 1000

    # A tower that fails its check is remembered as refused: fp32 runs, nothing is retried.
    monkeypatch.setattr(onnx_engine, "INT8_MIN_COSINE", 1.01)
    (folder / "image.int8.json").unlink()
    refused = Encoder(spec, device="cpu", precision="int8")
    assert np.allclose(refused.encode_pil(image), fp32, atol=1e-6)
    assert refused._onnx.precisions["image"] == "fp32"
    record = onnx_engine.read_int8(folder, refused._onnx.meta)
    assert record is not None and not record["ok"]


def test_unknown_precision_is_refused() -> None:
    from glimpse.core.errors import ModelLoadError

    with pytest.raises(ModelLoadError, match="precision"):
        Encoder(ModelSpec.parse(TINY_MODEL), device="cpu", precision="int4")


def test_library_precision_comes_from_the_argument_then_env_then_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from glimpse.core.encoding.encoder import PRECISION_ENV
    from glimpse.core.library import Library

    monkeypatch.delenv(PRECISION_ENV, raising=False)
    with Library(tmp_path / "lib", model=TINY_MODEL) as lib:
        assert lib.encoder.precision == "int8"  # the default
        lib.save_settings(precision="fp32")
    with Library(tmp_path / "lib", model=TINY_MODEL) as lib:
        assert lib.encoder.precision == "fp32"
    monkeypatch.setenv(PRECISION_ENV, "int8")
    with Library(tmp_path / "lib", model=TINY_MODEL) as lib:
        assert lib.encoder.precision == "int8"
    with Library(tmp_path / "lib", model=TINY_MODEL, precision="fp32") as lib:
        assert lib.encoder.precision == "fp32"
