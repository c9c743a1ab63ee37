"""How fast each preset runs on this computer: a short probe with random weights.

Random weights run exactly as fast as trained ones, so no download is needed;
the figures are remembered per machine (presets.load_probes / save_probes).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from glimpse.core.encoding import presets
from glimpse.core.encoding.encoder import prepare_for_inference, register_bundled_configs
from glimpse.core.encoding.presets import SpeedProbe
from glimpse.core.jobs import CancelToken


def probe_speed(model: str, device: str = "cpu") -> SpeedProbe:
    """Time the architecture with random weights: a few seconds, no download."""
    import open_clip
    import torch

    register_bundled_configs()
    arch = model.partition(":")[0]
    net = open_clip.create_model(arch, pretrained=None, device=device)
    net = prepare_for_inference(net, arch)
    size = net.visual.image_size
    side = int(size[0] if isinstance(size, (tuple, list)) else size)
    images = torch.rand(4, 3, side, side)
    try:
        tokens = open_clip.get_tokenizer(arch)(["a dog running on the beach"])
    except Exception:  # a hub tokenizer that is not here yet: time random ids instead
        tokens = torch.randint(1, 1000, (1, int(getattr(net, "context_length", 64) or 64)))
    with torch.inference_mode():
        net.encode_image(images)  # warm-up: first calls allocate
        start = time.perf_counter()
        net.encode_image(images)
        image_ms = (time.perf_counter() - start) * 1000 / len(images)
        net.encode_text(tokens)
        start = time.perf_counter()
        for _ in range(3):
            net.encode_text(tokens)
        text_ms = (time.perf_counter() - start) * 1000 / 3
    return SpeedProbe(model, image_ms, text_ms, torch.get_num_threads(), time.time())


def measure_presets(
    path: Path | None = None,
    report: Callable[[str], None] = lambda line: None,
    force: bool = False,
    cancel: CancelToken | None = None,
) -> dict[str, SpeedProbe]:
    """Probe every preset not yet measured on this machine, and remember the figures.

    Each probe is saved as soon as it is made, so a cancelled run keeps what it measured.
    """
    path = path or presets.default_probe_path()
    probes = {} if force else presets.load_probes(path)
    for p in presets.PRESETS:  # looked up here, so tests can swap the table
        if cancel is not None and cancel.cancelled:
            break
        if p.model in probes:
            continue
        report(f"Measuring {p.label} ({p.model}) on this computer…")
        try:
            probes[p.model] = probe_speed(p.model)
        except Exception as exc:  # an architecture this open_clip lacks: say so, go on
            report(f"  could not measure {p.model}: {type(exc).__name__}: {exc}")
            continue
        presets.save_probes(path, probes)
    return probes
