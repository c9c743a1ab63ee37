"""Settings: which model, on which device, and how big the thumbnails are.

Model and device are library settings (shared with the CLI through the
Library's settings.json); thumbnail size is a window preference (QSettings).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from glimpse.core.encoding import presets, speed
from glimpse.core.encoding.encoder import DEFAULT_MODEL, ModelSpec
from glimpse.core.errors import GlimpseError
from glimpse.ui.workers import Worker, WorkerPool

DEVICES = (("Automatic (GPU if available)", "auto"), ("CPU", "cpu"), ("GPU", "gpu"))
THUMB_SIZES = (("Small", 128), ("Medium", 192), ("Large", 256))
PRECISIONS = (("Fast (int8)", "int8"), ("Exact (fp32)", "fp32"))


@dataclass(frozen=True)
class SettingsValues:
    model: str
    device: str
    thumb_size: int
    precision: str = "int8"  # the image tower on the CPU (models.Encoder)


def known_model_names() -> list[str]:
    """open_clip's pretrained list (no download happens here), default first."""
    try:
        from glimpse.core.encoding.encoder import list_models

        names = [f"{arch}:{tag}" for arch, tag in list_models()]
    except Exception:  # open_clip missing or broken: typing a name still works
        names = []
    first = [DEFAULT_MODEL] + [p.model for p in presets.PRESETS if p.model != DEFAULT_MODEL]
    ordered = first + [n for n in names if n not in first]
    return ordered + ["GlimpseTiny:random"]


