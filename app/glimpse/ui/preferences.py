"""Window preferences, each declared once with its type and default (Picard's options idea).

These are per-user GUI choices kept in QSettings. Choices the CLI shares
(model, device) live in the Library's settings.json instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

ORGANISATION = "Glimpse"
APPLICATION = "Glimpse"


@dataclass(frozen=True)
class Option:
    key: str
    type: type
    default: Any


GEOMETRY = Option("window/geometry", QByteArray, QByteArray())
SPLITTER = Option("window/splitter", QByteArray, QByteArray())
THUMB_SIZE = Option("view/thumb_size", int, 160)
RESULT_COUNT = Option("search/result_count", int, 60)
LAST_FOLDER = Option("folders/last_browsed", str, "")


class Preferences:
    def __init__(self, settings: QSettings | None = None) -> None:
        self.qsettings = settings or QSettings(ORGANISATION, APPLICATION)

    def get(self, option: Option) -> Any:
        value = self.qsettings.value(option.key, option.default)
        if value is None:
            return option.default
        try:
            if option.type is int:
                return int(value)
            if option.type is str:
                return str(value)
            if option.type is QByteArray and not isinstance(value, QByteArray):
                return option.default
        except (TypeError, ValueError):
            return option.default
        return value

    def set(self, option: Option, value: Any) -> None:
        self.qsettings.setValue(option.key, value)

    def sync(self) -> None:
        self.qsettings.sync()
