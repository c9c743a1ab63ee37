"""The folders panel with a folder whose disk is unplugged, then mounted elsewhere."""

from __future__ import annotations

import shutil
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox

from .conftest import INDEX_TIMEOUT_MS
from .test_gui_window import index_folder


def _go_offline(qtbot, window, photo_dir: Path, new: Path) -> None:
    c = window.controller
    shutil.move(photo_dir, new)
    with qtbot.waitSignal(c.indexFinished, timeout=INDEX_TIMEOUT_MS) as blocker:
        c.request_index()
    assert blocker.args[0].report.scan.removed == 0
    model = window.search_tab.folders_model
    qtbot.waitUntil(lambda: model.folders()[0].offline_since is not None)
    assert model.index(0, 0).data().endswith("(offline)")
    assert "Offline since" in model.index(0, 0).data(Qt.ItemDataRole.ToolTipRole)
    assert model.index(0, 0).data(Qt.ItemDataRole.ForegroundRole) is not None


def _wait_moved(qtbot, window, new: Path) -> None:
    c = window.controller
    model = window.search_tab.folders_model
    qtbot.waitUntil(
        lambda: [f.path for f in model.folders()] == [str(new)]
        and model.folders()[0].offline_since is None and not c.indexing,
        timeout=INDEX_TIMEOUT_MS,
    )
    assert model.totals() == (8, 0, 0)
    assert c.library.index().encode.encoded == 0  # nothing left to encode


def test_folder_moved_action_repoints_an_offline_folder(qtbot, make_window, photo_dir, tmp_path, monkeypatch):
    window = make_window()
    index_folder(qtbot, window, photo_dir)
    new = tmp_path / "mounted-elsewhere"
    _go_offline(qtbot, window, photo_dir, new)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(new))
    view = window.search_tab.folders_view
    view.setCurrentIndex(window.search_tab.folders_model.index(0, 0))
    assert window.search_tab.folder_moved_action in view.actions()
    window.search_tab.folder_moved_action.trigger()
    _wait_moved(qtbot, window, new)


def test_adding_the_moved_folder_offers_a_move(qtbot, make_window, photo_dir, tmp_path, monkeypatch):
    window = make_window()
    index_folder(qtbot, window, photo_dir)
    new = tmp_path / "renamed"
    _go_offline(qtbot, window, photo_dir, new)
    asked = []

    def answer_yes(*args, **kwargs):  # type: ignore[no-untyped-def]
        asked.append(args[2])
        return QMessageBox.StandardButton.Yes

    monkeypatch.setattr(QMessageBox, "question", answer_yes)
    window.add_folder(new)
    qtbot.waitUntil(lambda: bool(asked))
    assert str(photo_dir) in asked[0] and str(new) in asked[0]
    _wait_moved(qtbot, window, new)


def test_a_folder_whose_disk_is_back_is_rescanned(qtbot, make_window, photo_dir, tmp_path):
    window = make_window()
    c = window.controller
    index_folder(qtbot, window, photo_dir)
    parked = tmp_path / "parked"
    _go_offline(qtbot, window, photo_dir, parked)
    assert c._offline_timer.isActive()  # looks now and then while a folder is away
    shutil.move(parked, photo_dir)
    with qtbot.waitSignal(c.indexFinished, timeout=INDEX_TIMEOUT_MS) as blocker:
        c.check_offline_folders()  # what the timer does
    assert blocker.args[0].report.encode.encoded == 0
    model = window.search_tab.folders_model
    qtbot.waitUntil(lambda: model.folders()[0].offline_since is None and not c.indexing)
    assert not c._offline_timer.isActive()
