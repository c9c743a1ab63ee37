"""The People tab, naming in place, merge, hide, "not this person", and the name chip."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit

from glimpse.core.signals import people
from glimpse.core.signals.people import Face

from .conftest import INDEX_TIMEOUT_MS
from .test_gui_text import _search
from .test_gui_window import index_folder, shown_paths


def _synthetic_people(lib, photo_ids: list[int]) -> None:  # type: ignore[no-untyped-def]
    """Two groups of faces (as the face pass would store them), then grouping."""
    rng = np.random.default_rng(0)
    centres = [rng.normal(size=128) for _ in range(2)]
    centres = [c / np.linalg.norm(c) * 2 for c in centres]
    with lib.catalog.transaction() as db:
        for n, pid in enumerate(photo_ids):
            c = centres[0] if n < 5 else centres[1]
            v = c + rng.normal(size=128) * 0.01
            people.replace_faces(db, pid, [Face((0.2, 0.2, 0.4, 0.4), 100, 200.0, 1.0, 1.0,
                                                v.astype(np.float32))])
    people.group_faces(lib.catalog)


@pytest.fixture
def people_window(qtbot, make_window, photo_dir: Path):  # type: ignore[no-untyped-def]
    window = make_window()
    window.controller.skip.add("ocr")
    window.controller.skip.add("faces")
    index_folder(qtbot, window, photo_dir)
    lib = window.controller.library
    ids = sorted(r.id for r in lib.indexed_photos())
    _synthetic_people(lib, ids)  # 5 photos of one person, 3 of another
    window.people_tab.refresh()
    return window


def test_people_tab_cards_naming_in_place_merge_hide(qtbot, people_window) -> None:  # type: ignore[no-untyped-def]
    window = people_window
    view = window.people_tab
    window.tabs.setCurrentWidget(view)
    model = view.model
    assert model.rowCount() == 2 and not view.empty.isVisible()
    assert model.index(0).data().endswith("5 photos") and model.index(1).data().endswith("3 photos")
    # Faces appear on the cards once the thumbnails are cut.
    qtbot.waitUntil(lambda: model.index(0).data(Qt.ItemDataRole.DecorationRole) is not None,
                    timeout=10_000)
    # Name in place: double-click opens an editor on the card.
    view.cards.setCurrentIndex(model.index(0))
    view.name_button.click()
    editor = view.cards.indexWidget(model.index(0)) or view.cards.findChild(QLineEdit)
    assert isinstance(editor, QLineEdit) and editor.isVisible()
    editor.setText("Anna")
    # What the delegate does on Return (offscreen key events do not reach its filter).
    view.cards.itemDelegate().commitData.emit(editor)
    view.cards.itemDelegate().closeEditor.emit(editor)
    assert model.index(0).data().startswith("Anna\n")
    anna = model.people[0].id
    assert people.names(window.controller.library.catalog) == {"anna": [anna]}
    # Merge: select both; the first (Anna) keeps her name.
    view.cards.selectAll()
    assert view.merge_button.isEnabled()
    view.merge_button.click()
    assert model.rowCount() == 1 and model.people[0].name == "Anna" and model.people[0].photos == 8
    # Not this person: the face leaves, Anna has one photo less.
    view.select(anna)
    assert view.faces.count() == 8
    view.faces.setCurrentRow(7)
    view.not_button.click()
    assert model.people[0].photos == 7 and view.faces.count() == 7
    # Hide: the card goes; the person is still there for `--all`.
    view.select(anna)
    view.hide_button.click()
    assert model.rowCount() == 0 and view.empty.isVisible()


def test_a_name_in_the_query_becomes_a_removable_chip(qtbot, people_window) -> None:  # type: ignore[no-untyped-def]
    window = people_window
    lib = window.controller.library
    first = window.people_tab.model.people[0]
    people.name_person(lib.catalog, first.id, "Anna")
    mine = {lib.catalog.photo(i).path for i in people.photo_ids_of(lib.catalog, [first.id])}
    tab = window.search_tab
    outcome = _search(qtbot, window, "Anna at the beach")
    assert tab.person_chip.isVisible() and tab.person_chip.text() == "Anna"
    assert {h.path for h in outcome.hits} == mine
    with qtbot.waitSignal(window.resultsShown, timeout=10_000) as blocker:
        tab.person_chip.click()  # search "Anna at the beach" as plain words
    assert not tab.person_chip.isVisible() and len(blocker.args[0].hits) == 8
    _search(qtbot, window, "anna at the beach")  # the closed chip stays closed for her
    assert not tab.person_chip.isVisible()
    _search(qtbot, window, "Zed at the beach")  # nobody's name: plain words
    assert not tab.person_chip.isVisible()
    outcome = _search(qtbot, window, "Anna")  # a name alone: that person's photos
    assert tab.person_chip.isVisible() and {h.path for h in outcome.hits} == mine


def test_show_photos_of_a_person_from_the_people_tab(qtbot, people_window) -> None:  # type: ignore[no-untyped-def]
    window = people_window
    view = window.people_tab
    view.select(view.model.people[1].id)
    with qtbot.waitSignal(window.resultsShown, timeout=10_000):
        view.photos_button.click()
    assert window.tabs.currentWidget() is window.search_tab
    assert len(shown_paths(window)) == 3
    assert window.search_tab.person_chip.text() == view.model.people[1].label


FLICKR = Path(__file__).resolve().parents[3] / "shared" / "data" / "flickr8k-1k" / "images"


@pytest.mark.skipif(not (FLICKR / "1244306891_8e78ae1620.jpg").is_file(),
                    reason="Flickr8k photos are not in ../shared")
def test_indexing_looks_for_faces_with_progress_and_fills_the_tab(qtbot, make_window,
                                                                   tmp_path: Path) -> None:
    from test_faces import edited_copies

    root = tmp_path / "people"
    edited_copies(FLICKR / "1244306891_8e78ae1620.jpg", root)
    shutil.copy(FLICKR / "1001773457_577c3a7d70.jpg", root / "dog.jpg")
    window = make_window()
    c = window.controller
    c.skip.add("ocr")
    phases: list[str] = []
    c.indexProgress.connect(lambda p: phases.append(p.phase))
    with qtbot.waitSignal(c.indexFinished, timeout=INDEX_TIMEOUT_MS * 2) as blocker:
        window.add_folder(root)
    outcome = blocker.args[0]
    assert outcome.report.passes["faces"].done == 6
    assert "faces" in phases and "Looking for faces in" in window.progress_label.text()
    qtbot.waitUntil(lambda: not c.indexing, timeout=INDEX_TIMEOUT_MS)
    view = window.people_tab
    assert view.model.rowCount() >= 1 and view.model.people[0].photos >= 4


def test_preview_outlines_faces_click_to_name_and_more_of_this_person(
        qtbot, people_window, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from glimpse.ui import people_view

    window = people_window
    lib = window.controller.library
    tab = window.search_tab
    _search(qtbot, window, "photo")
    # Select a photo of the 3-photo person (unnamed: outlined, no name yet).
    second = window.people_tab.model.people[1]
    theirs = people.photo_ids_of(lib.catalog, [second.id])
    row = next(r for r in range(tab.results_model.rowCount())
               if tab.results_model.hit(r).photo_id in theirs)
    tab.grid.setCurrentIndex(tab.results_model.index(row))
    pane = tab.preview
    qtbot.waitUntil(lambda: bool(pane._face_rects), timeout=10_000)
    (face,) = pane.faces
    assert face.person_id == second.id and face.name == second.label
    # Click the outlined face: asked for a name, the face goes to that person.
    monkeypatch.setattr(people_view, "ask_name", lambda parent, current: "Ben")
    rect, _ = pane._face_rects[0]
    pixmap = pane.image.pixmap()
    offset = ((pane.image.width() - pixmap.width()) // 2, (pane.image.height() - pixmap.height()) // 2)
    qtbot.mouseClick(pane.image, Qt.MouseButton.LeftButton,
                     pos=rect.center() + type(rect.center())(*offset))
    assert people.names(lib.catalog) == {"ben": [second.id]}  # the unnamed person is named
    assert pane.faces[0].name == "Ben" and "Ben</a>" in pane.people_label.text()
    assert any(p.name == "Ben" for p in window.people_tab.model.people)
    # The name in the preview links to more of this person.
    with qtbot.waitSignal(window.resultsShown, timeout=10_000) as blocker:
        pane.people_label.linkActivated.emit(f"person:{second.id}")
    assert {h.photo_id for h in blocker.args[0].hits} == theirs
    assert tab.person_chip.isVisible() and tab.person_chip.text() == "Ben"


def test_faces_of_a_video_are_outlined_on_their_keyframe_only(people_window, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A video's faces carry their keyframe's time: the preview outlines those of the
    frame it shows, and a face card is cut from that same frame."""
    from glimpse.ui import people_view

    window = people_window
    lib = window.controller.library
    clip = max(r.id for r in lib.indexed_photos())  # stands in for a video here
    vec = np.ones(128, dtype=np.float32)
    at_0 = Face((0.1, 0.1, 0.2, 0.2), 100, 200.0, 1.0, 1.0, vec, t_seconds=0.0)
    at_2 = Face((0.6, 0.3, 0.2, 0.2), 100, 200.0, 1.0, 1.0, vec, t_seconds=2.0)
    with lib.catalog.transaction() as db:
        people.replace_faces(db, clip, [at_0, at_2])
    assert [f.box for f in people_view.preview_faces(lib, clip, 2.0)] == [at_2.box]
    assert [f.box for f in people_view.preview_faces(lib, clip, 0.0)] == [at_0.box]
    assert people_view.preview_faces(lib, clip, 1.0) == []
    photo = min(r.id for r in lib.indexed_photos())  # a photo's faces have no time
    assert len(people_view.preview_faces(lib, photo)) == 1
    asked: list[float | None] = []
    pictures = window.people_tab.pictures
    monkeypatch.setattr(pictures.thumbnails, "request",
                        lambda path, fp, size, use_disk=True, t_seconds=None:
                        (asked.append(t_seconds), ("k", None))[1])
    row = next(f for f in people.faces_of_photo(lib.catalog, clip) if f.t_seconds == 2.0)
    assert pictures.face(lib, row) is None and asked == [2.0]


