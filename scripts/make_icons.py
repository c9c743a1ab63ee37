#!/usr/bin/env python3
"""Regenerate every app icon from the one source, resources/icons/glimpse.svg.

    python scripts/make_icons.py

Why a script: the desktop entry, AppStream, the Windows installer (.ico) and
the macOS bundle (.icns) each want their own sizes; drawing them by hand drifts
from the source. Qt's SVG renderer draws each size from the vector source (no
down-scaling blur at 16 px); Pillow writes the multi-size .ico and .icns.
Runs headless (QT_QPA_PLATFORM=offscreen); needs PySide6 and Pillow, both
already dependencies of Glimpse.
"""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PIL import Image  # noqa: E402
from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt  # noqa: E402
from PySide6.QtGui import QGuiApplication, QImage, QPainter  # noqa: E402
from PySide6.QtSvg import QSvgRenderer  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "resources" / "icons" / "glimpse.svg"
OUT = ROOT / "resources" / "icons" / "app"
SIZES = [16, 24, 32, 48, 64, 128, 256, 512, 1024]
ICO_SIZES = [16, 24, 32, 48, 64, 128, 256]  # the .ico format stops at 256
ICNS_SIZES = [16, 32, 64, 128, 256, 512, 1024]  # what macOS looks for (incl. @2x)


def render(renderer: QSvgRenderer, size: int) -> Image.Image:
    """Draw the vector source at exactly size x size, antialiased, transparent."""
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter)
    painter.end()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    buffer.close()
    return Image.open(io.BytesIO(bytes(data))).convert("RGBA")


def main() -> int:
    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])  # noqa: F841
    renderer = QSvgRenderer(str(SOURCE))
    if not renderer.isValid():
        print(f"error: {SOURCE} is not a valid SVG for Qt", file=sys.stderr)
        return 1
    OUT.mkdir(parents=True, exist_ok=True)
    images = {size: render(renderer, size) for size in SIZES}
    for size, img in images.items():
        img.save(OUT / f"glimpse-{size}.png", optimize=True)
    # Each .ico/.icns entry is its own rendering, not a down-scaled 1024 px image.
    ico = images[256]
    ico.save(OUT / "glimpse.ico", sizes=[(s, s) for s in ICO_SIZES],
             append_images=[images[s] for s in ICO_SIZES if s != 256])
    icns = images[1024]
    icns.save(OUT / "glimpse.icns", append_images=[images[s] for s in ICNS_SIZES if s != 1024])
    written = sorted(p.name for p in OUT.iterdir())
    print(f"wrote {len(written)} files to {OUT.relative_to(ROOT)}: {', '.join(written)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
