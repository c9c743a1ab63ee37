"""The Evaluate tab runs an evaluation off the GUI thread and shows its table and plots."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from glimpse.evaluation.labels import LabelRow, LabelSet, utc_now_iso

TINY = "GlimpseTiny:random"
RUN_TIMEOUT_MS = 120_000


@pytest.fixture
def setup(tmp_path: Path, photo_dir: Path):
    from glimpse.core.library import Library

    lib = Library(tmp_path / "lib", model=TINY, device="cpu")
    lib.add_folder(photo_dir)  # not indexed: the tab's run must encode it
    label_set = LabelSet.open(tmp_path / "set.csv")
    for rel, short, long in [
        ("img_00.jpg", "red and blue blocks", "a grid of coloured blocks, red top left"),
        ("img_04.jpg", "green blocks", ""),
        ("trip/img_06.jpg", "a trip photo", "blocks, again, in several colours"),
    ]:
        label_set.append(LabelRow(rel, "", short, long, "t", utc_now_iso()))
    yield lib, label_set.path
    lib.close()


@pytest.fixture
def tab(qtbot, setup):
    from glimpse.ui.evaluate_tab import EvaluateTab

    lib, set_path = setup
    widget = EvaluateTab(lib)
    qtbot.addWidget(widget)
    widget.resize(1000, 800)
    widget.show()
    widget.set_edit.setText(str(set_path))
    yield widget
    widget.shutdown()


def test_runs_and_shows_table_and_plots(qtbot, tab, setup, tmp_path: Path) -> None:
    from test_eval_runner import perturbed_checkpoint

    second = f"GlimpseTiny:{perturbed_checkpoint(tmp_path / 'perturbed.pt')}"
    assert tab.models_edit.toPlainText() == TINY  # starts with the library's model
    tab.models_edit.setPlainText(f"{TINY}\n{second}")
    with qtbot.waitSignal(tab.evaluationFinished, timeout=RUN_TIMEOUT_MS) as blocker:
        qtbot.mouseClick(tab.run_button, Qt.MouseButton.LeftButton)
        assert tab.running() and not tab.run_button.isEnabled()
    result = blocker.args[0]
    assert not tab.running() and tab.run_button.isEnabled()
    # 2 models + 1 fusion + their better-of-two, x short (3 queries) and long (2 queries).
    model = tab.table.model()
    assert model.rowCount() == 8
    assert model.index(6, 0).data().startswith("min(")
    assert model.index(0, 0).data() == TINY
    headers = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(model.columnCount())]
    for name in ("hit@1", "Median rank", "MRR"):
        assert name in headers
    # Known-item measures under their own names, each once; none named after the
    # judged-set measures, and no hit@k for k beyond the gallery (100% by construction).
    assert len(headers) == len(set(headers))
    assert not [h for h in headers if h.startswith(("R@", "P@", "F1@", "nDCG"))]
    shown_ks = [int(h[4:]) for h in headers if h.startswith("hit@")]
    assert shown_ks and max(shown_ks) <= result.gallery_size < 50
    assert "exact" in tab.summary_label.text()
    assert "empty long label" in tab.summary_label.text()
    assert "rrf(" in tab.summary_label.text()
    assert len(tab.plot_labels) == len(result.plots) == 3
    assert all(not label.pixmap().isNull() for label in tab.plot_labels)
    assert (setup[1].parent / "set-eval" / "summary.json").is_file()
    # The query list: every (model, query) once, worst rank first, intended photo named.
    q = tab.queries_table
    n_rows = sum(len(v) for v in result.examples.values())
    assert q.rowCount() == n_rows == 2 * (3 + 2)  # the two models (not fusion rows)
    ranks = [int(q.item(r, 3).data(Qt.ItemDataRole.DisplayRole)) for r in range(q.rowCount())]
    assert ranks == sorted(ranks, reverse=True)
    worst = max((ex for exs in result.examples.values() for ex in exs), key=lambda ex: ex.rank)
    assert ranks[0] == worst.rank
    assert all(len(ex.top) == 5 and (ex.rank > 5 or ex.target in ex.top)
               for exs in result.examples.values() for ex in exs)


def test_cancel_stops_the_run(qtbot, tab, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    import glimpse.ui.evaluate_tab as module

    # Hold the job at its start until Cancel was pressed, so the test does not race it.
    cancelled = threading.Event()
    real = module.run_evaluation

    def held(*args, **kwargs):
        assert cancelled.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, "run_evaluation", held)
    with qtbot.waitSignal(tab.evaluationFailed, timeout=RUN_TIMEOUT_MS) as blocker:
        assert tab.run()
        qtbot.mouseClick(tab.cancel_button, Qt.MouseButton.LeftButton)
        cancelled.set()
    assert "stopped" in blocker.args[0].lower()
    assert tab.run_button.isEnabled() and not tab.cancel_button.isEnabled()


def test_input_errors_are_shown(qtbot, tab, tmp_path: Path) -> None:
    tab.set_edit.setText(str(tmp_path / "missing.csv"))
    with qtbot.waitSignal(tab.evaluationFailed, timeout=5_000) as blocker:
        assert not tab.run()
    assert "does not exist" in blocker.args[0]
    tab.set_edit.setText(str(tmp_path / "set.csv"))
    tab.short_check.setChecked(False)
    tab.long_check.setChecked(False)
    assert not tab.run()
    assert "Tick" in tab.status_label.text()


def test_bad_model_fails_with_a_message(qtbot, tab) -> None:
    tab.models_edit.setPlainText("NoSuchArch:random")
    with qtbot.waitSignal(tab.evaluationFailed, timeout=RUN_TIMEOUT_MS) as blocker:
        tab.run()
    assert "NoSuchArch" in blocker.args[0]


def test_wording_noise_and_folder_options_reach_the_run(qtbot, tab, setup) -> None:
    tab.templates_edit.setText("{} | a photo of {}")
    tab.ensemble_check.setChecked(True)
    tab.noise_combo.setCurrentIndex(2)  # junk
    tab.short_check.setChecked(False)
    tab.fuse_check.setChecked(False)
    root = tab.library.folder_paths()[0]
    tab.folder_edit.setText(root)  # the runner's own test checks that a subfolder narrows the gallery
    with qtbot.waitSignal(tab.evaluationFinished, timeout=RUN_TIMEOUT_MS) as blocker:
        assert tab.run()
    result = blocker.args[0]
    assert result.label_types == ["long", "long+junk"]
    rows = {tab.table.model().index(r, 0).data() for r in range(tab.table.model().rowCount())}
    assert {f'{TINY} "{{}}"', f'{TINY} "a photo of {{}}"', f"{TINY} ensemble(2 templates)"} <= rows
    assert len(result.noise_drops) == 3
    assert result.gallery_size == len(tab.library.indexed_photos())