def test_cards_are_full_size_before_their_faces_are_cut(qtbot, people_window, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The cards view sizes every card like the first (uniform sizes): a card asked for
    before its face picture is ready shows a placeholder of the face's size, so no card
    stays clipped to a sliver once the pictures arrive."""
    from glimpse.ui import people_view

    view = people_window.people_tab
    monkeypatch.setattr(view.pictures, "face", lambda library, row: None)  # nothing cut yet
    view.refresh()
    icon = view.model.data(view.model.index(0), Qt.ItemDataRole.DecorationRole)
    assert icon is not None and (icon.width(), icon.height()) == (people_view.FACE_ICON,) * 2
    view.show()
    qtbot.waitUntil(lambda: view.cards.visualRect(view.model.index(0)).height() > 0)
    assert view.cards.visualRect(view.model.index(0)).height() >= people_view.FACE_ICON


def test_unnamed_faces_strip_lists_a_face_seen_once_and_names_it(  # type: ignore[no-untyped-def]
        qtbot, people_window, monkeypatch) -> None:
    from glimpse.ui import people_view

    window = people_window
    view = window.people_tab
    lib = window.controller.library
    assert view.unnamed.count() == 0 and view.unnamed.isHidden()  # everyone is in a person
    first = sorted(r.id for r in lib.indexed_photos())[0]
    (blob,) = lib.catalog.read("SELECT embedding FROM faces WHERE photo_id=?", (first,))[0]
    stranger = np.random.default_rng(9).normal(size=128)
    with lib.catalog.transaction() as db:  # the photo again, with a stranger beside
        people.replace_faces(db, first, [
            Face((0.2, 0.2, 0.4, 0.4), 100, 200.0, 1.0, 1.0, np.frombuffer(blob, dtype="<f4")),
            Face((0.65, 0.1, 0.3, 0.3), 90, 200.0, 1.0, 1.0,
                 (stranger / np.linalg.norm(stranger) * 2).astype(np.float32))])
    people.group_faces(lib.catalog)
    view.refresh()
    assert view.unnamed.count() == 1 and not view.unnamed.isHidden()
    assert view.model.rowCount() == 2
    monkeypatch.setattr(people_view, "ask_name", lambda parent, current: "Ben")
    view.name_unnamed_face(view.unnamed.item(0))
    assert view.unnamed.count() == 0 and view.model.rowCount() == 3
    (ben,) = people.names(lib.catalog)["ben"]
    assert view.selected_ids() == [ben] and people.person(lib.catalog, ben).photos == 1
    # the strip and Ben's faces cut their pictures from thumbnails still arriving
    qtbot.waitUntil(lambda: not view.pictures._waiting, timeout=10_000)
    assert not view.faces.item(0).icon().isNull()
