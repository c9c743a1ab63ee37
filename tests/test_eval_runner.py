"""run_evaluation end to end on generated photos with two tiny models."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from glimpse.core.encoding.encoder import ModelSpec
from glimpse.core.jobs import CancelToken
from glimpse.evaluation.labels import LabelRow, LabelSet, utc_now_iso
from glimpse.evaluation.runner import EvaluationCancelled, run_evaluation

TINY = "GlimpseTiny:random"


def perturbed_checkpoint(path: Path, seed: int = 1) -> Path:
    """A second, genuinely different tiny model: the random one with its weights shaken."""
    import open_clip
    import torch

    from glimpse.core.encoding.encoder import register_bundled_configs

    register_bundled_configs()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = open_clip.create_model("GlimpseTiny", pretrained=None)
        with torch.no_grad():
            for p in model.parameters():
                p.add_(0.5 * torch.randn_like(p) * (p.std() if p.numel() > 1 else 1.0))
    torch.save(model.state_dict(), path)
    return path


@pytest.fixture(scope="session")
def second_model(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = perturbed_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny_perturbed.pt")
    return f"GlimpseTiny:{path}"


def write_set(path: Path, rows: list[tuple[str, str, str]], status: str = "labeled") -> Path:
    label_set = LabelSet.open(path)
    for rel, short, long in rows:
        label_set.append(LabelRow(rel, "", short, long, "test", utc_now_iso(), status))
    return path


@pytest.fixture
def indexed(library, photo_dir):
    library.add_folder(photo_dir)
    library.index()
    return library


def test_two_models_end_to_end(indexed, tmp_path: Path, second_model: str) -> None:
    rows = [
        ("img_00.jpg", "a red square", "blocks of colour, red at the top left"),
        ("img_03.jpg", "green, blue", ""),  # no long label: skipped for "long" only
        ("trip/img_07.jpg", 'she said "hi"', "unicode ünï 🐕 and,\ncommas"),
        ("missing/nowhere.jpg", "not in the library", "x"),
    ]
    set_path = write_set(tmp_path / "set.csv", rows)
    steps: list[str] = []
    result = run_evaluation(
        indexed, set_path, [TINY, second_model], tmp_path / "out",
        progress=lambda p: steps.append(p.step),
    )
    assert any("Encoding photos with" in s for s in steps)
    assert result.gallery_size == 8
    assert result.n_queries == {"short": 3, "long": 2}
    counts = result.skip_counts()
    assert counts[("short", "photo not found in the library")] == 1
    assert counts[("long", "photo not found in the library")] == 1
    assert counts[("long", "empty long label")] == 1

    a, b = result.models
    assert a == TINY and b == "GlimpseTiny:tiny_perturbed.pt"
    fused, best = f"rrf({a},{b})", f"min({a},{b})"
    assert set(result.summaries) == {(m, lt) for m in (a, b, fused, best) for lt in ("short", "long")}

    with open(result.ranks_csv, newline="", encoding="utf-8") as fh:
        ranks = list(csv.DictReader(fh))
    assert len(ranks) == (3 + 2) * 4  # queries x (2 models + 1 fusion + 1 better-of-two)
    assert all(1 <= int(r["rank"]) <= 8 for r in ranks)
    # Two distinct models really ranked differently somewhere (else the test proves little).
    by_model = {m: [int(r["rank"]) for r in ranks if r["model"] == m] for m in (a, b, best)}
    assert by_model[a] != by_model[b]
    # The complementary row is the per-query better rank of the two, in the table and JSON.
    assert by_model[best] == [min(x, y) for x, y in zip(by_model[a], by_model[b], strict=True)]

    doc = json.loads(result.summary_json.read_text("utf-8"))
    assert doc["search"].startswith("exact")
    assert doc["gallery_size"] == 8
    assert {p["label_type"] for p in doc["metadata"]["fusion"]["pairs"]} == {"short", "long"}
    assert doc["metadata"]["complementary"]["rows"] == [best]
    assert {(r["model"], r["label_type"]) for r in doc["results"]} >= {(best, "short"), (best, "long")}
    assert len(result.fusion) == 2
    for v in result.fusion:
        assert v.beats == (v.fused_mrr > v.best_single_mrr)
        assert v.best_single in (a, b)

    assert len(result.plots) == 1 + 2  # found-within + one pair figure per label type
    for png in result.plots:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000


def test_ranks_match_an_independent_exact_computation(indexed, tmp_path: Path) -> None:
    """The runner's ranks are exactly 1 + #gallery photos scoring above the target."""
    rows = [(f"img_0{i}.jpg", f"photo number {i}", "") for i in range(6)]
    set_path = write_set(tmp_path / "set.csv", rows)
    result = run_evaluation(indexed, set_path, [TINY], tmp_path / "out", label_types=["short"])
    ids, gallery = indexed.gallery(ModelSpec.parse(TINY))
    gallery = gallery / np.linalg.norm(gallery, axis=1, keepdims=True)
    texts = indexed.encoder_for(ModelSpec.parse(TINY)).encode_texts([r[1] for r in rows])
    expected = []
    for (rel, _, _), q in zip(rows, texts, strict=True):
        target = indexed.catalog.photo_by_path(str(Path(indexed.folder_paths()[0]) / rel)).id
        scores = gallery @ q
        expected.append(1 + int(np.sum(scores > scores[list(ids).index(target)])))
    with open(result.ranks_csv, newline="", encoding="utf-8") as fh:
        got = [int(r["rank"]) for r in csv.DictReader(fh)]
    assert got == expected


