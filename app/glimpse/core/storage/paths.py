"""Where a library lives by default, importable without the engine (numpy, Pillow),
so a command answered by the running service starts in milliseconds."""

from __future__ import annotations

from pathlib import Path

from glimpse.core import settings

LIBRARY_ENV = settings.setting("library").env


def default_library_dir() -> Path:
    """Where the catalog lives unless --library or GLIMPSE_LIBRARY says otherwise."""
    env = settings.text("library")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("Glimpse", appauthor=False))


def library_root(arg: str | Path | None) -> Path:
    """The library a command names (--library), or the default one."""
    return Path(arg).expanduser() if arg else default_library_dir()
