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

from glimpse.core.errors import GlimpseError
from glimpse.core.models import DEFAULT_MODEL, ModelSpec

DEVICES = (("Automatic (GPU if available)", "auto"), ("CPU", "cpu"), ("GPU", "gpu"))
THUMB_SIZES = (("Small", 128), ("Medium", 192), ("Large", 256))


@dataclass(frozen=True)
class SettingsValues:
    model: str
    device: str
    thumb_size: int


def known_model_names() -> list[str]:
    """open_clip's pretrained list (no download happens here), default first."""
    try:
        from glimpse.core.models import list_models

        names = [f"{arch}:{tag}" for arch, tag in list_models()]
    except Exception:  # open_clip missing or broken: typing a name still works
        names = []
    ordered = [DEFAULT_MODEL] + [n for n in names if n != DEFAULT_MODEL]
    return ordered + ["GlimpseTiny:random"]


class SettingsDialog(QDialog):
    def __init__(self, current: SettingsValues, parent: QWidget | None = None,
                 model_names: list[str] | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Glimpse settings")
        self.setMinimumWidth(560)

        self.model = QComboBox()
        self.model.setEditable(True)
        self.model.addItems(model_names if model_names is not None else known_model_names())
        self.model.setCurrentText(current.model)
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
        form.addRow("Model", model_row)
        form.addRow("Device", self.device)
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
