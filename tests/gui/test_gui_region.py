"""Search by a part of a photo: a rectangle dragged on the preview (core/search/region.py)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from .test_gui_window import index_folder


def _mouse(widget, kind: QEvent.Type, pos: QPoint, buttons: Qt.MouseButton) -> None:  # type: ignore[no-untyped-def]
    button = Qt.MouseButton.NoButton if kind == QEvent.Type.MouseMove else Qt.MouseButton.LeftButton
    event = QMouseEvent(kind, QPointF(pos), QPointF(widget.mapToGlobal(pos)), button, buttons,
                        Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, event)


def _previewing(qtbot, make_window, photo_dir, row: int):  # type: ignore[no-untyped-def]
    """A window showing the `row`-th result of a search in its preview."""
    window = make_window()
    index_folder(qtbot, window, photo_dir)
    tab = window.search_tab
    with qtbot.waitSignal(window.resultsShown, timeout=10_000):
        qtbot.keyClicks(tab.search, "snow")
    tab.grid.setCurrentIndex(tab.results_model.index(row))
    qtbot.waitUntil(lambda: not tab.preview._pixmap_rect().isEmpty(), timeout=10_000)
    return window, tab, tab.preview


def test_dragging_a_rectangle_on_the_preview_finds_photos_like_that_part(qtbot, make_window, photo_dir) -> None:  # type: ignore[no-untyped-def]
    window, tab, pane = _previewing(qtbot, make_window, photo_dir, 2)
    chosen = tab.selected_hit()
    assert pane.hint.isVisible()
    shown = pane._pixmap_rect()
    start = shown.topLeft() + QPoint(shown.width() // 2, 0)  # the top-right quarter
    end = shown.topLeft() + QPoint(shown.width() - 1, shown.height() // 2)
    left = Qt.MouseButton.LeftButton
    with qtbot.waitSignal(window.resultsShown, timeout=10_000) as blocker:
        _mouse(pane.image, QEvent.Type.MouseButtonPress, start, left)
        _mouse(pane.image, QEvent.Type.MouseMove, (start + end) / 2, left)
        _mouse(pane.image, QEvent.Type.MouseMove, end, left)
        assert pane._band.isVisible()  # the rubber band follows the drag
        _mouse(pane.image, QEvent.Type.MouseButtonRelease, end, Qt.MouseButton.NoButton)
    outcome = blocker.args[0]
    assert outcome.label.startswith("photos like a part of ")
    kind, (photo_id, part), _ = tab._query
    assert kind == "region" and photo_id == chosen.photo_id
    assert (part.x, part.y, part.w, part.h) == pytest.approx((0.5, 0.0, 0.5, 0.5), abs=0.02)
    # The app asked the engine the same question as `glimpse similar PHOTO --region ...`.
    lib = window.controller.library
    expected = lib.similar(chosen.photo_id, k=len(outcome.hits), collapse=lib.default_collapse(),
                           region=part)
    assert [h.photo_id for h in outcome.hits] == [h.photo_id for h in expected]
    assert not pane._band.isVisible()


def test_a_small_drag_is_a_click_and_searches_nothing(qtbot, make_window, photo_dir) -> None:  # type: ignore[no-untyped-def]
    _, _, pane = _previewing(qtbot, make_window, photo_dir, 0)
    asked = []
    pane.regionRequested.connect(lambda hit, part: asked.append(part))
    centre = pane._pixmap_rect().center()
    left = Qt.MouseButton.LeftButton
    _mouse(pane.image, QEvent.Type.MouseButtonPress, centre, left)
    _mouse(pane.image, QEvent.Type.MouseMove, centre + QPoint(3, 2), left)
    _mouse(pane.image, QEvent.Type.MouseButtonRelease, centre + QPoint(3, 2), Qt.MouseButton.NoButton)
    assert asked == [] and not pane._band.isVisible()
    assert pane.region_of(pane._pixmap_rect()) is not None  # the whole photo is a region
