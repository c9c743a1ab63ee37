"""Meaning first under `glimpse watch`: how soon newly copied photos are searchable
while the watcher is busy reading text and looking for faces.

    PYTHONPATH=app python scripts/bench_watch.py [--busy 100] [--new 300]
        [--model ViT-B-32-256:random] [--baseline-app /path/to/old/app]

A real `glimpse watch` (every pass on, the default) on Flickr8k photos
(../shared/data/flickr8k-1k): once it is watching, `--busy` photos are copied
in, so it encodes them and starts reading their text and faces; a few seconds
later `--new` more photos are copied in. Measured from the start of that second
copy: seconds until all of them are searchable by meaning (a vector in the
catalog), and until their text has been read. `--baseline-app` runs the same
with another checkout's `app/` folder (an older Glimpse) in the same run, and
prints the ratio.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PHOTOS = ROOT.parent / "shared" / "data" / "flickr8k-1k" / "images"


def _count(lib: Path, paths: list[str]) -> tuple[int, int]:
    """(of `paths`: photos with a vector, photos whose text pass is done)."""
    try:
        db = sqlite3.connect(f"file:{lib / 'catalog.sqlite'}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error:
        return 0, 0
    try:
        rows = db.execute(
            """SELECT p.path, EXISTS (SELECT 1 FROM embeddings e WHERE e.photo_id = p.id),
                      EXISTS (SELECT 1 FROM pass_state s WHERE s.photo_id = p.id AND s.pass = 'ocr')
               FROM photos p""").fetchall()
    except sqlite3.Error:
        return 0, 0
    finally:
        db.close()
    wanted = set(paths)
    mine = [r for r in rows if r[0] in wanted]
    return sum(r[1] for r in mine), sum(r[2] for r in mine)


def run_once(app: Path, model: str, busy: list[Path], new: list[Path], timeout_s: float) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="glimpse-watch-bench-"))
    folder, lib = tmp / "photos", tmp / "lib"
    folder.mkdir()
    env = {**os.environ, "PYTHONPATH": str(app), "GLIMPSE_LIBRARY": str(lib),
           "GLIMPSE_MODEL": model, "GLIMPSE_NO_SERVICE": "1", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "glimpse", "watch", str(folder)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    started = threading.Event()
    lines: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("Watching"):
                started.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        if not started.wait(600):
            raise SystemExit("glimpse watch did not start")
        for p in busy:
            shutil.copy(p, folder / p.name)
        busy_paths = [str(folder / p.name) for p in busy]
        deadline = time.monotonic() + 120
        while _count(lib, busy_paths)[0] < len(busy) and time.monotonic() < deadline:
            time.sleep(0.2)  # the busy photos encoded: the watcher is reading their text now
        time.sleep(2.0)
        t0 = time.monotonic()
        for p in new:
            shutil.copy(p, folder / p.name)
        paths = [str(folder / p.name) for p in new]
        meaning_s = text_s = None
        while time.monotonic() - t0 < timeout_s and text_s is None:
            vectors, texts = _count(lib, paths)
            now = time.monotonic() - t0
            if meaning_s is None and vectors == len(paths):
                meaning_s = now
            if texts == len(paths):
                text_s = now
            time.sleep(0.25)
        return {"meaning_s": meaning_s, "text_s": text_s,
                "rounds": sum(" new, " in line for line in lines),
                "yields": sum("new photos arrived" in line for line in lines)}
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)


def fmt(s: float | None, timeout_s: float) -> str:
    return f"{s:.1f} s" if s is not None else f"> {timeout_s:.0f} s"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--busy", type=int, default=100)
    ap.add_argument("--new", type=int, default=300)
    ap.add_argument("--model", default="ViT-B-32-256:random")
    ap.add_argument("--timeout", type=float, default=600.0, help="give up after this many seconds")
    ap.add_argument("--baseline-app", type=Path, help="another checkout's app/ folder, run the same way")
    args = ap.parse_args()
    photos = sorted(PHOTOS.glob("*.jpg"))
    if len(photos) < args.busy + args.new:
        raise SystemExit(f"need {args.busy + args.new} photos in {PHOTOS}")
    busy, new = photos[: args.busy], photos[args.busy : args.busy + args.new]
    results = {}
    for name, app in (("baseline", args.baseline_app), ("this", ROOT / "app")):
        if app is None:
            continue
        r = run_once(app.resolve(), args.model, busy, new, args.timeout)
        results[name] = r
        print(f"{name}: {args.new} photos copied in while {args.busy} were being read: all searchable "
              f"by meaning after {fmt(r['meaning_s'], args.timeout)}, their text read after "
              f"{fmt(r['text_s'], args.timeout)} ({r['rounds']} watch rounds reported, "
              f"{r['yields']} of them gave way to new photos)", flush=True)
    if "baseline" in results:
        b, t = results["baseline"]["meaning_s"], results["this"]["meaning_s"]
        if b and t:
            print(f"searchable by meaning: {t / b:.2f}x the baseline's time")
    return 0


if __name__ == "__main__":
    sys.exit(main())
