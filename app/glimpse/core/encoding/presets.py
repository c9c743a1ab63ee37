"""Model presets: Fast, Balanced, Best, Multilingual.

A person choosing a model should not need to know open_clip's names. Each
preset names one model, the quality its authors published for it, and the
languages it understands; its speed is measured on *this* computer (a short
probe with random weights, which run exactly as fast as trained ones, so no
download is needed) and remembered.

The choice of models and the numbers below come from the published tables in
shared/data/model-facts (OpenCLIP's retrieval and zero-shot results, Apple's
MobileCLIP table) and from scripts/bench_models.py on a 2-core laptop-class
CPU; README.md ("Choosing a model") has the full table and the reasoning.
"""

from __future__ import annotations

import json
import os
import platform
from dataclasses import asdict, dataclass
from pathlib import Path

from glimpse.core.storage.files import write_text_atomically


@dataclass(frozen=True)
class Preset:
    key: str
    label: str
    model: str
    why: str
    languages: str
    # Published quality (None where the model's authors did not publish it):
    flickr_r10: float | None  # Flickr30k text->image recall@10
    imagenet: float | None  # ImageNet-1k zero-shot top-1
    multilingual_r10: float | None = None  # Crossmodal-3600 image retrieval R@10, mean of 36 languages

    def published(self) -> str:
        parts = []
        if self.flickr_r10 is not None:
            parts.append(f"Flickr30k R@10 {100 * self.flickr_r10:.1f}%")
        if self.imagenet is not None:
            parts.append(f"ImageNet {100 * self.imagenet:.1f}%")
        if self.multilingual_r10 is not None:
            parts.append(f"36-language R@10 {100 * self.multilingual_r10:.1f}%")
        return ", ".join(parts) or "not published"


ENGLISH = "English"
PRESETS: tuple[Preset, ...] = (
    Preset(
        "fast", "Fast", "ViT-B-32:laion2b_s34b_b79k",
        "The best-known small CLIP (OpenCLIP on LAION-2B): the fastest model measured here "
        "with strong published retrieval, so the quickest to index an archive on a laptop CPU.",
        ENGLISH, flickr_r10=0.9310, imagenet=0.6656,
    ),
    Preset(
        "balanced", "Balanced", "ViT-B-32-256:datacomp_s34b_b86k",
        "ViT-B-32 at 256 px trained on DataComp: the same retrieval, broader zero-shot "
        "knowledge (ImageNet 72.8% against 66.6%), for about 15% more time a photo.",
        ENGLISH, flickr_r10=0.9216, imagenet=0.7281,
    ),
    Preset(
        "best", "Best", "ViT-B-16-SigLIP-256:webli",
        "SigLIP base at 256 px: the best published Flickr30k recall among models a CPU "
        "can run (under 60 GFLOPs), at several times the cost of Fast.",
        ENGLISH, flickr_r10=0.9626, imagenet=0.7653,
    ),
    Preset(
        "multilingual", "Multilingual", "ViT-B-16-SigLIP-i18n-256:webli",
        "SigLIP trained on WebLI in many languages: type queries in your own language.",
        "many languages: measured on the 36 of Crossmodal-3600, e.g. German 93%, Russian 93%, "
        "French 92%, English 83%, Chinese 81%, Arabic 79%, Japanese 75%, Hindi 44% (R@10)",
        flickr_r10=0.9470, imagenet=0.7513, multilingual_r10=0.7259,
    ),
)
DEFAULT_PRESET = "fast"


def preset(key: str) -> Preset:
    for p in PRESETS:
        if p.key == key.lower():
            return p
    raise KeyError(f"No preset '{key}'; choose one of {', '.join(p.key for p in PRESETS)}.")


def preset_for_model(model: str) -> Preset | None:
    return next((p for p in PRESETS if p.model == model), None)


def describe(p: Preset, probe: SpeedProbe | None) -> str:
    """One line a person can choose by: the model, its published quality, its speed here."""
    speed = (f"{probe.image_ms:.0f} ms/photo, {probe.text_ms:.0f} ms/query on this computer"
             if probe else "speed on this computer not measured yet")
    return f"{p.label}: {p.model} · {p.published()} · {speed}"


# -- speed on this computer --------------------------------------------------------


@dataclass(frozen=True)
class SpeedProbe:
    model: str
    image_ms: float  # per photo, batch of 4, after a warm-up batch
    text_ms: float  # per query
    threads: int
    measured_at: float


def _machine_key() -> str:
    """Figures belong to a machine and a thread count; a new CPU measures again."""
    return f"{platform.machine()}-{platform.processor() or 'cpu'}-{os.cpu_count()}"


def default_probe_path() -> Path:
    """Per user, not per library: the speed is the computer's, whatever the photos."""
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("Glimpse", appauthor=False)) / "model-speed.json"


def load_probes(path: Path) -> dict[str, SpeedProbe]:
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    if data.get("machine") != _machine_key():
        return {}
    out = {}
    for model, row in data.get("probes", {}).items():
        try:
            out[model] = SpeedProbe(**row)
        except TypeError:
            continue  # written by another version: measure again
    return out


def save_probes(path: Path, probes: dict[str, SpeedProbe]) -> None:
    data = {"machine": _machine_key(), "probes": {m: asdict(p) for m, p in probes.items()}}
    write_text_atomically(path, json.dumps(data, indent=2))
