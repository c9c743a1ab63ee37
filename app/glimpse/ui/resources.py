"""The one place that finds and loads resources/: icons, the app icon, the stylesheet.

Everything else asks this module, so a packaged build (PyInstaller puts data
under sys._MEIPASS) or a missing file changes one function, not twenty call
sites. A missing resource is never fatal: the app looks plainer, that's all.
"""

from __future__ import annotations

import logging
import sys
from functools import lru_cache
from pathlib import Path

from PySide6.QtGui import QIcon

from glimpse.core import settings

log = logging.getLogger(__name__)

APP_ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


@lru_cache(maxsize=1)
def resource_dir() -> Path | None:
    """resources/ of a source checkout, a PyInstaller bundle, or $GLIMPSE_RESOURCES."""
    candidates: list[Path] = []
    chosen = settings.text("resources")
    if chosen:
        candidates.append(Path(chosen))
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        candidates.append(Path(bundle) / "resources")
    here = Path(__file__).resolve()
    candidates.append(here.parents[3] / "resources")  # <repo>/app/glimpse/ui/resources.py
    candidates.append(here.parent / "resources")  # if ever shipped inside the package
    for path in candidates:
        if path.is_dir():
            return path
    log.info("no resources/ folder found; using plain Qt looks")
    return None


def resource_path(*parts: str) -> Path | None:
    root = resource_dir()
    if root is None:
        return None
    path = root.joinpath(*parts)
    return path if path.exists() else None


@lru_cache(maxsize=64)
def icon(name: str) -> QIcon:
    """A UI icon from resources/icons/ui/<name>.svg; an empty icon if absent."""
    path = resource_path("icons", "ui", f"{name}.svg")
    return QIcon(str(path)) if path is not None else QIcon()


@lru_cache(maxsize=1)
def app_icon() -> QIcon:
    """The app icon from resources/icons/app/glimpse-<size>.png, every size found."""
    result = QIcon()
    folder = resource_path("icons", "app")
    if folder is None:
        return result
    for size in APP_ICON_SIZES:
        path = folder / f"glimpse-{size}.png"
        if path.is_file():
            result.addFile(str(path))
    svg = folder / "glimpse.svg"
    if result.isNull() and svg.is_file():
        result.addFile(str(svg))
    return result


def stylesheet() -> str:
    path = resource_path("style.qss")
    if path is None:
        return ""
    try:
        return path.read_text("utf-8")
    except OSError as exc:
        log.warning("cannot read stylesheet %s: %s", path, exc)
        return ""
