"""Settings offers presets: choosing one fills in its model; the speed probe runs off the GUI thread."""

from __future__ import annotations

from glimpse.core.encoding import presets
from glimpse.ui.settings_dialog import SettingsDialog, SettingsValues


def test_choosing_a_preset_sets_its_model_and_says_what_it_is(qtbot, tmp_path):
    dialog = SettingsDialog(SettingsValues("ViT-B-32:laion2b_s34b_b79k", "auto", 160),
                            model_names=[], probe_path=tmp_path / "speed.json")
    qtbot.addWidget(dialog)
    assert dialog.preset.currentData() == "fast"  # the current model is a preset's
    assert "Flickr30k R@10 93.1%" in dialog.preset_info.text()
    assert "not measured yet" in dialog.preset_info.text()

    multilingual = dialog.preset.findData("multilingual")
    dialog.preset.setCurrentIndex(multilingual)
    dialog.preset.activated.emit(multilingual)
    assert dialog.values().model == "ViT-B-16-SigLIP-i18n-256:webli"
    assert "Russian" in dialog.preset_info.text() and "Chinese" in dialog.preset_info.text()

    dialog.model.setCurrentText("ViT-L-14:openai")  # typing a model of one's own
    assert dialog.preset.currentData() is None
    dialog.model.setCurrentText("ViT-B-32-256:datacomp_s34b_b86k")
    assert dialog.preset.currentData() == "balanced"


def test_measure_speed_probes_off_thread_and_shows_the_figures(qtbot, tmp_path, monkeypatch):
    tiny = presets.Preset("fast", "Fast", "GlimpseTiny:random", "tiny", presets.ENGLISH, None, None)
    monkeypatch.setattr(presets, "PRESETS", (tiny,))
    dialog = SettingsDialog(SettingsValues("GlimpseTiny:random", "cpu", 160),
                            model_names=[], probe_path=tmp_path / "speed.json")
    qtbot.addWidget(dialog)
    assert dialog.preset.currentData() == "fast"
    dialog.measure_speed()
    assert not dialog.measure_button.isEnabled()  # one probe at a time
    qtbot.waitUntil(lambda: dialog.measure_button.isEnabled(), timeout=60_000)
    assert "ms/photo" in dialog.preset_info.text()
    assert presets.load_probes(tmp_path / "speed.json")["GlimpseTiny:random"].image_ms > 0
