#!/usr/bin/env python3
"""Take docs/screenshot.png: the real window, real photos indexed, a query typed.

Run under a virtual screen (Debian's xvfb):
    xvfb-run -s "-screen 0 1440x900x24" python scripts/screenshot.py
    xvfb-run -s "-screen 0 1440x900x24" python scripts/screenshot.py --people

--people takes docs/people.png instead: the People tab of a library made from
the only real faces we may show (tests/assets/faces: Eileen Collins, NASA, public
domain; a cameraman, CC0), each as several photos a phone archive would hold
(crops, a smaller copy, mirrored, brighter, re-saved as JPEG, printed and
photographed on other backgrounds) plus a short clip, among sample photos with
no faces; the face pass runs, the two people are named, the first is selected.
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


FACES = ROOT / "tests" / "assets" / "faces"
# Sample photos used as backgrounds and as the rest of the library (no faces in them).
BACKGROUNDS = ("backgrounds_mate_nature_GreenMeadow.jpg", "backgrounds_mate_nature_Dune.jpg",
               "backgrounds_mate_nature_Garden.jpg", "wallpapers_Autumn_contents_images_1280x800.jpg",
               "wallpapers_BytheWater_contents_images_1280x800.jpg",
               "backgrounds_mate_nature_Aqua.jpg")


def people_photos(folder: Path, source: Path, others: int) -> None:
    """Photos of two people as an archive holds them, a clip, and `others` without faces."""
    from PIL import Image, ImageEnhance, ImageOps

    backs = [Image.open(source / name).convert("RGB") for name in BACKGROUNDS]

    def on(back: Image.Image, picture: Image.Image, height: float, x: float) -> Image.Image:
        """A print of the picture on a scene: `height` of the scene's, left edge at `x`."""
        scene = ImageOps.fit(back, (1280, 853))
        side = int(scene.height * height)
        pic = ImageOps.expand(picture.resize((side * picture.width // picture.height, side)),
                              border=12, fill="white")
        scene.paste(pic, (int(scene.width * x), (scene.height - pic.height) // 2))
        return scene

    eileen = Image.open(FACES / "astronaut.jpg").convert("RGB")
    portrait = eileen.crop((96, 0, 416, 400))
    eileen.save(folder / "eileen_nasa_portrait.jpg", quality=92)
    ImageOps.mirror(portrait).resize((480, 600)).save(folder / "eileen_mirrored.jpg", quality=90)
    ImageEnhance.Brightness(portrait).enhance(1.25).save(folder / "eileen_bright.jpg", quality=60)
    on(backs[0], eileen, 0.8, 0.45).save(folder / "eileen_meadow.jpg", quality=88)
    on(backs[1], portrait, 0.75, 0.12).save(folder / "eileen_dunes.jpg", quality=85)

    # HOG finds his three-quarter face only at some scales: these crops are ones it finds.
    camera = Image.open(FACES / "camera.jpg").convert("RGB")

    def crop(box: tuple[int, int, int, int], scale: float) -> Image.Image:
        c = camera.crop(box)
        return c.resize((int(c.width * scale), int(c.height * scale)), Image.Resampling.LANCZOS)

    crop((100, 40, 340, 280), 1.5).save(folder / "cameraman.jpg", quality=90)
    ImageOps.mirror(crop((80, 30, 360, 310), 1.5)).save(folder / "cameraman_mirrored.jpg", quality=90)
    ImageEnhance.Brightness(crop((120, 60, 320, 260), 1.5)).enhance(1.2).save(
        folder / "cameraman_bright.jpg", quality=60)
    crop((0, 0, 512, 512), 1.5).save(folder / "cameraman_field.jpg", quality=85)
    crop((60, 10, 400, 350), 1.0).save(folder / "cameraman_small.jpg", quality=75)
    on(backs[3], crop((80, 30, 360, 310), 1.0), 0.76, 0.1).save(folder / "cameraman_autumn.jpg",
                                                                quality=85)

    import av

    with av.open(str(folder / "eileen_clip.mp4"), "w") as out:  # 6 s; she is in the middle
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height = 854, 480
        stream.pix_fmt = "yuv420p"
        stream.codec_context.gop_size = 10
        scenes = [ImageOps.fit(backs[4], (854, 480)), ImageOps.fit(on(backs[4], portrait, 0.8, 0.3),
                                                                    (854, 480)),
                  ImageOps.fit(backs[5], (854, 480))]
        for scene in scenes:
            frame = av.VideoFrame.from_image(scene)
            for _ in range(20):
                for packet in stream.encode(frame):
                    out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    plain = sorted(p for p in source.iterdir() if p.suffix.lower() in (".jpg", ".jpeg")
                   and p.name not in BACKGROUNDS and "screenshot" not in p.name)
    for p in plain[:: max(1, len(plain) // max(1, others))][:others]:
        shutil.copy(p, folder / p.name)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", type=Path)
    ap.add_argument("--limit", type=int, default=80)
    ap.add_argument("--model", default="ViT-B-32:random")
    ap.add_argument("--query", default="flowers in a sunny meadow")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshot.png")
    ap.add_argument("--size", default="1400x860")
    ap.add_argument("--people", action="store_true",
                    help="the People tab (docs/people.png) from the bundled real faces")
    args = ap.parse_args()
    if args.people and args.out == ROOT / "docs" / "screenshot.png":
        args.out = ROOT / "docs" / "people.png"

    tmp = Path(tempfile.mkdtemp(prefix="glimpse-shot-"))
    os.environ["XDG_CONFIG_HOME"] = str(tmp / "config")  # keep the user's settings untouched
    os.environ["XDG_CACHE_HOME"] = str(tmp / "cache")
    folder = tmp / "Phone"
    folder.mkdir()
    source = args.photos or sample_photos()
    if args.people:
        people_photos(folder, source, others=min(args.limit, 12))
    else:
        names = sorted(p for p in source.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp"))
        for p in names[: args.limit]:
            shutil.copy(p, folder / p.name)

    from glimpse.core.library import Library

    lib = Library(tmp / "lib", model=args.model)
    lib.add_folder(folder)
    lib.index()
    lib.read_text()  # the OCR pass, so text matches show their badge
    if args.people:
        name_people(lib)
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
    if args.people:
        return grab_people(app, window, wait, args.out, tmp)
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


def name_people(lib) -> None:  # type: ignore[no-untyped-def]
    """Run the face pass, then name who it grouped by their best face's photo."""
    from glimpse.core.signals import people

    report = lib.find_faces()
    print(f"faces: {report.done} photos read, {people.face_count(lib.catalog)} faces, "
          f"{report.failed} failed", file=sys.stderr)
    for p in people.people(lib.catalog):
        best = people.face(lib.catalog, p.best_face) if p.best_face else None
        path = lib.catalog.photo(best.photo_id).path if best else ""
        name = "Eileen" if "eileen" in path else "Cameraman" if "cameraman" in path else None
        print(f"person {p.id}: {p.faces} faces in {p.photos} photos, best in {Path(path).name}"
              f" -> {name}", file=sys.stderr)
        if name and not any(q.name == name for q in people.people(lib.catalog)):
            people.name_person(lib.catalog, p.id, name)


def grab_people(app, window, wait, out: Path, tmp: Path) -> int:  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QApplication

    view = window.people_tab
    window.tabs.setCurrentWidget(view)
    view.refresh()
    wait(lambda: view.model.rowCount() > 0)
    # Eileen: her faces include the one found in the clip's keyframe
    view.select(next((p.id for p in view.model.people if p.name == "Eileen"), view.model.people[0].id))
    settle = time.monotonic() + 6  # face crops come from thumbnails decoded off-thread
    wait(lambda: time.monotonic() > settle)
    out.parent.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(out))
    print(out)
    window.close()
    QApplication.processEvents()
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