def test_single_photo_library_ranks_every_query_first(library, tmp_path: Path) -> None:
    """With one photo in the gallery the target is rank 1 whatever the model: hit@1 = 1."""
    from conftest import make_photo

    make_photo(tmp_path / "one" / "only.jpg", seed=5)
    library.add_folder(tmp_path / "one")
    set_path = write_set(tmp_path / "set.csv", [("only.jpg", "anything at all", "more words")])
    result = run_evaluation(library, set_path, [TINY], tmp_path / "out", fuse=False)
    for summary in result.summaries.values():
        assert summary.hit_at[1] == 1.0 and summary.mrr == 1.0


def test_moved_photo_found_by_fingerprint(indexed, photo_dir: Path, tmp_path: Path) -> None:
    from glimpse.core.media.imaging import file_fingerprint

    fp = file_fingerprint(photo_dir / "img_02.jpg")
    label_set = LabelSet.open(tmp_path / "set.csv")
    label_set.append(LabelRow("old/name.jpg", fp, "renamed since", "", "t", utc_now_iso()))
    result = run_evaluation(indexed, label_set.path, [TINY], tmp_path / "out", label_types=["short"])
    assert result.n_queries == {"short": 1} and not result.skipped


def test_unindexed_folder_is_encoded_first(library, photo_dir: Path, tmp_path: Path) -> None:
    library.add_folder(photo_dir)  # added but never indexed
    set_path = write_set(tmp_path / "set.csv", [("img_01.jpg", "a photo", "")])
    result = run_evaluation(library, set_path, [TINY], tmp_path / "out", label_types=["short"])
    assert result.gallery_size == 8


def test_cancel_raises_and_keeps_nothing_half_written(library, photo_dir: Path, tmp_path: Path) -> None:
    library.add_folder(photo_dir)
    set_path = write_set(tmp_path / "set.csv", [("img_01.jpg", "a photo", "")])
    token = CancelToken()
    token.cancel()
    with pytest.raises(EvaluationCancelled):
        run_evaluation(library, set_path, [TINY], tmp_path / "out", cancel=token)
    assert not (tmp_path / "out" / "summary.json").exists()


def test_nothing_to_evaluate_is_a_clear_error(indexed, tmp_path: Path) -> None:
    from glimpse.core.errors import LabelSetError

    set_path = write_set(tmp_path / "set.csv", [("nope.jpg", "gone", "")])
    with pytest.raises(LabelSetError, match="photo not found"):
        run_evaluation(indexed, set_path, [TINY], tmp_path / "out")


SHARED_MODELS = Path(__file__).resolve().parents[2] / "shared" / "models"
FLICKR = Path(__file__).resolve().parents[2] / "shared" / "data" / "flickr8k-1k"


def _real_checkpoint() -> tuple[str, Path] | None:
    """(arch, checkpoint file) of the first model under ../shared/models whose README names its arch."""
    import re

    if not SHARED_MODELS.is_dir():
        return None
    for folder in sorted(p for p in SHARED_MODELS.iterdir() if p.is_dir()):
        readme = next((p for p in folder.iterdir() if p.name.lower().startswith("readme")), None)
        weights = sorted(
            p for p in folder.iterdir() if p.suffix in (".bin", ".pt", ".pth", ".safetensors")
        )
        if readme is None or not weights:
            continue
        text = readme.read_text("utf-8", errors="replace")
        m = re.search(r"\b((?:ViT|RN|convnext|EVA|coca|MobileCLIP)[-\w/]*)", text)
        if m:
            return m.group(1).rstrip(".,"), weights[0]
    return None


@pytest.mark.skipif(
    _real_checkpoint() is None,
    reason="no real CLIP checkpoint: ../shared/models/<name>/ with a README naming the "
    "architecture and a .bin/.pt/.safetensors file does not exist on this machine",
)
@pytest.mark.skipif(not FLICKR.is_dir(), reason="../shared/data/flickr8k-1k is missing")
def test_real_checkpoint_on_captioned_photos(tmp_path: Path) -> None:
    """With real weights, captions find their photo far better than chance."""
    import subprocess
    import sys

    arch, weights = _real_checkpoint()  # type: ignore[misc]
    images = tmp_path / "images"
    images.mkdir()
    names = sorted(p.name for p in (FLICKR / "images").iterdir())[:100]
    for name in names:
        shutil.copy(FLICKR / "images" / name, images / name)
    with open(FLICKR / "captions.csv", newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["image"] in set(names)]
    captions = tmp_path / "captions.csv"
    with open(captions, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=["image", "caption"])
        w.writeheader()
        w.writerows(rows)
    lib = tmp_path / "lib"
    base = [sys.executable, "-m", "glimpse"]
    subprocess.run(
        [*base, "labels", "import", str(captions), "--images", str(images),
         "--out", str(tmp_path / "set.csv"), "--library", str(lib)],
        check=True, timeout=600,
    )
    out = tmp_path / "out"
    subprocess.run(
        [*base, "eval", str(tmp_path / "set.csv"), "--models", f"{arch}:{weights}",
         "--labels", "short", "--out", str(out), "--library", str(lib)],
        check=True, timeout=1800,
    )
    doc = json.loads((out / "summary.json").read_text("utf-8"))
    (res,) = [r for r in doc["results"] if r["label_type"] == "short"]
    assert res["hit_at"]["10"] > 0.3  # chance is 10/100
