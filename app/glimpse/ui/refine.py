"""Relevance feedback in the Search tab: "More like this one" / "Not this" marks.

A bar above the grid says how the current query is refined ("2 more like,
1 not") and clears the marks. The marks belong to one text query: typing a
new one starts afresh. The engine does the work (glimpse.core.search.feedback); this
widget only keeps the marked photos and tells the tab when they change.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

from glimpse.core.search.ranking import SearchHit


class RefineBar(QWidget):
    changed = Signal()  # the marks changed: search again

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("refineBar")
        self.liked: list[int] = []
        self.unliked: list[int] = []
        self.label = QLabel()
        self.label.setObjectName("refineLabel")
        self.clear_button = QPushButton("Clear marks")
        self.clear_button.setToolTip("Forget the “more like this one” and “not this” marks")
        self.clear_button.clicked.connect(self.clear_and_search)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.clear_button)
        # Plain + and - keys while the grid has focus: marking is quick, like a rating.
        self.like_action = QAction("More like this one", self)
        self.like_action.setShortcut(QKeySequence("+"))
        self.like_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.unlike_action = QAction("Not this", self)
        self.unlike_action.setShortcut(QKeySequence("-"))
        self.unlike_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self._refresh()

    def mark(self, hit: SearchHit, liked: bool) -> None:
        """Mark a result; marking it the other way round moves the mark."""
        for marks in (self.liked, self.unliked):
            if hit.photo_id in marks:
                marks.remove(hit.photo_id)
        (self.liked if liked else self.unliked).append(hit.photo_id)
        self._refresh()
        self.changed.emit()

    def clear(self) -> None:
        self.liked.clear()
        self.unliked.clear()
        self._refresh()

    def clear_and_search(self) -> None:
        had = bool(self.liked or self.unliked)
        self.clear()
        if had:
            self.changed.emit()

    def _refresh(self) -> None:
        parts = []
        if self.liked:
            parts.append(f"{len(self.liked)} more like")
        if self.unliked:
            parts.append(f"{len(self.unliked)} not")
        self.label.setText("Refined by your marks: " + ", ".join(parts) if parts else "")
        self.setVisible(bool(parts))
