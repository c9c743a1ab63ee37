"""The files Glimpse could not use fully, and why: unreadable, skipped, not read by a
signal, or repaired. A user can fix or delete them."""

from __future__ import annotations

from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTableView,
    QVBoxLayout,
    QWidget,
)


class ErrorsDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Files Glimpse could not use")
        self.resize(820, 420)
        self.model = QStandardItemModel(0, 2, self)
        self.model.setHorizontalHeaderLabels(["File", "Reason"])
        self.view = QTableView()
        self.view.setModel(self.model)
        self.view.setSortingEnabled(True)
        self.view.verticalHeader().hide()
        self.view.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        self.view.horizontalHeader().setStretchLastSection(True)
        self.view.setColumnWidth(0, 420)
        self.summary = QLabel("Loading…")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.view, 1)
        layout.addWidget(buttons)

    def set_errors(self, rows: list[tuple[str, str]]) -> None:
        self.model.removeRows(0, self.model.rowCount())
        for path, reason in rows:
            items = [QStandardItem(path), QStandardItem(reason)]
            for item in items:
                item.setEditable(False)
                item.setToolTip(item.text())
            self.model.appendRow(items)
        self.summary.setText(
            f"{len(rows):,} files could not be read, were skipped, or had damaged data "
            "repaired. Unreadable ones are retried when they change; fix or remove them "
            "to clear this list."
            if rows else "Every file could be read."
        )
