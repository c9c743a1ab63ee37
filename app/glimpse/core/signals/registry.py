"""The signals a library reads beyond a photo's look, in the order the pipeline runs them.

Each entry names a module of this package that declares
`STAGE = SignalStage(...)` (core/signals/base.py), and the switch that turns
it off (`--no-<switch>` in `glimpse index` and `glimpse watch`, a checkbox in
Settings). The switches are here, not in the modules, so that building the
command line never imports a signal (and numpy, Pillow with it): `glimpse
--help` and a search answered by the running app stay instant.

Cheap signals come first, so the slow ones (reading text, looking for faces)
never hold up the quick ones: after meaning, a photo gets its place within
moments, its text and faces later.

Adding a signal is one module in this package and one line here.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from glimpse.core.signals.base import SignalStage, WordSource


@dataclass(frozen=True)
class SignalEntry:
    module: str  # glimpse.core.signals.<module>
    name: str  # its STAGE's name (checked when loaded)
    switch: str | None = None  # --no-<switch>; None: always runs (cheap)
    what: str = ""  # for the switch's help: "reading text in photos"


SIGNALS: tuple[SignalEntry, ...] = (
    SignalEntry("places", "places"),
    SignalEntry("own_words", "own_words", "own-words",
                "indexing folder and file names, descriptions and keywords as words"),
    SignalEntry("text", "ocr", "ocr", "reading text in photos (`glimpse ocr` reads it later)"),
    SignalEntry("faces", "faces", "faces", "finding faces and people (`glimpse faces` later)"),
)


@lru_cache(maxsize=1)
def signal_stages() -> tuple[SignalStage, ...]:
    """Every declared signal, imported on first use (the modules load no models)."""
    from glimpse.core.signals.base import SignalStage

    stages = []
    for entry in SIGNALS:
        module = importlib.import_module(f"glimpse.core.signals.{entry.module}")
        stage = getattr(module, "STAGE", None)
        if not isinstance(stage, SignalStage):
            raise TypeError(f"glimpse.core.signals.{entry.module} declares no STAGE = SignalStage(...)")
        if stage.name != entry.name:
            raise ValueError(f"glimpse.core.signals.{entry.module}: STAGE is named {stage.name!r}, "
                             f"the registry says {entry.name!r}")
        stages.append(stage)
    return tuple(stages)


def switch_of(name: str) -> str | None:
    return next((e.switch for e in SIGNALS if e.name == name), None)


def stage(name: str) -> SignalStage:
    for s in signal_stages():
        if s.name == name:
            return s
    raise KeyError(f"no signal named {name!r}")


def word_sources() -> list[WordSource]:
    """Every signal's words for search, in the registry's order."""
    return [s.words for s in signal_stages() if s.words is not None]
