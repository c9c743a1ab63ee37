#!/usr/bin/env python3
"""Take docs/screenshot.png: the real window, real photos indexed, a query typed.

Run under a virtual screen (Debian's xvfb):
    xvfb-run -s "-screen 0 1440x900x24" python scripts/screenshot.py
The photos come from ../shared/scripts/get-sample-photos; they are indexed
first with the headless engine into a temporary library, then the window
opens that library, the query is typed, and the window grabs itself once the
results and their thumbnails are shown.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "app"))


def sample_photos() -> Path:
    script = ROOT.parent / "shared" / "scripts" / "get-sample-photos"
    out = subprocess.run([str(script)], capture_output=True, text=True, check=True)
    return Path(out.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", type=Path)
    ap.add_argument("--limit", type=int, default=80)
    ap.add_argument("--model", default="ViT-B-32:random")
    ap.add_argument("--query", default="flowers in a sunny meadow")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshot.png")
    ap.add_argument("--size", default="1400x860")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="glimpse-shot-"))
    os.environ["XDG_CONFIG_HOME"] = str(tmp / "config")  # keep the user's settings untouched
    os.environ["XDG_CACHE_HOME"] = str(tmp / "cache")
    folder = tmp / "Phone"
    folder.mkdir()
    source = args.photos or sample_photos()
    names = sorted(p for p in source.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp"))
    for p in names[: args.limit]:
        shutil.copy(p, folder / p.name)

    from glimpse.core.library import Library

    lib = Library(tmp / "lib", model=args.model)
    lib.add_folder(folder)
    lib.index()
    lib.read_text()  # the OCR pass, so text matches show their badge
    lib.close()

    from PySide6.QtCore import QTimer
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from glimpse.ui.app import make_app
    from glimpse.ui.main_window import MainWindow

    app = make_app([sys.argv[0]])
    window = MainWindow()
    width, height = (int(v) for v in args.size.split("x"))
    window.resize(width, height)
    window.show()
    window.controller.open(tmp / "lib", args.model, "cpu", watch=False)

    def wait(condition, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise SystemExit("timed out waiting for the window")
            app.processEvents()
            time.sleep(0.02)

    wait(lambda: window.controller.state == "ready" and window.search_tab.folders_model.rowCount() > 0)
    shown: list[object] = []
    window.resultsShown.connect(shown.append)
    QTest.keyClicks(window.search_tab.search, args.query)
    wait(lambda: bool(shown))
    window.search_tab.grid.setCurrentIndex(window.search_tab.results_model.index(0))
    # Let thumbnails and the preview decode off-thread and paint.
    settle = time.monotonic() + 6
    wait(lambda: time.monotonic() > settle)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(args.out))
    print(args.out)
    QTimer.singleShot(0, window.close)
    window.close()
    QApplication.processEvents()
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
