"""Real retrieval with a real checkpoint, when ../shared provides one.

../shared/README.md says a pretrained checkpoint will appear as
`models/<name>/` with its own README. Until then this test skips, saying why;
once it is there, each Flickr8k caption must find its photo within the top 5
for at least the fraction that README states.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pytest

from conftest import SHARED

MODELS = SHARED / "models"
FLICKR = SHARED / "data" / "flickr8k-1k"
CHECKPOINT_SUFFIXES = (".bin", ".pt", ".pth", ".safetensors")


def _checkpoints() -> list[Path]:
    if not MODELS.is_dir():
        return []
    return sorted(d for d in MODELS.iterdir() if d.is_dir())


def _describe(model_dir: Path) -> tuple[str, Path, float]:
    """(open_clip architecture, checkpoint file, required top-5 fraction) from its README."""
    import open_clip

    readme = next((p for p in model_dir.iterdir() if p.name.lower().startswith("readme")), None)
    assert readme is not None, f"{model_dir} has no README saying what it holds"
    text = readme.read_text("utf-8", errors="replace")
    archs = sorted((a for a in open_clip.list_models() if a in text), key=len, reverse=True)
    assert archs, f"{readme} names no open_clip architecture"
    files = [p for p in model_dir.rglob("*") if p.suffix in CHECKPOINT_SUFFIXES]
    assert files, f"{model_dir} holds no checkpoint file ({', '.join(CHECKPOINT_SUFFIXES)})"
    found = re.search(r"top[- ]?5[^\n]*?(\d+(?:\.\d+)?)\s*(%)?", text, re.IGNORECASE)
    assert found, f"{readme} states no top-5 fraction for the caption test"
    fraction = float(found.group(1)) / (100 if found.group(2) or float(found.group(1)) > 1 else 1)
    return archs[0], files[0], fraction


@pytest.mark.slow
@pytest.mark.skipif(not _checkpoints(), reason=f"no real checkpoint in {MODELS} (see ../shared/README.md)")
@pytest.mark.skipif(not FLICKR.is_dir(), reason=f"{FLICKR} is absent")
@pytest.mark.parametrize("model_dir", _checkpoints(), ids=lambda p: p.name)
def test_captions_find_their_photo_in_top_5(model_dir: Path, tmp_path: Path) -> None:
    from glimpse.core.library import Library
    from glimpse.evaluation.metrics import exact_ranks

    arch, checkpoint, fraction = _describe(model_dir)
    lib = Library(tmp_path / "lib", model=f"{arch}:{checkpoint}")
    try:
        lib.add_folder(FLICKR / "images")
        lib.index(only={"scan", "encode"})  # ranking quality needs the vectors alone
        ids, gallery = lib.gallery()
        row_of = {lib.catalog.photo(int(i)).path: r for r, i in enumerate(ids)}
        with open(FLICKR / "captions.csv", newline="", encoding="utf-8") as f:
            pairs = [(row["caption"], str(FLICKR / "images" / row["image"])) for row in csv.DictReader(f)]
        pairs = [(c, p) for c, p in pairs if p in row_of]
        queries = lib.encoder.encode_texts([c for c, _ in pairs])
        ranks = exact_ranks(queries, gallery, np.array([row_of[p] for _, p in pairs]))
        within5 = float(np.mean(ranks <= 5))
        assert within5 >= fraction, f"{within5:.3f} of captions found in top 5; README asks {fraction}"
    finally:
        lib.close()
