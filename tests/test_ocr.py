"""Text in photos: the OCR pass (real rapidocr models), the FTS search, fusion with meaning."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from conftest import make_photo
from glimpse.core.indexing.passes import pending, run_pass
from glimpse.core.jobs import CancelToken
from glimpse.core.search.ranking import QueryTerm
from glimpse.core.search.words import marked
from glimpse.core.signals.text import OcrEngine, OcrPass
from glimpse.core.storage import catalog as catalog_mod
from glimpse.core.storage.catalog import Catalog

FONT = "DejaVuSans.ttf"


def render_text(path: Path, lines: list[str], size: int = 28, background: str = "plain") -> Path:
    """A screenshot-like image: dark text on white, or on a photo-like backdrop."""
    if background == "plain":
        img = Image.new("RGB", (640, 120 + 60 * len(lines)), "white")
    else:  # a sky-and-sand picture with a light panel, like a sign in a photo
        img = Image.new("RGB", (640, 120 + 60 * len(lines)), (90, 150, 220))
        ImageDraw.Draw(img).rectangle((0, img.height // 2, img.width, img.height), fill=(220, 200, 150))
        ImageDraw.Draw(img).rectangle((10, 10, 630, img.height - 10), fill=(245, 245, 235))
    try:
        font = ImageFont.truetype(FONT, size)
    except OSError:
        font = ImageFont.load_default(size=size)
    draw = ImageDraw.Draw(img)
    for n, line in enumerate(lines):
        draw.text((30, 40 + 60 * n), line, fill=(20, 20, 20), font=font)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    return path


def make_beach(path: Path) -> Path:
    img = Image.new("RGB", (320, 240), (70, 140, 230))
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, 110, 320, 150), fill=(20, 90, 170))
    draw.rectangle((0, 150, 320, 240), fill=(230, 210, 160))
    img.save(path)
    return path


@pytest.fixture(scope="module")
def engine() -> OcrEngine:
    return OcrEngine()


@pytest.fixture
def text_library(library, tmp_path: Path, engine: OcrEngine):  # type: ignore[no-untyped-def]
    root = tmp_path / "shots"
    render_text(root / "boarding.png", ["BOARDING PASS", "Flight LH 1234 Gate B22"])
    render_text(root / "wifi.png", ["Wifi password: sunflower42"], background="photo")
    render_text(root / "cafe.png", ["Café Größe Straße"])
    make_beach(root / "beach.png")
    for i in range(4):
        make_photo(root / f"img_{i}.jpg", seed=i)
    library.add_folder(root)
    library.index(skip={"ocr", "faces"})
    library.engines.get("ocr", lambda: engine)  # the module's shared engine, loaded once
    report = library.read_text()
    assert report.done == 8 and report.failed == 0
    return library


def test_engine_reads_rendered_text_with_accents(tmp_path: Path, engine: OcrEngine) -> None:
    path = render_text(tmp_path / "a.png", ["Straße Café 2021"])
    text = engine.text_of(Image.open(path)).text
    assert "Straße" in text and "Café" in text and "2021" in text


def test_skip_check_skips_photos_without_text(tmp_path: Path, engine: OcrEngine) -> None:
    blank = engine.text_of(Image.new("RGB", (400, 300), (120, 160, 200)))
    assert blank.skipped and blank.text == ""
    shot = engine.text_of(Image.open(render_text(tmp_path / "b.png", ["Receipt total 12.50"])))
    assert not shot.skipped and "Receipt" in shot.text


def test_quoted_phrase_searches_words_only(text_library) -> None:  # type: ignore[no-untyped-def]
    hits = text_library.search('"wifi password"')
    assert [Path(h.path).name for h in hits] == ["wifi.png"]
    assert hits[0].text_match and marked(hits[0].snippet or "").lower().startswith("[wifi password]")
    assert text_library.search('"password wifi"') == []  # a phrase keeps its order


def test_words_are_accent_folded_and_prefixes(text_library) -> None:  # type: ignore[no-untyped-def]
    assert [Path(h.path).name for h in text_library.search('"cafe"')] == ["cafe.png"]
    assert [Path(h.path).name for h in text_library.search('"strasse"')] == []  # ß is not ss
    assert Path(text_library.search("sunflow", k=3)[0].path).name == "wifi.png"


def test_fused_search_puts_the_text_match_first(text_library) -> None:  # type: ignore[no-untyped-def]
    hits = text_library.search("boarding pass", k=8)
    assert Path(hits[0].path).name == "boarding.png"
    assert hits[0].text_match
    assert [h.text_match for h in hits[1:]] == [False] * 7
    assert len({h.photo_id for h in hits}) == 8  # every photo once


def test_no_text_match_keeps_the_meaning_order(text_library) -> None:  # type: ignore[no-untyped-def]
    lib = text_library
    # (No photo's text or name holds these words: "beach" would find beach.png by its name.)
    query = "snowy mountain lake"
    meaning = lib._rank(lib.query_vector([QueryTerm(1.0, text=query)]), 8, None, None)
    fused = lib.search(query, k=8)
    assert [h.photo_id for h in fused] == [h.photo_id for h in meaning]
    assert not any(h.text_match for h in fused)


def test_combined_queries_still_work(text_library) -> None:  # type: ignore[no-untyped-def]
    hits = text_library.search('"beach" + "sunset" - "people"', k=3)
    assert len(hits) == 3 and not any(h.text_match for h in hits)


def test_pass_resumes_after_cancel_and_rereads_changed_files(
    library, tmp_path: Path, engine: OcrEngine
) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "p"
    for i in range(5):
        render_text(root / f"t{i}.png", [f"note number {i}"])
    library.add_folder(root)
    library.index(skip={"ocr"})  # the pass runs by hand below
    token = CancelToken()
    seen: list[int] = []

    def progress(p) -> None:  # type: ignore[no-untyped-def]
        seen.append(p.done)
        if p.done == 2:
            token.cancel()

    p = OcrPass(engine)
    first = run_pass(library.catalog, p, progress, token, batch_size=1)
    assert first.cancelled and first.done == 2 and first.remaining == 3
    assert len(pending(library.catalog, p)) == 3
    second = run_pass(library.catalog, p)
    assert second.done == 3 and pending(library.catalog, p) == []
    assert run_pass(library.catalog, p).done == 0  # nothing left: no work
    # New content at the same path is read again; its old text is replaced.
    render_text(root / "t0.png", ["replaced words here"])
    library.index(skip={"ocr"})
    assert [r.path for r in pending(library.catalog, p)] == [str(root / "t0.png")]
    run_pass(library.catalog, p)
    row = library.catalog.photo_by_path(str(root / "t0.png"))
    assert "replaced" in library.photo_text(row.id)
    assert library.search('"note number 0"') == []


def test_pass_waits_for_clip_vectors(library, tmp_path: Path, engine: OcrEngine) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "q"
    render_text(root / "a.png", ["hello"])
    library.add_folder(root)
    library.sync()  # scanned, not encoded: status 'pending', no vector
    assert pending(library.catalog, OcrPass(engine), library.model_key()) == []
    library.encode()
    assert len(pending(library.catalog, OcrPass(engine), library.model_key())) == 1


def test_unreadable_file_is_recorded_not_retried(library, tmp_path: Path, engine: OcrEngine) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "r"
    path = render_text(root / "a.png", ["hello"])
    library.add_folder(root)
    library.index(skip={"ocr"})
    path.write_bytes(b"")  # broken after indexing, before OCR (same stat is not rescanned)
    p = OcrPass(engine)
    report = run_pass(library.catalog, p)
    assert report.failed == 1 and report.errors[0][0] == str(path)
    assert pending(library.catalog, p) == []


def test_deleted_photos_lose_their_text(text_library, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "shots" / "wifi.png").unlink()
    text_library.index()
    text_library.read_text()
    assert text_library.search('"wifi password"') == []  # a deleted photo is never found
    # Its row is kept a while with its vectors (a copy that comes back is not
    # re-encoded), and its text with it; both go when the row is purged.
    with text_library.catalog.transaction() as db:
        text_library.catalog.purge_missing(db, keep_s=0)
    text_library.catalog.sweep_text()
    rows = text_library.catalog._query("SELECT COUNT(*) FROM photo_text")[0][0]
    assert rows == 2  # boarding and cafe remain


def test_migration_from_version_1_keeps_vectors(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.executescript(catalog_mod._MIGRATIONS[0] + ";PRAGMA user_version=1;")
    db.execute("INSERT INTO folders(path, added_at) VALUES ('/p', 0)")
    db.execute(
        "INSERT INTO photos(path, folder_id, size, mtime_ns, fingerprint, status, updated_at) "
        "VALUES ('/p/a.jpg', 1, 10, 1, 'fp', 'ok', 0)"
    )
    db.execute("INSERT INTO models(model_id, dim, created_at) VALUES ('m', 4, 0)")
    vec = np.array([1, 0, 0, 0], dtype="<f2").tobytes()
    db.execute("INSERT INTO embeddings VALUES (1, 1, ?)", (vec,))
    db.commit()
    db.close()
    cat = Catalog(path)
    try:
        assert cat._query("PRAGMA user_version")[0][0] == catalog_mod.SCHEMA_VERSION
        ids, matrix = cat.embeddings(1)
        assert ids.tolist() == [1] and matrix[0].tolist() == [1, 0, 0, 0]
        assert cat.ids_needing_pass("ocr", 1) == [1]
        with cat.transaction() as tx:
            cat.store_text(tx, 1, "Ünïcode text")
        assert [r[0] for r in cat.search_text('"unicode"', 5)] == [1]
    finally:
        cat.close()


def test_thin_and_long_images_are_bounded_before_ocr(engine: OcrEngine) -> None:
    from glimpse.core.signals.text import _bounded_aspect

    assert _bounded_aspect(Image.new("RGB", (5000, 8))).size == (5000, 625)
    assert _bounded_aspect(Image.new("RGB", (9, 3000))).size == (375, 3000)
    assert _bounded_aspect(Image.new("RGB", (800, 600))).size == (800, 600)
    assert engine.text_of(Image.new("RGB", (3, 200), "white"), skip_check=False).skipped


def test_text_of_a_removed_photo_never_sticks_to_a_new_one(library, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "one"
    make_photo(folder / "a.jpg", seed=1)
    library.add_folder(folder)
    library.index()
    row = library.catalog.photo_by_path(str(folder / "a.jpg"))
    with library.catalog.transaction() as db:
        library.catalog.store_text(db, row.id, "secret words")
    (folder / "a.jpg").unlink()
    library.index()  # the photo is gone, and its id is free again
    make_photo(folder / "b.jpg", seed=2)
    library.index()
    new = library.catalog.photo_by_path(str(folder / "b.jpg"))
    assert library.photo_text(new.id) == "" and library.search('"secret words"') == []


def test_letters_and_digits_run_together_are_found_apart(tmp_path: Path) -> None:
    cat = Catalog(tmp_path / "c.sqlite")
    try:
        folder = cat.add_folder("/p")
        with cat.transaction() as db:
            for n in (1, 2):
                pid = cat.insert_photo(db, f"/p/{n}.png", folder, 1, 1, f"fp{n}")
                cat.store_decoded(db, pid, 10, 10, None)
            cat.store_text(db, 1, "warning35018 Flight LH1234")
            cat.store_text(db, 2, "Gate 12")
        assert [r[0] for r in cat.search_text('"35018"', 5)] == [1]
        assert [r[0] for r in cat.search_text('"1234"', 5)] == [1]
        assert [r[0] for r in cat.search_text('"lh1234"', 5)] == [1]
        assert [r[0] for r in cat.search_text('"12"', 5)] == [2]  # "1234" is not "12"
        assert cat.photo_text(1) == "warning35018 Flight LH1234"  # shown as read
    finally:
        cat.close()


def test_text_of_an_offline_folder_is_not_found(text_library, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """An unplugged disk's photos are left out of results: by their words too."""
    assert text_library.search('"wifi password"')
    shots = tmp_path / "shots"
    shots.rename(tmp_path / "unplugged")
    text_library.index()  # the folder's root is gone: offline, rows and text kept
    assert text_library.search('"wifi password"') == []
    (tmp_path / "unplugged").rename(shots)
    text_library.index()
    assert text_library.search('"wifi password"')


