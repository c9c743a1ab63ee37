"""Watched folders and their counts as a table model (folder, indexed, pending, failed).

An offline folder (its disk unplugged) is shown greyed, "(offline)" after its
name, with the date in the tooltip: its photos are kept but not searched."""

from __future__ import annotations

import os
import time
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QPalette
from PySide6.QtWidgets import QApplication

from glimpse.core.storage.catalog import FolderRow

FolderRole = Qt.ItemDataRole.UserRole + 1
_Index = QModelIndex | QPersistentModelIndex

COLUMNS = ("Folder", "Indexed", "Pending", "Failed")


class FoldersModel(QAbstractTableModel):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._rows: list[FolderRow] = []

    def set_folders(self, rows: list[FolderRow]) -> None:
        """Update in place when the same folders are listed (keeps the selection)."""
        rows = list(rows)
        if [r.path for r in rows] == [r.path for r in self._rows]:
            self._rows = rows
            if rows:
                self.dataChanged.emit(self.index(0, 0), self.index(len(rows) - 1, len(COLUMNS) - 1))
            return
        self.beginResetModel()
        self._rows = rows
        self.endResetModel()

    def folders(self) -> list[FolderRow]:
        return list(self._rows)

    def folder(self, row: int) -> FolderRow | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def totals(self) -> tuple[int, int, int]:
        return (
            sum(r.indexed for r in self._rows),
            sum(r.pending for r in self._rows),
            sum(r.failed for r in self._rows),
        )

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        row = self.folder(index.row()) if index.isValid() else None
        if row is None:
            return None
        col = index.column()
        offline = row.offline_since is not None
        if role == Qt.ItemDataRole.DisplayRole:
            if col == 0:
                name = os.path.basename(row.path.rstrip(os.sep)) or row.path
                return f"{name} (offline)" if offline else name
            return f"{(row.indexed, row.pending, row.failed)[col - 1]:,}"
        if role == Qt.ItemDataRole.ToolTipRole:
            tip = (
                f"{row.path}\n{row.indexed:,} indexed, {row.pending:,} waiting, "
                f"{row.failed:,} could not be read"
            )
            if offline:
                tip += f"\n{offline_text(row.offline_since)}: its photos are kept but left " \
                       "out of searches until it is back (right-click: Folder moved…)"
            return tip
        if role == Qt.ItemDataRole.ForegroundRole and offline:
            return QBrush(QApplication.palette().color(
                QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text))
        if role == Qt.ItemDataRole.TextAlignmentRole and col > 0:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == FolderRole:
            return row.path
        return None


def offline_text(offline_since: float | None) -> str:
    if offline_since is None:
        return ""
    return "Offline since " + time.strftime("%Y-%m-%d %H:%M", time.localtime(offline_since))
