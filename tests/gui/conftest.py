"""GUI test setup: offscreen Qt, QSettings in a temp folder, windows that always close.

The top-level tests/conftest.py already keeps tests off the user's library and
caches (GLIMPSE_LIBRARY, XDG_*); this adds the Qt side: QSettings never
touch the user's real settings, and every window is shut down (workers
joined) even when a test fails half-way.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest  # noqa: E402
from PySide6.QtCore import QCoreApplication, QSettings  # noqa: E402

TINY = "GlimpseTiny:random"
INDEX_TIMEOUT_MS = 60_000


@pytest.fixture(autouse=True)
def _isolated_qsettings(tmp_path_factory: pytest.TempPathFactory) -> None:
    folder = tmp_path_factory.mktemp("qsettings")
    QCoreApplication.setOrganizationName("GlimpseTests")
    QCoreApplication.setApplicationName("GlimpseTests")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    for scope in (QSettings.Scope.UserScope, QSettings.Scope.SystemScope):
        QSettings.setPath(QSettings.Format.IniFormat, scope, str(folder))


@pytest.fixture(autouse=True)
def _gc_on_gui_thread(qapp):
    """As in the app: cycles holding Qt objects must be collected on the GUI thread,
    or a worker thread's collection deletes widgets from earlier tests and crashes."""
    from glimpse.ui.gui_gc import GuiThreadGarbageCollector

    collector = GuiThreadGarbageCollector()
    yield
    collector.stop()


@pytest.fixture
def make_window(qtbot, tmp_path: Path):
    """Build a MainWindow on a fresh library; closed (and its threads joined) at teardown."""
    from glimpse.ui.main_window import MainWindow
    from glimpse.ui.preferences import Preferences
    from glimpse.ui.thumbnails import ThumbnailCache

    windows = []

    def make(model: str = TINY, open_library: bool = True, wait_ready: bool = True, **kw):
        prefs = Preferences(QSettings(str(tmp_path / "prefs.ini"), QSettings.Format.IniFormat))
        thumbs = ThumbnailCache(tmp_path / "thumbs")
        window = MainWindow(preferences=prefs, thumbnails=thumbs)
        thumbs.setParent(window)
        qtbot.addWidget(window)
        windows.append(window)
        window.show()
        if open_library:
            c = window.controller
            if wait_ready:
                with qtbot.waitSignal(c.stateChanged, timeout=INDEX_TIMEOUT_MS,
                                      check_params_cb=lambda s, m: s in ("ready", "error")):
                    c.open(tmp_path / "library", model, "cpu", **kw)
            else:
                c.open(tmp_path / "library", model, "cpu", **kw)
        return window

    yield make
    for window in windows:
        window.close()


def non_daemon_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate()
            if t is not threading.main_thread() and not t.daemon and t.is_alive()]
