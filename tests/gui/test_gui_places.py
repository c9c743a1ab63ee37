"""The place filter, the place chip for a query naming a place, and video badges in the grid."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt

from conftest import make_photo
from glimpse.ui import preview as preview_mod
from glimpse.ui.results_model import BadgeRole
from test_places import DARLINGHURST, LISBON, PARIS, make_gps_photo
from test_video import make_video

from .test_gui_window import index_folder, shown_paths


def _folder(tmp_path: Path) -> Path:
    root = tmp_path / "trip"
    make_gps_photo(root / "lisbon1.jpg", 1, *LISBON)
    make_gps_photo(root / "lisbon2.jpg", 2, *LISBON)
    make_gps_photo(root / "paris.jpg", 3, *PARIS)
    make_photo(root / "nogps.jpg", 4)
    make_video(root / "clip.mp4", [50, 51, 52])
    return root


def _names(window) -> set[str]:  # type: ignore[no-untyped-def]
    return {Path(p).name for p in shown_paths(window)}


def _search(qtbot, window, text: str) -> None:  # type: ignore[no-untyped-def]
    tab = window.search_tab
    tab.search.setText(text)
    with qtbot.waitSignal(window.resultsShown, timeout=10_000):
        tab.run_search()


def test_place_filter_lists_places_and_filters(qtbot, make_window, tmp_path):
    window = make_window()
    index_folder(qtbot, window, _folder(tmp_path))
    tab = window.search_tab
    window.controller.refresh_folders()
    qtbot.waitUntil(lambda: tab.place_filter.findData("Portugal") > 0, timeout=10_000)
    assert tab.place_filter.itemText(tab.place_filter.findData("Lisbon")) == "Lisbon (2)"
    assert tab.place_filter.itemText(tab.place_filter.findData("France")) == "France (1)"

    _search(qtbot, window, "photo")
    assert len(_names(window)) == 5
    with qtbot.waitSignal(window.resultsShown, timeout=10_000):
        tab.place_filter.setEditText("lisbon")  # typed, lower case
        tab.place_filter.lineEdit().editingFinished.emit()
    assert _names(window) == {"lisbon1.jpg", "lisbon2.jpg"}
    assert tab.filters().place == "Lisbon"
    # places under the thumbnails
    model = tab.results_model
    assert {model.index(r).data(Qt.ItemDataRole.DisplayRole) for r in range(2)} == {"Lisbon, Portugal"}
    with qtbot.waitSignal(window.resultsShown, timeout=10_000):
        tab.set_place_filter(None)
    assert len(_names(window)) == 5


def test_place_in_query_offers_a_chip(qtbot, make_window, tmp_path):
    window = make_window()
    index_folder(qtbot, window, _folder(tmp_path))
    tab = window.search_tab
    _search(qtbot, window, "photo in lisbon")
    assert len(_names(window)) == 5  # raised, not filtered: nothing silently dropped
    assert {Path(p).name for p in shown_paths(window)[:2]} == {"lisbon1.jpg", "lisbon2.jpg"}
    [chip] = tab.place_chips()
    assert chip.text() == "Only Lisbon" and not tab.chips.isHidden()
    with qtbot.waitSignal(window.resultsShown, timeout=10_000):
        chip.click()
    assert _names(window) == {"lisbon1.jpg", "lisbon2.jpg"}
    assert tab.place_chips() == [] and tab.chips.isHidden()  # the filter is on now

    _search(qtbot, window, "a dog on a beach")
    assert tab.place_chips() == []


def test_the_place_box_offers_the_city_of_a_suburb_its_region_and_country(qtbot, make_window, tmp_path):
    root = tmp_path / "sydney"
    make_gps_photo(root / "a.jpg", 1, *DARLINGHURST)
    make_gps_photo(root / "b.jpg", 2, *DARLINGHURST)
    window = make_window()
    index_folder(qtbot, window, root)
    tab = window.search_tab
    window.controller.refresh_folders()
    qtbot.waitUntil(lambda: tab.place_filter.findData("Sydney") > 0, timeout=10_000)
    combo = tab.place_filter
    for name, kind in (("Sydney", "city"), ("New South Wales", "region"), ("Australia", "country")):
        i = combo.findData(name)
        assert combo.itemText(i) == f"{name} (2)"
        assert combo.itemData(i, Qt.ItemDataRole.ToolTipRole) == f"{kind}, 2 photos"


def test_a_place_or_a_not_read_from_the_query_has_a_chip_that_removes_it(qtbot, make_window, tmp_path):
    window = make_window()
    index_folder(qtbot, window, _folder(tmp_path))
    tab = window.search_tab
    _search(qtbot, window, "Lisbon")  # only a place: its photos
    assert _names(window) == {"lisbon1.jpg", "lisbon2.jpg"}
    [chip] = tab.read_chip_buttons()
    assert chip.text() == "in Lisbon" and tab.place_chips() == []  # already applied
    with qtbot.waitSignal(window.resultsShown, timeout=10_000):
        chip.click()
    assert len(_names(window)) == 5 and tab.read_chip_buttons() == []  # "Lisbon" as words

    _search(qtbot, window, "a photo without people")
    [chip] = tab.read_chip_buttons()
    assert chip.text() == "not people" and not tab.read_chips.isHidden()
    with qtbot.waitSignal(window.resultsShown, timeout=10_000):
        chip.click()
    assert tab.read_chip_buttons() == [] and tab.read_chips.isHidden()


def test_video_badge_thumbnail_and_open_at_time(qtbot, make_window, tmp_path, monkeypatch):
    window = make_window()
    root = _folder(tmp_path)
    index_folder(qtbot, window, root)
    tab = window.search_tab
    _search(qtbot, window, "photo")
    model = tab.results_model
    rows = {Path(model.hit(r).path).name: r for r in range(model.rowCount())}
    video_index = model.index(rows["clip.mp4"])
    assert video_index.data(BadgeRole) == "▶ 0:06"
    assert model.index(rows["nogps.jpg"]).data(BadgeRole) is None
    assert "video 0:06" in video_index.data(Qt.ItemDataRole.ToolTipRole)
    hit = model.hit(rows["clip.mp4"])
    # the frame thumbnail loads off-thread and comes back with the badge painted on
    video_index.data(Qt.ItemDataRole.DecorationRole)
    key = tab.thumbnails.request(hit.path, hit.fingerprint, model.thumb_size, t_seconds=hit.t_seconds)[0]
    qtbot.waitUntil(lambda: tab.thumbnails.get(key) is not None, timeout=10_000)
    plain = tab.thumbnails.get(key).toImage()
    badged = video_index.data(Qt.ItemDataRole.DecorationRole).pixmap(plain.size()).toImage()
    assert badged != plain
    corner = badged.pixelColor(6, badged.height() - 8)
    assert corner.red() < 100 and corner.green() < 100 and corner.blue() < 100  # dark badge

    opened: list[str] = []
    monkeypatch.setattr(preview_mod, "open_in_viewer", lambda path: opened.append(path) or True)
    monkeypatch.setattr(preview_mod.shutil, "which", lambda name: None)  # no known player
    tab.grid.setCurrentIndex(video_index)
    tab.open_selected()
    assert opened == [str(root / "clip.mp4")]
