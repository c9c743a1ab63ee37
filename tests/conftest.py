"""Shared test setup: no display, no user settings, tiny model, generated photos."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

# Qt must never need a screen in tests; set before any Qt import.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Never reach for the network for model weights from a test.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

TINY_MODEL = "GlimpseTiny:random"
SHARED = Path(__file__).resolve().parents[2] / "shared"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Full-size fault injection takes many minutes: only when asked for by -m."""
    if "faults_long" in (config.getoption("-m") or ""):
        return
    skip = pytest.mark.skip(reason="full-size fault injection: run with -m faults_long")
    for item in items:
        if "faults_long" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def _runtime_dir() -> Iterator[str]:
    """A short private folder for service sockets (a Unix socket path must stay
    under ~100 bytes, so not inside pytest's long temporary paths)."""
    path = tempfile.mkdtemp(prefix="glimpse-rt-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(autouse=True)
def _isolated_user_dirs(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch, _runtime_dir: str
) -> None:
    """Keep every test off the user's real library, settings and caches."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("GLIMPSE_LIBRARY", str(home / "library"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", _runtime_dir)
    monkeypatch.delenv("GLIMPSE_MODEL", raising=False)
    # ONNX exports are per model, not per user: one cache for the whole session
    # (the tiny model is exported once, not once per test).
    monkeypatch.setenv("GLIMPSE_ONNX_CACHE", str(tmp_path_factory.getbasetemp() / "onnx-cache"))


@pytest.fixture
def tiny_model_name() -> str:
    return TINY_MODEL


def make_photo(path: Path, seed: int, size: tuple[int, int] = (96, 72), fmt: str = "JPEG") -> Path:
    """A distinct picture per seed: random blocks of colour, so no two photos
    (or their vectors) coincide."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 256, size=(6, 8, 3), dtype=np.uint8)
    img = Image.fromarray(blocks, "RGB").resize(size, Image.Resampling.NEAREST)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, fmt)
    return path


@pytest.fixture
def photo_dir(tmp_path: Path) -> Path:
    """Eight distinct JPEGs, two of them in a subfolder."""
    root = tmp_path / "photos"
    for i in range(6):
        make_photo(root / f"img_{i:02d}.jpg", seed=i)
    for i in range(6, 8):
        make_photo(root / "trip" / f"img_{i:02d}.jpg", seed=i)
    return root


@pytest.fixture
def library(tmp_path: Path):
    from glimpse.core.library import Library

    lib = Library(tmp_path / "lib", model=TINY_MODEL)
    yield lib
    lib.close()