class SettingsDialog(QDialog):
    def __init__(self, current: SettingsValues, parent: QWidget | None = None,
                 model_names: list[str] | None = None, probe_path: Path | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Glimpse settings")
        self.setMinimumWidth(560)
        self.probe_path = probe_path or presets.default_probe_path()
        self.probes = presets.load_probes(self.probe_path)
        self._pool = WorkerPool(1, "settings", self)
        self._probe_worker: Worker | None = None

        # Presets first: most people choose by "fast or good", not by name.
        self.preset = QComboBox()
        self.preset.setObjectName("presetBox")
        for p in presets.PRESETS:
            self.preset.addItem(p.label, p.key)
        self.preset.addItem("Custom model", None)
        self.preset.activated.connect(self._on_preset_chosen)
        self.preset_info = QLabel()
        self.preset_info.setObjectName("presetInfo")
        self.preset_info.setWordWrap(True)
        self.measure_button = QPushButton("Measure speed here")
        self.measure_button.setToolTip(
            "Time each preset on this computer (random weights, no download; under a minute)"
        )
        self.measure_button.clicked.connect(self.measure_speed)
        preset_row = QHBoxLayout()
        preset_row.addWidget(self.preset, 1)
        preset_row.addWidget(self.measure_button)

        self.model = QComboBox()
        self.model.setEditable(True)
        self.model.addItems(model_names if model_names is not None else known_model_names())
        self.model.setCurrentText(current.model)
        self.model.editTextChanged.connect(self._sync_preset)
        self.model.setToolTip(
            "An open_clip model as ARCH:TAG (weights are downloaded once), or "
            "ARCH:/path/to/checkpoint for a local file."
        )
        browse = QPushButton("Checkpoint file…")
        browse.clicked.connect(self._choose_checkpoint)
        model_row = QHBoxLayout()
        model_row.addWidget(self.model, 1)
        model_row.addWidget(browse)

        self.device = QComboBox()
        for label, value in DEVICES:
            self.device.addItem(label, value)
        self.device.setCurrentIndex(max(0, self.device.findData(current.device)))

        self.precision = QComboBox()
        for label, value in PRECISIONS:
            self.precision.addItem(label, value)
        self.precision.setCurrentIndex(max(0, self.precision.findData(current.precision)))
        self.precision.setToolTip(
            "How photos are encoded on the CPU: int8 is about twice as fast and finds the "
            "same photos (vectors within 1% of fp32); fp32 is the exact model. GPUs use fp16."
        )

        self.thumb_size = QComboBox()
        for label, value in THUMB_SIZES:
            self.thumb_size.addItem(f"{label} ({value} px)", value)
        self.thumb_size.setCurrentIndex(max(0, self.thumb_size.findData(current.thumb_size)))

        self.note = QLabel(
            "Changing the model re-indexes your photos in the background; "
            "searches use the current model until the new one is ready."
        )
        self.note.setWordWrap(True)
        self.error = QLabel()
        self.error.setObjectName("errorLabel")
        self.error.setWordWrap(True)

        form = QFormLayout()
        form.addRow("Preset", preset_row)
        form.addRow("", self.preset_info)
        form.addRow("Model", model_row)
        form.addRow("Device", self.device)
        form.addRow("CPU encoding", self.precision)
        form.addRow("Thumbnails", self.thumb_size)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.note)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self._sync_preset(self.model.currentText())

    def _choose_checkpoint(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Choose an open_clip checkpoint", str(Path.home()),
            "Checkpoints (*.bin *.pt *.pth *.safetensors);;All files (*)",
        )
        if path:
            self.set_checkpoint(path)

    def set_checkpoint(self, path: str) -> None:
        arch = self.model.currentText().partition(":")[0] or DEFAULT_MODEL.partition(":")[0]
        self.model.setCurrentText(f"{arch}:{path}")

    def values(self) -> SettingsValues:
        return SettingsValues(
            self.model.currentText().strip(),
            str(self.device.currentData()),
            int(self.thumb_size.currentData()),
            str(self.precision.currentData()),
        )

    def accept(self) -> None:
        """Reject a malformed model name here, where the user can fix it."""
        try:
            spec = ModelSpec.parse(self.model.currentText())
            if spec.checkpoint is not None and not spec.checkpoint.is_file():
                raise GlimpseError(f"Checkpoint file {spec.checkpoint} does not exist.")
        except GlimpseError as exc:
            self.error.setText(str(exc))
            return
        super().accept()

    # -- presets ---------------------------------------------------------------

    def _on_preset_chosen(self, index: int) -> None:
        key = self.preset.itemData(index)
        if key is not None:
            self.model.setCurrentText(presets.preset(key).model)
        self._sync_preset(self.model.currentText())

    def _sync_preset(self, text: str) -> None:
        """Keep the preset box and its description in step with the model field."""
        chosen = presets.preset_for_model(text.strip())
        self.preset.blockSignals(True)
        self.preset.setCurrentIndex(
            self.preset.findData(chosen.key) if chosen else self.preset.count() - 1
        )
        self.preset.blockSignals(False)
        if chosen is None:
            self.preset_info.setText("A model of your choice (see `glimpse models`).")
            return
        self.preset_info.setText(
            f"{presets.describe(chosen, self.probes.get(chosen.model))}\n"
            f"{chosen.why}\nUnderstands: {chosen.languages}."
        )

    def measure_speed(self) -> Worker:
        """Probe the presets off the GUI thread; the figures appear when done."""
        self.measure_button.setEnabled(False)
        self.measure_button.setText("Measuring…")
        path = self.probe_path
        worker = Worker(lambda token, progress: speed.measure_presets(path, progress, force=True, cancel=token),
                        name="probe")
        worker.signals.progress.connect(lambda line: self.preset_info.setText(str(line)))
        worker.signals.finished.connect(self._on_measured)
        worker.signals.failed.connect(lambda exc: self._on_measured(None))
        self._probe_worker = worker
        self._pool.start(worker)
        return worker

    def _on_measured(self, probes: dict | None) -> None:
        if probes is not None:
            self.probes = probes
        self.measure_button.setEnabled(True)
        self.measure_button.setText("Measure speed here")
        self._sync_preset(self.model.currentText())

    def done(self, result: int) -> None:
        """Closing while a probe runs waits for it: the worker must not outlive the dialog."""
        self._pool.shutdown()
        super().done(result)
