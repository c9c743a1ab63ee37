"""Search results as a Qt list model, so the grid view only paints what is visible.

The model asks the thumbnail cache for a picture only when the view asks for
an item's decoration, i.e. when that item is on screen: a thousand results
cost a thousand rows of Python data, not a thousand decodes.
"""

from __future__ import annotations

import os
from html import escape
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    QSize,
    Qt,
)
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPixmap

from glimpse.core.search.ranking import SearchHit
from glimpse.ui.preview import clock
from glimpse.ui.thumbnails import ThumbnailCache

HitRole = Qt.ItemDataRole.UserRole + 1
PathRole = Qt.ItemDataRole.UserRole + 2
ScoreRole = Qt.ItemDataRole.UserRole + 3
BadgeRole = Qt.ItemDataRole.UserRole + 4  # "▶ 0:42" on a video's thumbnail, else None
TextMatchRole = Qt.ItemDataRole.UserRole + 5  # True when found by the words read in it

BADGE_COLOR = QColor(255, 196, 0)  # a yellow "text" tag, readable on any photo

_Index = QModelIndex | QPersistentModelIndex


def badge_text(hit: SearchHit) -> str | None:
    return f"▶ {clock(hit.duration)}" if hit.kind == "video" and hit.duration is not None else None


def _with_badge(pixmap: QPixmap, text: str) -> QPixmap:
    """A copy of a video's frame with its duration drawn in the lower left corner."""
    out = QPixmap(pixmap)
    painter = QPainter(out)
    font = QFont(painter.font())
    font.setPixelSize(max(10, out.height() // 11))
    font.setBold(True)
    painter.setFont(font)
    rect = painter.fontMetrics().boundingRect(text).adjusted(-5, -2, 5, 2)
    rect.moveBottomLeft(out.rect().bottomLeft() + QPoint(4, -4))
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(0, 0, 0, 170))
    painter.drawRoundedRect(rect, 4, 4)
    painter.setPen(QColor(255, 255, 255))
    painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)
    painter.end()
    return out


def _placeholder(size: int) -> QPixmap:
    pixmap = QPixmap(size, size)
    pixmap.fill(QColor(0, 0, 0, 0))
    painter = QPainter(pixmap)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(128, 128, 128, 40))
    painter.drawRoundedRect(4, 4, size - 8, size - 8, 6, 6)
    painter.end()
    return pixmap


def with_text_badge(pixmap: QPixmap) -> QPixmap:
    """A copy of a thumbnail with a small "Aa" tag in its top-left corner: this result
    was found by the text in the photo, not (only) by how it looks."""
    out = QPixmap(pixmap)
    if out.isNull():
        return out
    side = max(14, min(out.width(), out.height()) // 5)
    painter = QPainter(out)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(BADGE_COLOR)
    painter.drawRoundedRect(2, 2, side * 3 // 2, side, 3, 3)
    painter.setPen(QColor(0, 0, 0))
    font = painter.font()
    font.setPixelSize(max(8, side * 2 // 3))
    font.setBold(True)
    painter.setFont(font)
    painter.drawText(2, 2, side * 3 // 2, side, Qt.AlignmentFlag.AlignCenter, "Aa")
    painter.end()
    return out


class ResultsModel(QAbstractListModel):
    def __init__(self, thumbnails: ThumbnailCache, thumb_size: int = 192, parent=None) -> None:
        super().__init__(parent)
        self._hits: list[SearchHit] = []
        self._rows_by_key: dict[str, list[int]] = {}
        self._key_by_row: dict[int, str] = {}
        self._badged: dict[str, QPixmap] = {}
        self.thumbnails = thumbnails
        self.thumb_size = thumb_size
        self._placeholder = _placeholder(thumb_size)
        thumbnails.ready.connect(self._on_thumbnail)
        thumbnails.failed.connect(self._on_thumbnail)

    # -- data -----------------------------------------------------------------

    def set_hits(self, hits: list[SearchHit]) -> None:
        self.beginResetModel()
        self._hits = list(hits)
        self._badged.clear()
        self._rows_by_key.clear()
        self._key_by_row.clear()
        self.endResetModel()

    def hits(self) -> list[SearchHit]:
        return list(self._hits)

    def hit(self, row: int) -> SearchHit | None:
        return self._hits[row] if 0 <= row < len(self._hits) else None

    def set_thumb_size(self, size: int) -> None:
        self.thumb_size = size
        self._placeholder = _placeholder(size)
        self._rows_by_key.clear()
        self._key_by_row.clear()
        if self._hits:
            self.dataChanged.emit(self.index(0), self.index(len(self._hits) - 1))

    # -- Qt model API ---------------------------------------------------------

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._hits)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        hit = self.hit(index.row()) if index.isValid() else None
        if hit is None:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            # Where it was taken says more at a glance than IMG_1234.jpg (the tooltip
            # and the preview keep the name); a folded group shows its size, as a
            # gallery's stack badge does.
            label = hit.place or os.path.basename(hit.path)
            return f"{label} · +{len(hit.duplicates)} alike" if hit.duplicates else label
        if role == Qt.ItemDataRole.DecorationRole:
            pixmap = self._thumbnail(index.row(), hit)
            return QIcon(with_text_badge(pixmap) if hit.text_match else pixmap)
        if role == BadgeRole:
            return badge_text(hit)
        if role == Qt.ItemDataRole.ToolTipRole:
            size = f"<br>{hit.width} × {hit.height}" if hit.width and hit.height else ""
            date = f"<br>{hit.taken_at.replace('T', ' ')}" if hit.taken_at else ""
            place = f"<br>{hit.place}" if hit.place else ""
            at = ""
            if hit.kind == "video" and hit.duration is not None:
                frame = f", best frame at {clock(hit.t_seconds)}" if hit.t_seconds is not None else ""
                at = f"<br>video {clock(hit.duration)}{frame}"
            dups = (f"<br>+{len(hit.duplicates)} near-duplicates (Space shows them)"
                    if hit.duplicates else "")
            source = escape(hit.word_source or "its words")
            text = f"<br><i>matched by {source}</i>" if hit.text_match else ""
            return f"<b>score {hit.score:.3f}</b><br>{hit.path}{at}{date}{place}{size}{dups}{text}"
        if role == Qt.ItemDataRole.SizeHintRole:
            return QSize(self.thumb_size + 16, self.thumb_size + 36)
        if role == HitRole:
            return hit
        if role == PathRole:
            return hit.path
        if role == ScoreRole:
            return hit.score
        if role == TextMatchRole:
            return hit.text_match
        return None

    def flags(self, index: _Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsDragEnabled

    # -- thumbnails -----------------------------------------------------------

    def _thumbnail(self, row: int, hit: SearchHit) -> QPixmap:
        key, pixmap = self.thumbnails.request(
            hit.path, hit.fingerprint, self.thumb_size, t_seconds=hit.t_seconds
        )
        if self._key_by_row.get(row) != key:
            self._key_by_row[row] = key
            self._rows_by_key.setdefault(key, []).append(row)
        badge = badge_text(hit)
        if pixmap is not None and badge is not None:
            badged = self._badged.get(key)
            if badged is None:
                badged = self._badged[key] = _with_badge(pixmap, badge)
            return badged
        return pixmap if pixmap is not None else self._placeholder

    def _on_thumbnail(self, key: str, *_: object) -> None:
        for row in self._rows_by_key.get(key, ()):
            index = self.index(row)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])
