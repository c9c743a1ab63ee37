"""The Label tab driven like a person would: typing, buttons and the Ctrl+Enter shortcut."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QApplication

from glimpse.evaluation.labels import STATUS_UNSUITABLE, LabelSet

TINY = "GlimpseTiny:random"


@pytest.fixture
def indexed_library(tmp_path: Path, photo_dir: Path):
    from glimpse.core.library import Library

    lib = Library(tmp_path / "lib", model=TINY, device="cpu")
    lib.add_folder(photo_dir)
    lib.index()
    yield lib
    lib.close()


@pytest.fixture
def tab(qtbot, indexed_library, tmp_path: Path):
    from glimpse.ui.label_tab import LabelTab

    widget = LabelTab(indexed_library)
    qtbot.addWidget(widget)
    widget.resize(900, 800)
    widget.show()
    widget.set_edit.setText(str(tmp_path / "set.csv"))
    type_text(qtbot, widget.labeler_edit, "Zoë")
    widget.target_spin.setValue(5)
    with qtbot.waitSignal(widget.imageShown, timeout=10_000):
        qtbot.mouseClick(widget.start_button, Qt.MouseButton.LeftButton)
    yield widget
    widget.shutdown()


def type_text(qtbot, widget, text: str) -> None:
    """Type like a keyboard would, one key event per character.

    QTest.keyClicks only knows ASCII (Qt's debug build asserts on others), so
    every other character is sent as a key event carrying just its text, the
    way an input method delivers it; a newline is the Return key.
    """
    for ch in text:
        if ch == "\n":
            qtbot.keyClick(widget, Qt.Key.Key_Return)
        elif ch.isascii():
            qtbot.keyClicks(widget, ch)
        else:
            for kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
                QApplication.sendEvent(
                    widget, QKeyEvent(kind, Qt.Key.Key_unknown, Qt.KeyboardModifier.NoModifier, ch)
                )


def type_labels(qtbot, tab, short: str, long: str) -> None:
    type_text(qtbot, tab.short_edit, short)
    type_text(qtbot, tab.long_edit, long)


NASTY_SHORT = '=cmd|\' /C calc\'!A0, "quoted", ünïcödé 日本 🐕'
NASTY_LONG = 'Line one, with commas.\nLine "two" — naïve café\n@last line'


def test_save_with_shortcut_writes_exactly_what_was_typed(qtbot, tab, tmp_path: Path) -> None:
    first = tab.session.current
    type_labels(qtbot, tab, NASTY_SHORT, NASTY_LONG)
    assert tab.long_edit.toPlainText() == NASTY_LONG
    with qtbot.waitSignal(tab.saved, timeout=5_000) as blocker:
        qtbot.keyClick(tab.long_edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    row = blocker.args[0]
    assert (row.short, row.long, row.labeler) == (NASTY_SHORT, NASTY_LONG, "Zoë")
    # On disk, byte-exact after the round trip, and escaped for spreadsheets.
    rows = LabelSet.open(tmp_path / "set.csv").rows
    assert [(r.path, r.short, r.long) for r in rows] == [(first.rel_path, NASTY_SHORT, NASTY_LONG)]
    raw = (tmp_path / "set.csv").read_text("utf-8")
    assert "'=cmd|" in raw  # the formula cell is stored inert for spreadsheets
    assert tab.counter.text() == "1 / 5"
    assert tab.session.current.rel_path != first.rel_path
    assert tab.short_edit.text() == "" and tab.long_edit.toPlainText() == ""


def test_keypad_enter_also_saves(qtbot, tab) -> None:
    qtbot.keyClicks(tab.short_edit, "keypad")
    with qtbot.waitSignal(tab.saved, timeout=5_000):
        qtbot.keyClick(tab.short_edit, Qt.Key.Key_Enter, Qt.KeyboardModifier.ControlModifier)


def test_sample_again_skips_without_saving(qtbot, tab, tmp_path: Path) -> None:
    first = tab.session.current
    qtbot.keyClicks(tab.short_edit, "not saved")
    with qtbot.waitSignal(tab.offerChanged, timeout=5_000):
        qtbot.mouseClick(tab.skip_button, Qt.MouseButton.LeftButton)
    assert tab.session.current.rel_path != first.rel_path
    assert tab.short_edit.text() == ""
    assert LabelSet.open(tmp_path / "set.csv").rows == []
    qtbot.waitUntil(lambda: not tab.image.source().isNull(), timeout=10_000)


def test_back_reopens_and_save_replaces(qtbot, tab, tmp_path: Path) -> None:
    first = tab.session.current
    qtbot.keyClicks(tab.short_edit, "a dgo")
    qtbot.mouseClick(tab.save_button, Qt.MouseButton.LeftButton)
    second = tab.session.current
    qtbot.mouseClick(tab.back_button, Qt.MouseButton.LeftButton)
    assert tab.session.current.rel_path == first.rel_path
    assert tab.short_edit.text() == "a dgo"
    assert "correction" in tab.save_button.text().lower()
    tab.short_edit.clear()
    qtbot.keyClicks(tab.short_edit, "a dog, corrected")
    with qtbot.waitSignal(tab.saved, timeout=5_000):
        qtbot.keyClick(tab.short_edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert tab.session.current == second  # back where we were
    rows = LabelSet.open(tmp_path / "set.csv").rows
    assert [(r.path, r.short) for r in rows] == [(first.rel_path, "a dog, corrected")]
    assert tab.counter.text() == "1 / 5"


def test_empty_short_label_is_refused_in_the_tab(qtbot, tab, tmp_path: Path) -> None:
    first = tab.session.current
    with qtbot.waitSignal(tab.message, timeout=5_000) as blocker:
        qtbot.mouseClick(tab.save_button, Qt.MouseButton.LeftButton)
    assert "short label" in blocker.args[0]
    assert tab.session.current == first
    assert LabelSet.open(tmp_path / "set.csv").rows == []


def test_unsuitable_and_resume_never_reoffers(qtbot, tab, indexed_library, tmp_path: Path) -> None:
    from glimpse.ui.label_tab import LabelTab

    done = set()
    for i in range(2):
        done.add(tab.session.current.rel_path)
        qtbot.keyClicks(tab.short_edit, f"photo {i}")
        qtbot.mouseClick(tab.save_button, Qt.MouseButton.LeftButton)
    done.add(tab.session.current.rel_path)
    tab.reason_combo.setCurrentText("too blurry")
    qtbot.mouseClick(tab.unsuitable_button, Qt.MouseButton.LeftButton)
    assert LabelSet.open(tmp_path / "set.csv").rows[-1].status == STATUS_UNSUITABLE

    again = LabelTab(indexed_library)
    qtbot.addWidget(again)
    again.set_edit.setText(str(tmp_path / "set.csv"))
    again.seed_spin.setValue(12345)
    assert again.start()
    offered = []
    while again.session.current is not None:
        offered.append(again.session.current.rel_path)
        qtbot.mouseClick(again.skip_button, Qt.MouseButton.LeftButton)
    assert len(offered) == 8 - 3 and not done & set(offered)
    assert again.counter.text() == "2 / 100"
    assert not again.save_button.isEnabled()
    again.shutdown()


def test_bad_set_file_shows_an_error(qtbot, indexed_library, tmp_path: Path) -> None:
    from glimpse.ui.label_tab import LabelTab

    bad = tmp_path / "bad.csv"
    bad.write_text("not,a,label,set\n", "utf-8")
    widget = LabelTab(indexed_library)
    qtbot.addWidget(widget)
    widget.set_edit.setText(str(bad))
    assert not widget.start()
    assert "header" in widget.message_label.text()
    assert not widget.save_button.isEnabled()
    widget.shutdown()


def test_one_click_start_uses_a_default_set_in_the_library(qtbot, indexed_library, tmp_path: Path) -> None:
    """No path typed: Start creates <library>/labels/<labeler>-<date>.csv, and a later
    start by the same labeler resumes that set (even on another day)."""
    import datetime

    from glimpse.ui.label_tab import LabelTab, default_set_path

    widget = LabelTab(indexed_library)
    qtbot.addWidget(widget)
    widget.show()
    assert widget.labeler() and widget.labeler_edit.text() == ""  # the login name: one click is enough
    widget.labeler_edit.setText("Zoë Ann/x")
    today = datetime.date.today().isoformat()
    expected = Path(indexed_library.root) / "labels" / f"Zoë_Ann_x-{today}.csv"
    assert widget.set_edit.text() == ""
    assert str(expected) in widget.set_edit.placeholderText()
    with qtbot.waitSignal(widget.imageShown, timeout=10_000):
        qtbot.mouseClick(widget.start_button, Qt.MouseButton.LeftButton)
    assert widget.session is not None and widget.session.path == expected
    type_labels(qtbot, widget, "a red car", "a red car on a grey road")
    with qtbot.waitSignal(widget.saved, timeout=5_000):
        qtbot.mouseClick(widget.save_button, Qt.MouseButton.LeftButton)
    assert len(LabelSet.open(expected).rows) == 1
    assert "resumes" in widget.set_edit.placeholderText()
    widget.shutdown()

    # Another day: the labeler's latest set is resumed, not a new one started.
    later = datetime.date.today() + datetime.timedelta(days=3)
    assert default_set_path(Path(indexed_library.root), "Zoë Ann/x", later) == expected
    assert default_set_path(Path(indexed_library.root), "Bob", later).name == f"Bob-{later.isoformat()}.csv"


def test_category_is_saved_with_the_label(qtbot, tab, tmp_path: Path) -> None:
    qtbot.keyClicks(tab.short_edit, "a happy day")
    tab.category_combo.setCurrentText("emotional")
    with qtbot.waitSignal(tab.saved, timeout=5_000) as blocker:
        qtbot.mouseClick(tab.save_button, Qt.MouseButton.LeftButton)
    assert blocker.args[0].category == "emotional"
    assert [r.category for r in LabelSet.open(tmp_path / "set.csv").rows] == ["emotional"]
    assert tab.category_combo.currentText() == ""  # the next photo starts uncategorised


def test_judging_mode_grades_with_one_key_each_and_resumes(qtbot, tab, tmp_path: Path) -> None:
    from glimpse.evaluation.judged import JudgedSet

    qtbot.keyClicks(tab.short_edit, "a colourful square")
    qtbot.mouseClick(tab.save_button, Qt.MouseButton.LeftButton)
    tab.mode_combo.setCurrentIndex(1)
    panel = tab.judge_panel
    assert tab.pages.currentWidget() is panel
    judged = tmp_path / "judged.csv"
    panel.set_edit.setText(str(tmp_path / "set.csv"))
    panel.judged_edit.setText(str(judged))
    with qtbot.waitSignal(panel.started, timeout=60_000) as blocker:
        qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    session = blocker.args[0]
    assert session.total == 8  # one query x the whole 8-photo gallery (top 20 of one model)
    assert panel.query_label.text() == "a colourful square"
    panel.setFocus()
    first = session.current
    with qtbot.waitSignal(panel.graded, timeout=5_000):
        qtbot.keyClick(panel, Qt.Key.Key_3)
    qtbot.keyClick(panel, Qt.Key.Key_S)  # skip: left ungraded
    qtbot.keyClick(panel, Qt.Key.Key_0)
    assert panel.counter.text() == "2 / 8"
    grades = JudgedSet.open(judged).grades
    assert grades[("a colourful square", first.image)] == 3
    assert sorted(grades.values()) == [0, 3]
    with qtbot.waitSignal(panel.started, timeout=60_000) as blocker:
        qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    assert blocker.args[0].done == 2  # resumed: graded pairs are not offered again
