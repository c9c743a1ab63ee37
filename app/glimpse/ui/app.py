"""`glimpse-gui` / `python -m glimpse`: show the window at once, open the library behind it."""

from __future__ import annotations

import argparse
import logging
import sys

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from glimpse import __version__
from glimpse.ui import preferences, qt_preflight, resources
from glimpse.ui.gui_gc import GuiThreadGarbageCollector

PREFLIGHT_FAILED = 3  # exit status when Qt's display plugin cannot load


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="glimpse-gui", description="Search your photos.")
    parser.add_argument("--library", help="library folder (default: per-user data folder)")
    parser.add_argument("--model", help="model as ARCH:TAG or ARCH:/path/to/checkpoint")
    parser.add_argument("--device", choices=["auto", "cpu", "gpu", "cuda", "mps"])
    parser.add_argument("--no-watch", action="store_true", help="do not watch folders for changes")
    parser.add_argument("--version", action="version", version=f"glimpse {__version__}")
    args, _qt_args = parser.parse_known_args(argv)
    return args


def make_app(argv: list[str] | None = None) -> QApplication:
    app = QApplication.instance() or QApplication(argv or sys.argv[:1])
    app.setOrganizationName(preferences.ORGANISATION)
    app.setApplicationName(preferences.APPLICATION)
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("glimpse")
    app.setWindowIcon(resources.app_icon())
    app.setStyleSheet(resources.stylesheet())
    return app  # type: ignore[return-value]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    # Before Qt: a missing system library makes Qt abort with advice that does
    # not help; say which libraries are missing and how to install them.
    problem = qt_preflight.preflight()
    if problem:
        qt_preflight.report(problem)
        return PREFLIGHT_FAILED
    app = make_app([sys.argv[0], *argv])

    from glimpse.ui.controller import READY
    from glimpse.ui.main_window import MainWindow

    collector = GuiThreadGarbageCollector(app)
    window = MainWindow()
    # The loaded model is hundreds of thousands of long-lived objects.
    window.controller.stateChanged.connect(
        lambda state, _message: collector.freeze() if state == READY else None
    )
    window.show()
    # The library opens (and the model loads) after the first paint.
    QTimer.singleShot(
        0,
        lambda: window.controller.open(args.library, args.model, args.device, watch=not args.no_watch),
    )
    try:
        return app.exec()
    finally:
        collector.stop()


if __name__ == "__main__":
    sys.exit(main())
