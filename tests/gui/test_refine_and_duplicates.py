"""The Search tab's relevance-feedback marks and near-duplicate groups, end to end."""

from __future__ import annotations

import shutil

from glimpse.core.library import Library
from glimpse.core.search import duplicates

from .test_gui_window import index_folder, shown_paths


def _search(qtbot, window, text: str):
    tab = window.search_tab
    with qtbot.waitSignal(window.resultsShown, timeout=30_000) as blocker:
        tab.search.setText(text)
        tab.run_search()
    return blocker.args[0]


def test_marks_refine_the_query_and_clear_with_a_new_one(qtbot, make_window, photo_dir):
    window = make_window()
    index_folder(qtbot, window, photo_dir)
    tab = window.search_tab
    first = _search(qtbot, window, "a photo")
    assert not tab.refine.isVisible()
    last = first.hits[-1]
    tab.grid.setCurrentIndex(tab.results_model.index(len(first.hits) - 1))
    with qtbot.waitSignal(window.resultsShown, timeout=30_000) as blocker:
        tab.refine.like_action.trigger()  # "+" on the selected result
    refined = blocker.args[0]
    assert tab.refine.liked == [last.photo_id] and tab.refine.isVisible()
    assert "1 more like" in tab.refine.label.text()
    score = {h.photo_id: h.score for h in refined.hits}
    assert score[last.photo_id] > last.score  # the query moved toward it
    tab.grid.setCurrentIndex(tab.results_model.index(0))
    with qtbot.waitSignal(window.resultsShown, timeout=30_000):
        tab.refine.unlike_action.trigger()
    assert "1 more like, 1 not" in tab.refine.label.text()
    with qtbot.waitSignal(window.resultsShown, timeout=30_000):
        tab.refine.clear_button.click()
    assert not tab.refine.liked and not tab.refine.isVisible()
    tab.grid.setCurrentIndex(tab.results_model.index(0))
    tab.refine.like_action.trigger()
    qtbot.waitUntil(lambda: tab.refine.liked != [])
    _search(qtbot, window, "another photo")  # a new query starts without marks
    assert tab.refine.liked == [] and not tab.refine.isVisible()


def test_near_duplicates_fold_into_one_result_that_expands(qtbot, make_window, photo_dir, monkeypatch):
    shutil.copy(photo_dir / "img_00.jpg", photo_dir / "copy_a.jpg")
    shutil.copy(photo_dir / "img_00.jpg", photo_dir / "copy_b.jpg")
    # The tiny random model's vectors all look alike, so folding is off for it;
    # fold exact copies only, as a trained model's threshold would.
    monkeypatch.setattr(Library, "default_collapse",
                        lambda self: duplicates.Rules(cosine=0.999, burst_cosine=2.0))
    window = make_window()
    index_folder(qtbot, window, photo_dir)
    tab = window.search_tab
    outcome = _search(qtbot, window, "a photo")
    assert len(outcome.hits) == 8  # ten photos, three of them one picture
    row = next(n for n, h in enumerate(outcome.hits) if h.duplicates)
    index = tab.results_model.index(row)
    assert "+2 alike" in index.data()
    tab.grid.setCurrentIndex(index)
    tab.duplicates_action.trigger()  # Space
    names = sorted(p.rsplit("/", 1)[-1] for p in shown_paths(window))
    assert names == ["copy_a.jpg", "copy_b.jpg", "img_00.jpg"]
    assert "3 near-duplicates" in tab.results_header.text()
    with qtbot.waitSignal(window.resultsShown, timeout=30_000):
        tab.back_action.trigger()  # Backspace
    assert len(shown_paths(window)) == 8
