"""End-to-end: the real window on a real (tiny, random-weight) model and generated photos."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QThreadPool, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QApplication

from .conftest import INDEX_TIMEOUT_MS, non_daemon_threads


def index_folder(qtbot, window, folder: Path) -> None:
    c = window.controller
    with qtbot.waitSignal(c.indexFinished, timeout=INDEX_TIMEOUT_MS) as blocker:
        window.add_folder(folder)
    assert not blocker.args[0].report.cancelled
    qtbot.waitUntil(lambda: window.search_tab.folders_model.totals()[0] > 0 and not c.indexing)


def shown_paths(window) -> list[str]:
    model = window.search_tab.results_model
    return [model.hit(r).path for r in range(model.rowCount())]


def test_first_run_says_add_a_folder(make_window):
    window = make_window()
    assert window.controller.state == "ready"
    assert window.search_tab.stack.currentIndex() == 0
    assert "Add a photo folder" in window.search_tab.empty_title.text()
    assert window.random_label.isVisible()  # random weights are flagged loudly
    window.statusBar().showMessage("a transient message")
    assert window.random_label.isVisible() and window.model_label.isVisible()


def test_index_then_search_shows_engine_first_result(qtbot, make_window, photo_dir):
    window = make_window()
    index_folder(qtbot, window, photo_dir)
    (row,) = window.search_tab.folders_model.folders()
    assert (row.indexed, row.pending, row.failed) == (8, 0, 0)

    expected = window.controller.library.search("a red car", k=1)[0].path
    with qtbot.waitSignal(window.resultsShown, timeout=10_000):
        qtbot.keyClicks(window.search_tab.search, "a red car")  # debounced: one search after typing
    assert shown_paths(window)[0] == expected
    assert window.search_tab.stack.currentIndex() == 1
    tip = window.search_tab.results_model.index(0).data(Qt.ItemDataRole.ToolTipRole)
    assert "score" in tip


def test_more_like_this_returns_the_photo_first(qtbot, make_window, photo_dir):
    window = make_window()
    index_folder(qtbot, window, photo_dir)
    with qtbot.waitSignal(window.resultsShown, timeout=10_000):
        qtbot.keyClicks(window.search_tab.search, "snow")
    window.search_tab.grid.setCurrentIndex(window.search_tab.results_model.index(3))
    chosen = window.search_tab.selected_hit()
    assert window.search_tab.preview.hit == chosen  # the preview follows the selection
    with qtbot.waitSignal(window.resultsShown, timeout=10_000) as blocker:
        qtbot.keyClick(window.search_tab.grid, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    hits = blocker.args[0].hits
    assert hits[0].path == chosen.path
    assert hits[0].score == pytest.approx(1.0, abs=1e-3)


def test_dropping_an_image_searches_by_it(qtbot, make_window, photo_dir, tmp_path):
    window = make_window()
    index_folder(qtbot, window, photo_dir)
    outside = tmp_path / "dropped.jpg"  # not in the catalog: encoded on the fly
    shutil.copy(photo_dir / "img_04.jpg", outside)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(outside))])
    event = QDropEvent(QPointF(50, 50), Qt.DropAction.CopyAction, mime,
                       Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(window.resultsShown, timeout=10_000):
        window.dropEvent(event)
    assert Path(shown_paths(window)[0]).name == "img_04.jpg"


def test_filter_by_folder(qtbot, make_window, photo_dir):
    window = make_window()
    index_folder(qtbot, window, photo_dir / "trip")
    other = photo_dir.parent / "other"
    other.mkdir()
    for name in ("img_00.jpg", "img_01.jpg", "img_02.jpg"):
        shutil.copy(photo_dir / name, other / name.replace("img", "copy"))
    with qtbot.waitSignal(window.controller.indexFinished, timeout=INDEX_TIMEOUT_MS):
        window.add_folder(other)
    qtbot.waitUntil(lambda: len(window.search_tab.folders_model.folders()) == 2)
    with qtbot.waitSignal(window.resultsShown, timeout=10_000):
        qtbot.keyClicks(window.search_tab.search, "mountains")
    assert len(shown_paths(window)) == 5

    trip = str((photo_dir / "trip").resolve())
    with qtbot.waitSignal(window.resultsShown, timeout=10_000):
        window.search_tab.folder_filter.setCurrentIndex(window.search_tab.folder_filter.findData(trip))
    paths = shown_paths(window)
    assert len(paths) == 2 and all(p.startswith(trip) for p in paths)


def test_keyboard_find_and_escape(qtbot, make_window, photo_dir):
    window = make_window()
    index_folder(qtbot, window, photo_dir)
    window.search_tab.grid.setFocus()
    qtbot.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(window.search_tab.search.hasFocus)
    with qtbot.waitSignal(window.resultsShown, timeout=10_000):
        qtbot.keyClicks(window.search_tab.search, "cat")
    qtbot.keyClick(window.search_tab.search, Qt.Key.Key_Down)  # into the grid
    assert window.search_tab.grid.hasFocus() and window.search_tab.grid.currentIndex().row() == 0
    qtbot.keyClick(window.search_tab.grid, Qt.Key.Key_Right)
    assert window.search_tab.grid.currentIndex().row() == 1
    qtbot.keyClick(window.search_tab.grid, Qt.Key.Key_Escape)
    assert window.search_tab.search.text() == "" and window.search_tab.results_model.rowCount() == 0


def test_model_load_error_is_shown_not_raised(qtbot, make_window, tmp_path):
    window = make_window(model=f"ViT-B-32:{tmp_path / 'missing.bin'}")
    assert window.controller.state == "error"
    assert window.search_tab.stack.currentIndex() == 0
    assert "Settings" in window.search_tab.empty_text.text()
    assert "missing.bin" in window.search_tab.empty_text.text()
    assert "Model not loaded" in window.model_label.text()


def test_model_error_page_offers_a_checkpoint_file(qtbot, make_window, tmp_path, monkeypatch):
    import torch

    from glimpse.core.encoding.encoder import Encoder, ModelSpec

    window = make_window(model=f"GlimpseTiny:{tmp_path / 'missing.pt'}")
    assert window.controller.state == "error"
    assert window.search_tab.empty_button.text() == "Choose a checkpoint file…"
    good = tmp_path / "tiny.pt"
    torch.save(Encoder(ModelSpec.parse("GlimpseTiny:random")).model.state_dict(), good)
    monkeypatch.setattr(
        "glimpse.ui.main_window.QFileDialog.getOpenFileName", lambda *a, **k: (str(good), "")
    )
    with qtbot.waitSignal(window.controller.stateChanged, timeout=60_000,
                          check_params_cb=lambda state, _m: state == "ready"):
        qtbot.mouseClick(window.search_tab.empty_button, Qt.MouseButton.LeftButton)
    assert str(window.controller.library.spec) == f"GlimpseTiny:{good}"


def _all_pools(window) -> list[QThreadPool]:
    return [p.pool for p in window.controller.pools()] + [window.thumbnails.workers.pool]


def test_cancel_indexing_keeps_what_was_done(qtbot, make_window, photo_dir):
    window = make_window()
    c = window.controller
    c.batch_size = 2
    with qtbot.waitSignal(c.indexStarted, timeout=10_000):
        window.add_folder(photo_dir)
    c.pause_indexing(True)  # the job stops at its first checkpoint: after one batch
    qtbot.waitUntil(lambda: window.progress_label.text().startswith("Encoding 2 / 8"),
                    timeout=INDEX_TIMEOUT_MS)
    assert window.cancel_button.isVisible()
    with qtbot.waitSignal(c.indexFinished, timeout=INDEX_TIMEOUT_MS) as blocker:
        qtbot.mouseClick(window.cancel_button, Qt.MouseButton.LeftButton)
    report = blocker.args[0].report
    assert report.cancelled and report.encode.encoded == 2
    assert not window.cancel_button.isVisible()
    qtbot.waitUntil(lambda: window.search_tab.folders_model.totals()[:2] == (2, 6))


def test_close_mid_indexing_leaves_no_thread_and_loses_nothing(qtbot, make_window, photo_dir, tmp_path):
    window = make_window()
    c = window.controller
    c.batch_size = 2
    with qtbot.waitSignal(c.indexStarted, timeout=10_000):
        window.add_folder(photo_dir)
    c.pause_indexing(True)
    qtbot.waitUntil(lambda: window.progress_label.text().startswith("Encoding 2 / 8"),
                    timeout=INDEX_TIMEOUT_MS)
    window.close()
    assert all(pool.activeThreadCount() == 0 for pool in _all_pools(window))
    assert QThreadPool.globalInstance().activeThreadCount() == 0
    assert non_daemon_threads() == [], threading.enumerate()
    QApplication.processEvents()  # late signals from finished workers must not crash

    from glimpse.core.library import Library

    with Library(tmp_path / "library", model="GlimpseTiny:random") as lib:
        assert lib.catalog.counts()["ok"] == 2  # the committed batch survived


def test_label_and_evaluate_tabs_share_the_window_library(qtbot, make_window):
    window = make_window()
    assert [window.tabs.tabText(i) for i in range(window.tabs.count())] == [
        "Search", "Label", "Evaluate", "People"]
    assert window.label_tab.library is window.controller.library is not None
    assert window.evaluate_tab.library is window.controller.library
    assert window.people_tab.library is window.controller.library
    qtbot.keyClick(window, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)
    assert window.tabs.currentWidget() is window.label_tab
    # Search shortcuts stand aside on the other tabs (Esc, Ctrl+V belong to text boxes)...
    assert not window.clear_action.isEnabled() and not window.paste_action.isEnabled()
    # ...and Ctrl+F brings the search back.
    qtbot.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert window.tabs.currentWidget() is window.search_tab and window.clear_action.isEnabled()


def test_changing_the_model_reindexes_while_the_old_one_answers(qtbot, make_window, photo_dir, tmp_path):
    import torch

    from glimpse.core.encoding.encoder import Encoder, ModelSpec
    from glimpse.ui.settings_dialog import SettingsValues

    window = make_window()
    index_folder(qtbot, window, photo_dir)
    lib = window.controller.library
    old_spec = lib.spec
    source = Encoder(ModelSpec.parse("GlimpseTiny:random"))
    with torch.no_grad():
        for p in source.model.parameters():
            p.add_(0.05)
    ckpt = tmp_path / "other.pt"
    torch.save(source.model.state_dict(), ckpt)
    new_model = f"GlimpseTiny:{ckpt}"

    answered_by: list[str] = []
    with qtbot.waitSignal(window.controller.indexFinished, timeout=INDEX_TIMEOUT_MS) as blocker:
        window.apply_settings(SettingsValues(new_model, "cpu", window.current_settings().thumb_size))
        # Until the new model has encoded everything, searches use the old one.
        answered_by.append(str(lib.spec))
        assert lib.search("a boat", k=3)
    assert answered_by == [str(old_spec)]
    assert blocker.args[0].switched_to == new_model
    assert str(lib.spec) == new_model
    models = {mid: n for mid, _, n in lib.catalog.known_models()}
    assert models[old_spec.model_id] == 8 and models[ModelSpec.parse(new_model).model_id] == 8
    hit = lib.similar(photo_dir / "img_01.jpg", k=1)[0]
    assert hit.path == str(photo_dir / "img_01.jpg")


def test_search_answers_while_an_indexing_batch_is_being_encoded(qtbot, make_window, photo_dir, tmp_path):
    from conftest import make_photo

    window = make_window()
    index_folder(qtbot, window, photo_dir)
    for i in range(8):
        make_photo(photo_dir / "more" / f"m{i}.jpg", seed=500 + i)
    encoder = window.controller.library.encoder
    inside, release = threading.Event(), threading.Event()
    real = encoder.encode_images

    def stalled_forward(*args, **kwargs):  # type: ignore[no-untyped-def]
        # The indexer stops inside a batch's forward pass until the test has
        # searched: the search's text encoding must not wait for it.
        inside.set()
        release.wait(60)
        return real(*args, **kwargs)

    encoder.encode_images = stalled_forward
    try:
        window.controller.request_index()
        qtbot.waitUntil(inside.is_set, timeout=30_000)
        assert window.controller.indexing
        with qtbot.waitSignal(window.resultsShown, timeout=10_000) as shown:
            qtbot.keyClicks(window.search_tab.search, "a lighthouse")
        assert shown.args[0].hits
    finally:
        release.set()
        encoder.encode_images = real
    qtbot.waitUntil(lambda: not window.controller.indexing, timeout=INDEX_TIMEOUT_MS)


def test_check_library_repairs_a_damaged_vector_and_encodes_it_again(qtbot, make_window, photo_dir):
    """Library > Check library…: the report says what was repaired, the photo is
    encoded again by the index run the check queues, and the files list names it."""
    window = make_window()
    index_folder(qtbot, window, photo_dir)
    c = window.controller
    lib = c.library
    key = lib.catalog.known_model(lib.spec.model_id)[0]
    victim = lib.catalog.read("SELECT MIN(photo_id) FROM embeddings WHERE model_key=?", (key,))[0][0]
    with lib.catalog.transaction() as db:
        db.execute("UPDATE embeddings SET vector = substr(vector, 1, 10) WHERE photo_id=?", (victim,))
    assert window.check_action in window.library_button.menu().actions()
    with qtbot.waitSignal(c.checkFinished, timeout=INDEX_TIMEOUT_MS) as checked, \
            qtbot.waitSignal(c.indexFinished, timeout=INDEX_TIMEOUT_MS):
        window.check_action.trigger()
    report = checked.args[0]
    assert report.sound and report.needs_index
    text = window.check_result.text()
    assert "Repaired: 1 stored vector of" in text and "Checked 8 photos" in text
    qtbot.waitUntil(lambda: not c.indexing)
    assert lib.catalog.embedding_for(victim, key) is not None  # encoded again
    with qtbot.waitSignal(c.errorsLoaded, timeout=10_000) as loaded:
        window.files_action.trigger()
    assert any(path == lib.photo(victim).path and "encodes the photo again" in reason
               for path, reason in loaded.args[0])
