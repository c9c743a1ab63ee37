"""Weaker matches folded under a button in the results header (core/search/relevance.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import SHARED

from .test_gui_window import index_folder, shown_paths

ASSET = Path(__file__).resolve().parents[1] / "assets" / "flickr-small-clip"
LEARNED = f"GlimpseFlickrSmall:{ASSET / 'GlimpseFlickrSmall.pt'}"
FLICKR = SHARED / "data" / "flickr8k-1k" / "images"


@pytest.mark.skipif(not FLICKR.is_dir(), reason=f"{FLICKR} is absent")
def test_weaker_matches_are_folded_and_counted(qtbot, make_window, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("GLIMPSE_RELEVANCE_CUTOFF", raising=False)
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in sorted(p.name for p in FLICKR.iterdir())[:20]:
        shutil.copy(FLICKR / name, photos / name)
    window = make_window(model=LEARNED)
    index_folder(qtbot, window, photos)
    tab = window.search_tab
    tab.search.setText("a dog running on the grass")
    with qtbot.waitSignal(window.resultsShown, timeout=20_000) as blocker:
        tab.run_search()
    hits = blocker.args[0].hits
    weak = [h.path for h in hits if h.weak]
    strong = [h.path for h in hits if not h.weak]
    assert weak and strong, "20 photos and a dog query: some close, some not"
    button = tab.weaker_button
    assert button.isVisible() and button.text() == f"+ {len(weak)} weaker matches"
    assert shown_paths(window) == strong
    assert tab.results_header.text().startswith(f"{len(strong)} photos for")
    button.click()
    assert shown_paths(window) == strong + weak
    assert button.text() == f"Hide {len(weak)} weaker matches"
    button.click()
    assert shown_paths(window) == strong

    # Nothing folds away when nothing else came back: the nearest photos are shown.
    tab._set_results([h for h in hits if h.weak])
    assert shown_paths(window) == weak and not button.isVisible()
