"""Text matches and date words in the GUI: the badge, the highlighted text, the date chip."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from glimpse.core.search.ranking import SearchHit
from glimpse.core.storage.catalog import SNIPPET_CLOSE, SNIPPET_OPEN
from glimpse.ui.preview import PreviewPane
from glimpse.ui.results_model import BADGE_COLOR, ResultsModel, TextMatchRole
from glimpse.ui.thumbnails import ThumbnailCache

from .conftest import INDEX_TIMEOUT_MS
from .test_gui_window import index_folder, shown_paths


def _hit(n: int, path: str, text: bool) -> SearchHit:
    snippet = f"{SNIPPET_OPEN}Boarding{SNIPPET_CLOSE} pass <gate>" if text else None
    return SearchHit(n, path, 0.5, None, 10, 10, None, text_match=text, snippet=snippet,
                     word_source="text in the photo" if text else None)


def _corner(model: ResultsModel, row: int) -> QColor:
    icon = model.index(row).data(Qt.ItemDataRole.DecorationRole)
    image = icon.pixmap(model.thumb_size, model.thumb_size).toImage()
    return image.pixelColor(6, 6)


def test_results_matched_by_text_carry_a_badge(qtbot, tmp_path: Path) -> None:
    thumbs = ThumbnailCache(tmp_path / "thumbs")
    model = ResultsModel(thumbs, 96)
    model.set_hits([_hit(1, str(tmp_path / "a.png"), True), _hit(2, str(tmp_path / "b.png"), False)])
    assert model.index(0).data(TextMatchRole) is True
    assert model.index(1).data(TextMatchRole) is False
    assert _corner(model, 0).rgb() == BADGE_COLOR.rgb()
    assert _corner(model, 1).rgb() != BADGE_COLOR.rgb()
    assert "matched by text in the photo" in model.index(0).data(Qt.ItemDataRole.ToolTipRole)
    thumbs.shutdown()


def test_preview_highlights_the_matched_words(qtbot, tmp_path: Path) -> None:
    pane = PreviewPane(ThumbnailCache(tmp_path / "thumbs"))
    qtbot.addWidget(pane)
    pane.show()
    pane.show_hit(_hit(1, str(tmp_path / "a.png"), True))
    html = pane.found_text.text()
    assert '<span style="background-color: #ffd54f; color: black;">Boarding</span>' in html
    assert "&lt;gate&gt;" in html  # OCR text is escaped, never taken for markup
    assert pane.found_text.isVisible()
    pane.show_hit(_hit(2, str(tmp_path / "b.png"), False))
    assert not pane.found_text.isVisible() and pane.found_text.text() == ""


def _search(qtbot, window, text: str):  # type: ignore[no-untyped-def]
    tab = window.search_tab
    with qtbot.waitSignal(window.resultsShown, timeout=10_000) as blocker:
        tab.search.setText(text)
        tab.run_search()
    return blocker.args[0]


def test_date_words_become_a_removable_chip(qtbot, make_window, photo_dir) -> None:
    window = make_window()
    window.controller.skip.add("ocr")
    index_folder(qtbot, window, photo_dir)
    tab = window.search_tab
    outcome = _search(qtbot, window, "red car june 2021")  # the photos are dated today
    assert tab.date_chip.isVisible() and tab.date_chip.text() == "June 2021"
    assert outcome.hits == []
    with qtbot.waitSignal(window.resultsShown, timeout=10_000) as blocker:
        tab.date_chip.click()
    assert not tab.date_chip.isVisible()
    assert len(blocker.args[0].hits) == 8  # the filter is gone; the same words search all
    outcome = _search(qtbot, window, "red car this year")  # a new phrase: a chip again
    assert tab.date_chip.isVisible() and len(outcome.hits) == 8
    _search(qtbot, window, "red car")
    assert not tab.date_chip.isVisible()


def test_a_screenshot_found_by_its_text_shows_badge_and_text(qtbot, make_window, photo_dir) -> None:
    from test_ocr import render_text

    render_text(photo_dir / "ticket.png", ["BOARDING PASS", "Gate B22"])
    window = make_window()
    c = window.controller
    with qtbot.waitSignal(c.indexFinished, timeout=INDEX_TIMEOUT_MS * 2) as blocker:
        window.add_folder(photo_dir)
    assert blocker.args[0].report.passes["ocr"].done == 9
    qtbot.waitUntil(lambda: not c.indexing, timeout=INDEX_TIMEOUT_MS)
    _search(qtbot, window, "boarding pass")
    assert Path(shown_paths(window)[0]).name == "ticket.png"
    tab = window.search_tab
    assert tab.results_model.index(0).data(TextMatchRole)
    tab.grid.setCurrentIndex(tab.results_model.index(0))
    assert "BOARDING</span>" in tab.preview.found_text.text()


def test_reading_text_shows_progress_and_gives_way_to_encoding(qtbot, make_window, tmp_path) -> None:
    from test_ocr import render_text

    folder = tmp_path / "shots"
    for i in range(3):
        render_text(folder / f"note{i}.png", [f"note number {i}"])
    window = make_window()
    c = window.controller
    labels: list[str] = []

    def on_progress(p) -> None:  # type: ignore[no-untyped-def]
        if "ocr" in p.phase.split("+"):  # text and faces run as one group
            labels.append(window.progress_label.text())
            if len(labels) == 1:
                c.pause_indexing(True)  # hold the pass after its first photo...
                c.request_index()  # ...and ask for new encoding work: the pass yields

    c.indexProgress.connect(on_progress)
    with qtbot.waitSignal(c.indexFinished, timeout=INDEX_TIMEOUT_MS * 2) as first:
        window.add_folder(folder)
    text = first.args[0].report.passes["ocr"]
    # The pause lands after the photo in hand (progress reaches the GUI a little late).
    assert text.cancelled and text.done >= 1 and text.remaining >= 1
    assert labels[0].startswith("Searchable now · Reading text and looking for faces in ")
    assert "/ 3 photos (" in labels[0]
    with qtbot.waitSignal(c.indexFinished, timeout=INDEX_TIMEOUT_MS * 2) as second:
        pass  # the rerun starts by itself and finishes the reading
    rest = second.args[0].report.passes["ocr"]
    assert rest.done == text.remaining and rest.remaining == 0 and not rest.cancelled