def _ruler() -> Image.Image:
    """Tick marks: the text detector alone calls them text; nothing there reads."""
    img = Image.new("RGB", (640, 200), "white")
    draw = ImageDraw.Draw(img)
    for x in range(10, 630, 8):
        draw.line((x, 80, x, 80 + (20 if x % 40 == 10 else 10)), fill="black", width=2)
    return img


def test_the_skip_check_reads_the_detectors_boxes_before_full_ocr(
    tmp_path: Path, engine: OcrEngine
) -> None:
    """Boxes the detector finds in a texture are read first: nothing legible, so no
    full OCR (the photo is recorded as read, with no text). And the check leaves
    the engine as it was: real text right after it is read in full."""
    ruler = _ruler()
    assert engine.has_text(ruler)  # the detector alone would send it to full OCR
    assert not engine.legible(ruler)
    result = engine.text_of(ruler)
    assert result.skipped and result.text == ""
    text = engine.text_of(Image.open(render_text(tmp_path / "t.png", ["Platform 9 Departure"])))
    assert not text.skipped and "Platform" in text.text and "Departure" in text.text


def test_the_models_leave_a_core_to_the_decode_ahead(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """ONNX Runtime gets every core but one (at least one): the passes decode the
    next photo on the other meanwhile."""
    from glimpse.core.signals import text

    for cores, threads in ((1, 1), (2, 1), (8, 7), (None, 1)):
        monkeypatch.setattr(text.os, "cpu_count", lambda c=cores: c)
        assert text.ocr_threads() == threads
    monkeypatch.setattr(text.os, "cpu_count", lambda: 2)
    engine = OcrEngine()
    assert not engine.has_text(Image.new("RGB", (64, 64), "white"))
    det = engine._engine(True).text_det.session.session
    assert det.get_session_options().intra_op_num_threads == 1
