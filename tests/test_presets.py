"""Model presets: real models, honest published numbers, speed probed here and remembered."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import SHARED, TINY_MODEL
from glimpse.core.encoding import presets, speed
from glimpse.core.encoding.encoder import ModelSpec
from glimpse.core.jobs import CancelToken

FACTS = SHARED / "data" / "model-facts"


def test_every_preset_names_a_model_open_clip_can_fetch() -> None:
    import open_clip

    pretrained = set(open_clip.list_pretrained())
    for p in presets.PRESETS:
        arch, _, tag = p.model.partition(":")
        assert (arch, tag) in pretrained, p.model
    assert presets.preset(presets.DEFAULT_PRESET).model == "ViT-B-32:laion2b_s34b_b79k"
    from glimpse.core.encoding.encoder import DEFAULT_MODEL

    assert presets.preset(presets.DEFAULT_PRESET).model == DEFAULT_MODEL


def _facts(name: str) -> list[dict[str, str]]:
    with (FACTS / name).open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.mark.skipif(not FACTS.is_dir(), reason=f"{FACTS} is absent")
def test_published_figures_match_the_model_facts() -> None:
    """The numbers a user chooses by are the published ones, not typed from memory."""
    retrieval = {(r["name"], r["pretrained"]): r for r in _facts("openclip_retrieval_results.csv")}
    zeroshot = {(r["name"], r["pretrained"]): r for r in _facts("openclip_zeroshot_imagenet.csv")}
    mobile = {(r["model"], r["pretrained"]): r for r in _facts("mobileclip.csv")}
    multi = {(r["model"], r["version"]): r for r in _facts("openclip_multilingual_retrieval_results.csv")}
    checked = 0
    for p in presets.PRESETS:
        key = tuple(p.model.split(":"))
        if p.flickr_r10 is not None:
            assert p.flickr_r10 == pytest.approx(float(retrieval[key]["Flickr image retr. R@10"]))
            checked += 1
        if p.imagenet is not None:
            source = (float(zeroshot[key]["ImageNet 1k"]) if key in zeroshot
                      else float(mobile[key]["imagenet1k_zeroshot_top1"]) / 100)
            assert p.imagenet == pytest.approx(source)
            checked += 1
        if p.multilingual_r10 is not None:
            assert p.multilingual_r10 == pytest.approx(
                float(multi[key]["crossmodal3600 image_retrieval_recall@10 avg"]))
            checked += 1
    assert checked >= 6


def test_a_preset_name_is_a_model_name() -> None:
    assert str(ModelSpec.parse("fast")) == "ViT-B-32:laion2b_s34b_b79k"
    assert ModelSpec.parse("balanced").arch == "ViT-B-32-256"
    assert str(ModelSpec.parse("Multilingual")) == "ViT-B-16-SigLIP-i18n-256:webli"
    assert ModelSpec.parse("ViT-B-32:openai").tag == "openai"  # ordinary names untouched


@pytest.fixture
def tiny_presets(monkeypatch: pytest.MonkeyPatch) -> tuple[presets.Preset, ...]:
    tiny = (presets.Preset("fast", "Fast", TINY_MODEL, "tiny", presets.ENGLISH, None, None),)
    monkeypatch.setattr(presets, "PRESETS", tiny)
    return tiny


def test_speed_probe_is_measured_once_and_remembered(tmp_path: Path, tiny_presets) -> None:
    path = tmp_path / "speed.json"
    lines: list[str] = []
    probes = speed.measure_presets(path, lines.append)
    probe = probes[TINY_MODEL]
    assert probe.image_ms > 0 and probe.text_ms > 0 and probe.threads >= 1
    assert any("Measuring Fast" in line for line in lines)
    again: list[str] = []
    assert speed.measure_presets(path, again.append) == probes  # remembered: no new probe
    assert again == []
    assert presets.load_probes(path)[TINY_MODEL] == probe


def test_figures_from_another_machine_are_measured_again(tmp_path: Path, tiny_presets) -> None:
    path = tmp_path / "speed.json"
    speed.measure_presets(path)
    data = json.loads(path.read_text())
    data["machine"] = "some-other-cpu"
    path.write_text(json.dumps(data))
    assert presets.load_probes(path) == {}
    path.write_text("{not json")
    assert presets.load_probes(path) == {}


def test_cancelled_probe_measures_nothing(tmp_path: Path, tiny_presets) -> None:
    token = CancelToken()
    token.cancel()
    assert speed.measure_presets(tmp_path / "s.json", cancel=token) == {}


def test_describe_says_what_a_person_chooses_by() -> None:
    best = presets.preset("best")
    text = presets.describe(best, None)
    assert "ViT-B-16-SigLIP-256:webli" in text and "Flickr30k R@10 96.3%" in text
    assert "not measured yet" in text
    probe = presets.SpeedProbe(best.model, 123.4, 9.9, 2, 0.0)
    assert "123 ms/photo" in presets.describe(best, probe)


def test_mobileclip_is_reparameterized_for_inference() -> None:
    """Apple prescribes folding MobileOne branches for inference: same outputs, fewer layers."""
    import open_clip
    import torch

    from glimpse.core.encoding.encoder import prepare_for_inference

    torch.manual_seed(0)
    net = open_clip.create_model("MobileCLIP2-S0", pretrained=None).eval()
    image = torch.rand(1, 3, 256, 256)
    with torch.inference_mode():
        before = net.encode_image(image)
    n_before = sum(1 for _ in net.modules())
    folded = prepare_for_inference(net, "MobileCLIP2-S0")
    with torch.inference_mode():
        after = folded.encode_image(image)
    assert sum(1 for _ in folded.modules()) < n_before
    assert torch.nn.functional.cosine_similarity(before, after).item() > 0.999


def test_cli_models_lists_presets_with_their_figures(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "glimpse", "models", "--no-measure", "--library", str(tmp_path / "l")],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    for p in presets.PRESETS:
        assert f"{p.label}: {p.model}" in proc.stdout
    assert "Understands: many languages" in proc.stdout
    proc = subprocess.run(
        [sys.executable, "-m", "glimpse", "models", "--json", "--library", str(tmp_path / "l")],
        capture_output=True, text=True, timeout=120,
    )
    data = json.loads(proc.stdout)
    assert [p["key"] for p in data["presets"]] == ["fast", "balanced", "best", "multilingual"]
    assert "ViT-B-32:laion2b_s34b_b79k" in data["models"]
