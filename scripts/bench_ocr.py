"""OCR benchmark: the skip rule on real photos, and recall on rendered text.

    python scripts/bench_ocr.py skip [--photos DIR] [--limit N]
        Full OCR of every sample photo (the reference: which photos have text),
        then each cheap "is there text?" rule on the same photos: how many it
        skips, how many photos with text it would wrongly skip, and the fraction
        of OCR time it saves (check time included).
    python scripts/bench_ocr.py rendered [--n 320] [--photos DIR]
        Renders known strings (English, German, French; words, numbers, mixed
        case; 12 px to 64 px; DejaVu fonts and Pillow's default font; plain and
        photo backgrounds; some rotated a little) into images, indexes them in a
        temporary library with the tiny random CLIP model, runs the real OCR
        pass, then reports OCR word recall and the fraction of one-word queries
        whose image is in the top 5 of the fused search, by text size; and
        the same for the key word with one letter wrong (a letter changed,
        dropped, added or two swapped, in turn), for key words of 5+ letters
        (shorter ones are not forgiven: core/signals/typos.py).
    python scripts/bench_ocr.py passes [--photos DIR] [--threads N]
        The text and face passes together (one decode, the next photo decoded
        ahead), as `glimpse index` runs them, over photos already encoded with
        the tiny random CLIP model: photos/s and CPU seconds. --threads: the OCR
        models' ONNX Runtime threads (default: text.ocr_threads()).

Run under `flock /tmp/glimpse-cpu.lock` on shared machines.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "app"))

from glimpse.core.media import imaging
from glimpse.core.search.words import fold  # noqa: E402
from glimpse.core.signals.text import OCR_MAX_SIDE, OcrEngine  # noqa: E402


def sample_dir() -> Path:
    out = subprocess.run(
        ["/work/shared/scripts/get-sample-photos"], capture_output=True, text=True, check=True
    )
    return Path(out.stdout.strip().splitlines()[-1])


def _photos(folder: Path, limit: int) -> list[Path]:
    paths = sorted(p for p in folder.rglob("*") if imaging.is_supported(p.name))
    return paths[:limit] if limit else paths


def _has_text(lines: list[tuple[str, float]]) -> bool:
    return any(s >= 0.6 and len(re.findall(r"\w", t)) >= 2 for t, s in lines)


def edge_density(image: Image.Image) -> float:
    """Share of pixels with a strong local gradient at 256 px: text is dense in edges."""
    g = image.convert("L")
    g.thumbnail((256, 256))
    a = np.asarray(g, dtype=np.float32)
    gx = np.abs(np.diff(a, axis=1))[:-1, :]
    gy = np.abs(np.diff(a, axis=0))[:, :-1]
    return float(((gx + gy) > 60).mean())


def cmd_skip(args: argparse.Namespace) -> None:
    folder = Path(args.photos) if args.photos else sample_dir()
    paths = _photos(folder, args.limit)
    engine = OcrEngine()
    probe_sizes = (320, 640)
    probes = {}
    for side in probe_sizes:
        probes[side] = OcrEngine(probe_side=side)
        probes[side].has_text(Image.new("RGB", (64, 64)))  # load before timing
    engine.read(Image.new("RGB", (64, 64)))
    rows = []
    for n, path in enumerate(paths, 1):
        try:
            image = imaging.make_thumbnail(path, OCR_MAX_SIDE)
        except Exception as exc:  # noqa: BLE001 - a bad sample photo is reported, not fatal
            print(f"skip {path.name}: {exc}", file=sys.stderr)
            continue
        t = time.perf_counter()
        lines = engine.read(image)
        full = time.perf_counter() - t
        row = {"path": path.name, "full_s": full, "text": _has_text(lines),
               "words": sum(len(re.findall(r"\w+", x)) for x, s in lines if s >= 0.6)}
        for side, probe in probes.items():
            t = time.perf_counter()
            row[f"det{side}"] = probe.has_text(image)
            row[f"det{side}_s"] = time.perf_counter() - t
        t = time.perf_counter()
        row["legible"] = engine.legible(image)
        row["legible_s"] = time.perf_counter() - t
        t = time.perf_counter()
        row["edges"] = edge_density(image)
        row["edges_s"] = time.perf_counter() - t
        rows.append(row)
        if n % 20 == 0:
            print(f"{n}/{len(paths)}", file=sys.stderr, flush=True)
    Path(args.out).write_text(json.dumps(rows, indent=1))
    total_full = sum(r["full_s"] for r in rows)
    with_text = [r for r in rows if r["text"]]
    print(f"photos: {len(rows)}; with text (full OCR, >=2 chars at conf >= 0.6): "
          f"{len(with_text)}; full OCR {total_full:.1f} s, {total_full / len(rows):.2f} s/photo")
    rules = {f"detector at {s} px": (lambda r, s=s: not r[f"det{s}"], f"det{s}_s")
             for s in probe_sizes}
    rules["detector at 640 px, then its 12 likeliest boxes recognised (the default)"] = (
        lambda r: not r["legible"], "legible_s")
    for thr in (0.01, 0.02, 0.04):
        rules[f"edge density < {thr}"] = (lambda r, t=thr: r["edges"] < t, "edges_s")
    print("| rule | photos skipped | text photos lost (words) | check s/photo | OCR time saved |")
    print("|---|---|---|---|---|")
    for name, (skips, cost) in rules.items():
        skipped = [r for r in rows if skips(r)]
        lost = [r for r in skipped if r["text"]]
        check = sum(r[cost] for r in rows)
        after = check + sum(r["full_s"] for r in rows if not skips(r))
        print(f"| {name} | {len(skipped)}/{len(rows)} | {len(lost)} ({sum(r['words'] for r in lost)}) "
              f"| {check / len(rows):.3f} | {100 * (1 - after / total_full):.0f}% |")


ENGLISH = """boarding pass receipt invoice total ticket station platform window garden kitchen
bridge harbour market bakery library museum theatre hospital pharmacy airport departure arrival
gate seat coffee sandwich dinner breakfast morning evening weather holiday mountain river forest
meeting schedule password network printer battery charger message reminder birthday wedding
parking entrance exit warning danger closed open sale discount price orange yellow purple silver
engine bicycle helmet umbrella blanket pillow candle mirror ladder hammer pencil notebook
""".split()
GERMAN = """Straße Größe Bäckerei Fahrkarte Bahnhof Ausgang Eingang Rechnung Quittung Öffnungszeiten
Frühstück Mittagessen Schlüssel Kühlschrank Geschäft Brücke Fußgänger Überweisung Gebühr Tür
Zahnarzt Apotheke Krankenhaus Flughafen Abfahrt Ankunft Gleis Verspätung Müll Grün Weiß Käse
Gemüse Bücherei Stadtplan Kirche Rathaus Wäsche Tankstelle Führerschein Gepäck Zimmer Glück
""".split()
FRENCH = """café élève hôtel fenêtre forêt gâteau crème pâtisserie boulangerie théâtre musée
hôpital église marché épicerie réservation numéro entrée sortie fermé ouvert été hiver
château plage rivière forêt addition reçu billet départ arrivée voyage bibliothèque
déjeuner dîner fromage légumes vélo clé tarif garçon français noël
""".split()
MIXED = "iPhone eBay PayPal McDonald YouTube WiFi LinkedIn JavaScript OpenStreetMap GmbH".split()
SIZES = (12, 14, 16, 20, 24, 32, 48, 64)
FONTS = ("DejaVuSans.ttf", "DejaVuSerif.ttf", "DejaVuSansMono.ttf", "DejaVuSans-Bold.ttf",
         "DejaVuSerif-Italic.ttf", None)  # None: Pillow's built-in scalable font


def _font(name: str | None, size: int) -> ImageFont.FreeTypeFont:
    if name is None:
        return ImageFont.load_default(size=size)  # type: ignore[return-value]
    try:
        return ImageFont.truetype(name, size)
    except OSError:
        return ImageFont.load_default(size=size)  # type: ignore[return-value]


def render_set(out: Path, n: int, photos: list[Path], seed: int = 7) -> list[dict]:
    """n images with known words; returns their descriptions (path, words, size, ...)."""
    rng = random.Random(seed)
    key_pools, fillers = [], []
    for pool in (ENGLISH, GERMAN, FRENCH):
        shuffled = sorted(set(pool))
        rng.shuffle(shuffled)
        cut = len(shuffled) * 3 // 4
        key_pools.append(shuffled[:cut])
        fillers.append(shuffled[cut:])
    keys = [list(p) for p in key_pools]
    items = []
    backgrounds = []
    # Spread over the whole sample, and only busy pictures: a near-white wallpaper
    # would make a "photo background" a plain one.
    for p in photos[:: max(1, len(photos) // 80)]:
        try:
            thumb = imaging.make_thumbnail(p, 900)
        except Exception:  # noqa: BLE001
            continue
        if np.asarray(thumb.convert("L"), dtype=np.float32).std() >= 30:
            backgrounds.append(thumb)
        if len(backgrounds) >= 40:
            break
    for i in range(n):
        size = SIZES[i % len(SIZES)]
        font_name = FONTS[(i // len(SIZES)) % len(FONTS)]
        font = _font(font_name, size)
        # Pillow's built-in font has no accented letters: English only with it.
        lang = 0 if font_name is None else rng.randrange(3)
        # A key word used by no other image while the pool lasts (so a one-word
        # query has one right answer), then one or two filler words.
        # (once a pool is spent, a filler: reusing a key would make it ambiguous)
        key = keys[lang].pop() if keys[lang] else rng.choice(fillers[lang])
        words = [key] + [rng.choice(fillers[lang]) for _ in range(rng.randint(1, 2))]
        if rng.random() < 0.3:
            words.append(rng.choice(MIXED))
        words.append(str(rng.randrange(100, 99999)))  # a number
        canvas = (800, 500)
        photo_bg = i % 2 == 1 and backgrounds
        if photo_bg:
            bg = rng.choice(backgrounds).resize(canvas)
            img = bg.filter(ImageFilter.GaussianBlur(1))
        else:
            shade = rng.randint(225, 255)
            img = Image.new("RGB", canvas, (shade, shade, rng.randint(215, 255)))
        draw = ImageDraw.Draw(img)
        text = " ".join(words)
        x, y = rng.randint(20, 80), rng.randint(30, 300)
        left, top, right, bottom = draw.textbbox((x, y), text, font=font)
        if right > canvas[0] - 10:  # too wide: two lines
            half = len(words) // 2
            text = " ".join(words[:half]) + "\n" + " ".join(words[half:])
            left, top, right, bottom = draw.multiline_textbbox((x, y), text, font=font)
        fill = (20, 20, 20)
        if photo_bg:
            if rng.random() < 0.5:  # a sign: a light panel behind the text
                draw.rectangle((left - 8, top - 6, right + 8, bottom + 6), fill=(240, 240, 230))
            else:  # text straight on the photo, dark or light for contrast
                region = np.asarray(img.crop((left, top, right, bottom)).convert("L"))
                fill = (250, 250, 250) if region.mean() < 128 else (10, 10, 10)
        draw.multiline_text((x, y), text, fill=fill, font=font)
        angle = 0.0
        if rng.random() < 0.25:
            angle = rng.uniform(-6, 6)
            img = img.rotate(angle, resample=Image.Resampling.BICUBIC, expand=False,
                             fillcolor=img.getpixel((0, 0)))
        path = out / f"r{i:04d}.png"
        img.save(path)
        items.append({"path": str(path), "words": words, "size": size, "font": font_name or "default",
                      "background": "photo" if photo_bg else "plain", "angle": round(angle, 1),
                      "lang": ["en", "de", "fr"][lang]})
    return items


def one_letter_typo(word: str, n: int) -> str:
    """The n-th kind of one-letter typo in turn: a letter changed, dropped, added,
    or two neighbours swapped (never the first letter, which people rarely miss)."""
    i = 1 + n % (len(word) - 2)
    kind = n % 4
    if kind == 0:
        return word[:i] + ("x" if word[i].lower() != "x" else "z") + word[i + 1:]
    if kind == 1:
        return word[:i] + word[i + 1:]
    if kind == 2:
        return word[:i] + word[i] + word[i:]
    swapped = word[:i] + word[i + 1] + word[i] + word[i + 2:]
    return swapped if swapped != word else word[:i] + word[i + 1:]


def _bucket(size: int) -> str:
    return "12-14 px" if size < 16 else ("16-24 px" if size <= 24 else "32-64 px")


def cmd_rendered(args: argparse.Namespace) -> None:
    from glimpse.core.library import Library

    photos = _photos(Path(args.photos) if args.photos else sample_dir(), 0)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "rendered"
        folder.mkdir()
        items = render_set(folder, args.n, photos)
        lib = Library(Path(tmp) / "lib", model="GlimpseTiny:random")
        lib.add_folder(folder)
        lib.index(only={"scan", "encode"})
        t = time.perf_counter()
        report = lib.read_text()
        ocr_s = time.perf_counter() - t
        by_path = {r.path: r.id for r in lib.indexed_photos()}
        counts: dict[str, list[int]] = {}
        typo_rows: list[tuple[bool, bool]] = []  # (exact query in top 5, typo query in top 5)
        for n, item in enumerate(items):
            pid = by_path[str(Path(item["path"]).resolve())]
            # A word counts as read when a word search would find it: the FTS
            # tokenizer splits on anything not a letter or digit ("_" too), and
            # queries match word prefixes ("warning" finds "warning35018").
            found = [fold(w) for w in re.findall(r"[^\W_]+", lib.photo_text(pid))]
            wanted = [fold(w) for w in item["words"]]
            hit_words = sum(any(t.startswith(w) for t in found) for w in wanted)
            # Queries: its key word (only where no other image has it), the key word
            # and the first filler together, and its number.
            key = item["words"][0]
            unique = sum(key in it["words"] for it in items) == 1
            top = [h.photo_id for h in lib.search(key, k=5)] if unique else []
            pair = [h.photo_id for h in lib.search(" ".join(item["words"][:2]), k=5)]
            top_n = [h.photo_id for h in lib.search(item["words"][-1], k=5)]
            if unique and len(key) >= 5 and key.isalpha():
                typo = one_letter_typo(key, n)
                in_top = pid in [h.photo_id for h in lib.search(typo, k=5)]
                typo_rows.append((pid in top, in_top))
                item.update(typo=typo, typo_top5=in_top)
            b = counts.setdefault(_bucket(item["size"]), [0] * 7)
            b[0] += hit_words
            b[1] += len(wanted)
            b[2] += unique and pid in top
            b[3] += 1
            b[4] += pid in top_n
            b[5] += unique
            b[6] += pid in pair
            item.update(found_words=hit_words, query=key, unique=unique, top5=pid in top,
                        pair_top5=pid in pair, no_text=not lib.photo_text(pid),
                        number_top5=pid in top_n)
        lib.close()
    Path(args.out).write_text(json.dumps(items, indent=1))
    print(f"{len(items)} rendered images; OCR pass {ocr_s:.1f} s = {ocr_s / len(items):.2f} s/image "
          f"({report.done} read, {report.failed} failed)")
    print("| text size | images | OCR word recall | one-word query: image in top 5 "
          "| two-word query | number query |")
    print("|---|---|---|---|---|---|")
    total = [0] * 7
    for name in ("12-14 px", "16-24 px", "32-64 px"):
        b = counts.get(name, [0, 1, 0, 1, 0, 1, 0])
        total = [a + c for a, c in zip(total, b, strict=True)]
        print(f"| {name} | {b[3]} | {b[0] / b[1]:.1%} | {b[2] / max(b[5], 1):.1%} (of {b[5]}) "
              f"| {b[6] / b[3]:.1%} | {b[4] / b[3]:.1%} |")
    b = total
    print(f"| all | {b[3]} | {b[0] / b[1]:.1%} | {b[2] / max(b[5], 1):.1%} (of {b[5]}) "
          f"| {b[6] / b[3]:.1%} | {b[4] / b[3]:.1%} |")
    big = [it for it in items if it["size"] >= 16]
    big_unique = [it for it in big if it["unique"]]
    print(f">= 16 px: one-word queries {sum(it['top5'] for it in big_unique) / len(big_unique):.1%}"
          f" (of {len(big_unique)}), two-word {sum(it['pair_top5'] for it in big) / len(big):.1%}, "
          f"number {sum(it['number_top5'] for it in big) / len(big):.1%} in the top 5")
    exact_found = [t for e, t in typo_rows if e]
    print(f"one-letter typos of key words of 5+ letters: image in the top 5 for "
          f"{sum(t for _, t in typo_rows) / max(len(typo_rows), 1):.1%} of {len(typo_rows)} "
          f"(exact query: {sum(e for e, _ in typo_rows) / max(len(typo_rows), 1):.1%}); "
          f"of those the exact query finds, the typo finds {sum(exact_found) / max(len(exact_found), 1):.1%}")
    for key in ("background", "lang", "font"):
        parts = {}
        for it in items:
            parts.setdefault(it[key], []).append(it["found_words"] / len(it["words"]))
        print(f"word recall by {key}: " + ", ".join(
            f"{k} {np.mean(v):.1%}" for k, v in sorted(parts.items())))
    print(f"images where no text was found at all (skip check or OCR): "
          f"{sum(it['no_text'] for it in items)}")
    rotated = [it for it in items if it["angle"]]
    print(f"rotated images: {len(rotated)}, word recall "
          f"{np.mean([it['found_words'] / len(it['words']) for it in rotated]):.1%}")


def cmd_passes(args: argparse.Namespace) -> None:
    import shutil

    from glimpse.core.library import Library

    folder = Path(args.photos) if args.photos else sample_dir()
    with tempfile.TemporaryDirectory() as tmp:
        lib = Library(Path(tmp) / "lib", model="GlimpseTiny:random")
        lib.add_folder(folder)
        lib.index(only={"scan", "encode"})
        if args.threads:
            lib.engines.get("ocr", lambda: OcrEngine(threads=args.threads))
        t, cpu = time.perf_counter(), time.process_time()
        report = lib.index(only={"ocr", "faces"}).passes["ocr"]
        wall, cpu = time.perf_counter() - t, time.process_time() - cpu
        n = report.done + report.failed
        with_text = sum(1 for r in lib.indexed_photos() if lib.photo_text(r.id))
        lib.close()
        shutil.rmtree(Path(tmp) / "lib", ignore_errors=True)
    print(f"text + faces: {n} photos in {wall:.1f} s = {n / wall:.2f} photos/s, "
          f"{cpu:.1f} CPU s; {with_text} with text")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("skip")
    p.add_argument("--photos")
    p.add_argument("--limit", type=int, default=0)
    p.add_argument("--out", default="/tmp/ocr-skip.json")
    p.set_defaults(func=cmd_skip)
    p = sub.add_parser("rendered")
    p.add_argument("--photos")
    p.add_argument("--n", type=int, default=320)
    p.add_argument("--out", default="/tmp/ocr-rendered.json")
    p.set_defaults(func=cmd_rendered)
    p = sub.add_parser("passes")
    p.add_argument("--photos")
    p.add_argument("--threads", type=int, default=0)
    p.set_defaults(func=cmd_passes)
    args = ap.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
