"""Thumbnails, paste, the settings dialog, watching, the offline first run."""

from __future__ import annotations

import shutil
from pathlib import Path

from PySide6.QtCore import QMimeData, Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication

from glimpse.core.media import imaging
from glimpse.ui.settings_dialog import SettingsDialog, SettingsValues
from glimpse.ui.thumbnails import ThumbnailCache, thumb_key

from .conftest import INDEX_TIMEOUT_MS
from .test_gui_window import index_folder, shown_paths


def test_thumbnails_are_decoded_off_thread_and_cached_on_disk(qtbot, tmp_path, photo_dir):
    path = str(photo_dir / "img_00.jpg")
    fp = imaging.file_fingerprint(path)
    cache = ThumbnailCache(tmp_path / "thumbs")
    with qtbot.waitSignal(cache.ready, timeout=10_000) as blocker:
        key, pixmap = cache.request(path, fp, 64)
    assert pixmap is None and blocker.args == [key] and key == thumb_key(path, fp, 64)
    assert cache.disk_path(key).is_file() and fp in cache.disk_path(key).name
    assert max(cache.get(key).width(), cache.get(key).height()) == 64
    cache.shutdown()

    again = ThumbnailCache(tmp_path / "thumbs")  # a new run: served from disk
    Path(path).rename(photo_dir / "renamed.jpg")  # the fingerprint, not the path, is the key
    with qtbot.waitSignal(again.ready, timeout=10_000):
        again.request(path, fp, 64)
    assert again.get(key) is not None
    again.shutdown()


def test_broken_file_reports_a_failure(qtbot, tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not a jpeg")
    cache = ThumbnailCache(tmp_path / "thumbs")
    with qtbot.waitSignal(cache.failed, timeout=10_000) as blocker:
        cache.request(str(bad), None, 64)
    assert blocker.args[1]
    cache.shutdown()


def test_pasting_an_image_searches_by_it(qtbot, make_window, photo_dir):
    window = make_window()
    index_folder(qtbot, window, photo_dir)
    mime = QMimeData()
    mime.setImageData(QImage(str(photo_dir / "img_02.jpg")))
    clipboard = QApplication.clipboard()
    clipboard.setMimeData(mime)  # Qt owns it now
    window.search_tab.grid.setFocus()
    try:
        with qtbot.waitSignal(window.resultsShown, timeout=10_000) as blocker:
            qtbot.keyClick(window.search_tab.grid, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    finally:
        # Left on the clipboard, the data is destroyed with it at interpreter
        # exit, after Python's side is gone: the test run then segfaults.
        clipboard.clear()
    assert blocker.args[0].kind == "image"
    assert Path(shown_paths(window)[0]).name == "img_02.jpg"


def test_default_model_offline_shows_what_to_do(qtbot, make_window):
    """The real first run without network: the error says to pick a checkpoint in Settings."""
    window = make_window(model="ViT-B-32:laion2b_s34b_b79k")
    assert window.controller.state == "error"
    text = window.search_tab.empty_text.text()
    assert "Settings" in text and "checkpoint" in text
    assert window.search_tab.empty_button.isVisible() and "checkpoint" in window.search_tab.empty_button.text()


def test_cpu_precision_is_chosen_in_settings_and_kept_by_the_library(qtbot, make_window):
    import json

    window = make_window()
    lib = window.controller.library
    dialog = SettingsDialog(window.current_settings(), model_names=[])
    qtbot.addWidget(dialog)
    assert dialog.values().precision == "int8"  # the default
    dialog.precision.setCurrentIndex(dialog.precision.findData("fp32"))
    window.apply_settings(dialog.values())
    assert lib.precision == "fp32" and window.current_settings().precision == "fp32"
    assert json.loads((lib.root / "settings.json").read_text("utf-8"))["precision"] == "fp32"


def test_settings_dialog_rejects_a_missing_checkpoint(qtbot, tmp_path):
    dialog = SettingsDialog(SettingsValues("GlimpseTiny:random", "auto", 160), model_names=[])
    qtbot.addWidget(dialog)
    dialog.set_checkpoint(str(tmp_path / "nope.bin"))
    assert dialog.values().model == f"GlimpseTiny:{tmp_path / 'nope.bin'}"
    dialog.accept()
    assert dialog.result() == 0 and "does not exist" in dialog.error.text()


def test_new_photo_in_a_watched_folder_is_indexed(qtbot, make_window, photo_dir):
    window = make_window(watch=True)
    index_folder(qtbot, window, photo_dir)
    shutil.copy(photo_dir / "img_00.jpg", photo_dir / "new_copy.jpg")
    qtbot.waitUntil(lambda: window.search_tab.folders_model.totals()[0] == 9, timeout=INDEX_TIMEOUT_MS)
