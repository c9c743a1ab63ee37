"""The first start with a pretrained model: the window shows the weights download
(size, rate, time left) in the status bar, and its cancel button stops it."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from fake_hub import FILE, TAG, start_fake_hub, tiny_checkpoint

from .conftest import INDEX_TIMEOUT_MS


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    server = start_fake_hub({FILE: tiny_checkpoint()}, monkeypatch, tmp_path / "hf-cache")
    yield server
    server.stop()


def test_download_shows_progress_then_model_is_ready(qtbot, make_window, hub, tmp_path):
    window = make_window(open_library=False)
    c = window.controller
    seen: list[object] = []
    c.downloadProgress.connect(seen.append)
    with qtbot.waitSignal(c.stateChanged, timeout=INDEX_TIMEOUT_MS,
                          check_params_cb=lambda s, m: s in ("ready", "error")) as blocker:
        c.open(tmp_path / "library", f"GlimpseTiny:{TAG}", "cpu")
    assert blocker.args[0] == "ready", blocker.args
    progress = [p for p in seen if p is not None]
    assert progress and progress[-1].done == progress[-1].total
    assert seen[-1] is None  # the download's widgets are put away
    assert not window.progress_label.isVisible()


def test_cancel_button_stops_the_download(qtbot, make_window, hub, tmp_path):
    hub.hold = threading.Event()  # the server sends half the file, then waits
    window = make_window(open_library=False)
    c = window.controller
    seen: list[object] = []
    c.downloadProgress.connect(seen.append)
    c.open(tmp_path / "library", f"GlimpseTiny:{TAG}", "cpu")
    # The first report (0 bytes so far) comes before the first read; the server then holds.
    qtbot.waitUntil(lambda: any(p is not None for p in seen), timeout=INDEX_TIMEOUT_MS)
    assert window.progress_label.isVisible() and window.cancel_button.isVisible()
    assert "Downloading model weights" in window.progress_label.text()
    assert "MB" in window.progress_label.text()
    with qtbot.waitSignal(c.stateChanged, timeout=INDEX_TIMEOUT_MS,
                          check_params_cb=lambda s, m: s == "error") as blocker:
        window.cancel_button.click()
        hub.hold.set()
    assert "cancelled" in blocker.args[1]
    assert list((tmp_path / "hf-cache").rglob("*.part"))  # kept for resuming
    assert not window.progress_label.isVisible()
