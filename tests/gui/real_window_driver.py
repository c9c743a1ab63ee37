"""Run by test_real_window.py in a subprocess on a real X display (Xvfb, xcb).

Builds the real MainWindow through the app's own start-up pieces, opens a
library that the test indexed beforehand, types a query like a user, waits
for results, optionally saves a screenshot, closes the window and exits 0.
Any failure exits non-zero with the reason on stderr.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path


def fail(reason: str) -> None:
    print(f"DRIVER FAILED: {reason}", file=sys.stderr, flush=True)
    sys.exit(1)


def main() -> int:
    library, model, query = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    shot = Path(sys.argv[4]) if len(sys.argv) > 4 else None

    from glimpse.ui import qt_preflight

    problem = qt_preflight.preflight()
    if problem:
        fail(problem)

    from PySide6.QtGui import QGuiApplication
    from PySide6.QtTest import QTest

    from glimpse.ui.app import make_app
    from glimpse.ui.main_window import MainWindow

    app = make_app([sys.argv[0]])
    if QGuiApplication.platformName() != "xcb":
        fail(f"platform is {QGuiApplication.platformName()!r}, not xcb")
    window = MainWindow()  # at the size it chooses: the test's screen is 1280x800
    window.show()
    window.controller.open(library, model, "cpu", watch=False)

    def wait(what: str, condition, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                fail(f"timed out waiting for {what}")
            app.processEvents()
            time.sleep(0.01)

    wait("the window to be exposed", lambda: window.windowHandle() is not None and window.windowHandle().isExposed())
    free = window.screen().availableGeometry()
    if not free.contains(window.frameGeometry()):
        fail(f"window {window.frameGeometry()} is larger than the screen's free area {free}")
    wait("the library and model", lambda: window.controller.state in ("ready", "error")
         and window.search_tab.folders_model.rowCount() > 0)
    if window.controller.state != "ready":
        fail(f"controller state {window.controller.state}")
    shown: list[object] = []
    window.resultsShown.connect(shown.append)
    window.activateWindow()
    QTest.keyClicks(window.search_tab.search, query)
    wait("results", lambda: bool(shown) and window.search_tab.results_model.rowCount() > 0)
    count = window.search_tab.results_model.rowCount()
    if shot is not None:
        settle = time.monotonic() + 1.5  # thumbnails decode off-thread
        wait("thumbnails", lambda: time.monotonic() > settle)
        window.grab().save(str(shot))
    window.close()
    app.processEvents()
    if window.isVisible():
        fail("window did not close")
    print(f"RESULTS {count} platform={QGuiApplication.platformName()} "
          f"size={window.width()}x{window.height()}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
