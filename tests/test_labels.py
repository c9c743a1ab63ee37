"""Label sets: exact round trip, durability, resumable sampling, caption import."""

from __future__ import annotations

import csv
import hashlib
import random
import subprocess
import sys
from pathlib import Path

import pytest

from glimpse.core.errors import LabelSetError
from glimpse.evaluation.labels import (
    HEADER,
    LabelRow,
    LabelSet,
    Sampler,
    escape_cell,
    import_captions,
    unescape_cell,
)

NASTY = [
    "plain",
    "",
    "日本語の説明 — ünïcödé 🐕‍🦺",
    "a, b, and c",
    'she said "hi"',
    '"',
    "line one\nline two\r\nline three\rend",
    "lone\rCR inside",  # csv leaves this unquoted with a \n terminator
    "=cmd|' /C calc'!A0",
    "=1+1",
    "+1",
    "-1",
    "@x",
    "\tTAB first",
    "\rCR first",
    "'quoted",
    "''double",
    "'",
    "'=already escaped looking",
    " leading space",
    "trailing space ",
    "nul\x00inside",
]
FLICKR = Path("/work/shared/data/flickr8k-1k")


def make_row(
    short: str = "a dog", long: str = "", path: str = "photos/dog.jpg", **kw: str
) -> LabelRow:
    fields = {
        "fingerprint": "0" * 32,
        "labeler": "tester",
        "created_at": "2024-05-01T12:00:00+00:00",
        "status": "labeled",
    }
    fields.update(kw)
    return LabelRow(path=path, short=short, long=long, **fields)


def test_open_creates_file_with_header(tmp_path: Path) -> None:
    p = tmp_path / "sub" / "labels.csv"
    ls = LabelSet.open(p)
    assert ls.rows == []
    assert p.read_bytes() == b"path,fingerprint,short,long,labeler,created_at,status\r\n"
    assert ls.done_count() == 0


def test_wrong_header_is_rejected(tmp_path: Path) -> None:
    p = tmp_path / "labels.csv"
    p.write_text("path,short,long\nx,y,z\n", encoding="utf-8")
    with pytest.raises(LabelSetError, match="header"):
        LabelSet.open(p)


def test_nasty_strings_round_trip_in_every_field(tmp_path: Path) -> None:
    p = tmp_path / "labels.csv"
    ls = LabelSet.open(p)
    written = []
    for i, s in enumerate(NASTY):
        row = make_row(short=s, long=NASTY[-1 - i], labeler=s, fingerprint=s, created_at=s)
        ls.append(row)
        written.append(row)
    assert ls.rows == written
    assert LabelSet.open(p).rows == written


def test_escape_rule_round_trips_random_strings() -> None:
    rng = random.Random(1234)
    alphabet = list("=+-@'\"\t\r\n, ab€日🐕\x00")
    for _ in range(5000):
        s = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6)))
        assert unescape_cell(escape_cell(s)) == s
        assert not escape_cell(s).startswith(("=", "+", "-", "@", "\t", "\r"))


def test_random_rows_round_trip_through_the_file(tmp_path: Path) -> None:
    rng = random.Random(99)
    alphabet = list("=+-@'\"\t\r\n, ab€日🐕")
    p = tmp_path / "labels.csv"
    ls = LabelSet.open(p)
    rows = []
    for _ in range(200):
        texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 8))) for _ in range(2)]
        rows.append(make_row(short=texts[0], long=texts[1]))
        ls.append(rows[-1])
    assert LabelSet.open(p).rows == rows


def test_raw_csv_shows_the_escape(tmp_path: Path) -> None:
    p = tmp_path / "labels.csv"
    ls = LabelSet.open(p)
    ls.append(make_row(short="=cmd", long="'quoted"))
    ls.append(make_row(short="+1", long="@x"))
    raw = p.read_bytes().decode("utf-8")
    lines = raw.splitlines()
    assert (
        lines[1]
        == "photos/dog.jpg,00000000000000000000000000000000,'=cmd,''quoted,tester,2024-05-01T12:00:00+00:00,labeled"
    )
    assert ",'+1,'@x," in lines[2]
    # a spreadsheet-style CSV reader sees the inert, prefixed text
    with open(p, encoding="utf-8", newline="") as fh:
        rec = list(csv.reader(fh))
    assert rec[1][2:4] == ["'=cmd", "''quoted"]


def test_append_survives_a_hard_exit(tmp_path: Path) -> None:
    """os._exit skips every Python-level flush: only what append forced to disk remains."""
    p = tmp_path / "labels.csv"
    LabelSet.open(p).append(make_row(short="first"))
    code = (
        "import os, sys\n"
        "from glimpse.evaluation.labels import LabelSet, LabelRow\n"
        "ls = LabelSet.open(sys.argv[1])\n"
        "ls.append(LabelRow('p/x.jpg', '', 'second, \"with\" =stuff', '', 'sub', 't', 'labeled'))\n"
        "os._exit(1)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(p)], capture_output=True, text=True)
    assert proc.returncode == 1, proc.stderr
    rows = LabelSet.open(p).rows
    assert [r.short for r in rows] == ["first", 'second, "with" =stuff']


def test_append_survives_being_killed(tmp_path: Path) -> None:
    p = tmp_path / "labels.csv"
    code = (
        "import sys\n"
        "from glimpse.evaluation.labels import LabelSet, LabelRow\n"
        "ls = LabelSet.open(sys.argv[1])\n"
        "ls.append(LabelRow('p/x.jpg', '', 'killed after this', '', 'sub', 't', 'labeled'))\n"
        "print('appended', flush=True)\n"
        "sys.stdin.read()\n"  # block until the parent kills us
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(p)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "appended"
        proc.kill()
    finally:
        proc.wait()
        if proc.stdin:
            proc.stdin.close()
        if proc.stdout:
            proc.stdout.close()
    assert [r.short for r in LabelSet.open(p).rows] == ["killed after this"]


def test_torn_last_row_is_dropped_and_file_repaired(tmp_path: Path) -> None:
    p = tmp_path / "labels.csv"
    ls = LabelSet.open(p)
    ls.append(make_row(short="kept"))
    with open(p, "ab") as fh:  # a crash in the middle of writing the next row
        fh.write(b'photos/cat.jpg,,"a cat\non a mat",,tester,2024-05-01T1')
    reopened = LabelSet.open(p)
    assert [r.short for r in reopened.rows] == ["kept"]
    reopened.append(make_row(short="next"))
    assert [r.short for r in LabelSet.open(p).rows] == ["kept", "next"]


def test_file_without_final_newline_keeps_its_last_row(tmp_path: Path) -> None:
    p = tmp_path / "labels.csv"
    p.write_text(",".join(HEADER) + "\nx.jpg,,s,l,me,t,labeled", encoding="utf-8")
    ls = LabelSet.open(p)
    ls.append(make_row(short="after"))
    assert [r.short for r in LabelSet.open(p).rows] == ["s", "after"]


def test_malformed_middle_row_is_an_error(tmp_path: Path) -> None:
    p = tmp_path / "labels.csv"
    p.write_text(
        ",".join(HEADER) + "\nx.jpg,,s,l,me,t,maybe\ny.jpg,,s,l,me,t,labeled\n", encoding="utf-8"
    )
    with pytest.raises(LabelSetError, match="status"):
        LabelSet.open(p)


def test_bom_from_a_spreadsheet_is_accepted(tmp_path: Path) -> None:
    p = tmp_path / "labels.csv"
    p.write_bytes(("\ufeff" + ",".join(HEADER) + "\r\nx.jpg,,s,l,me,t,labeled\r\n").encode("utf-8"))
    assert [r.path for r in LabelSet.open(p).rows] == ["x.jpg"]


def test_invalid_rows_are_refused(tmp_path: Path) -> None:
    ls = LabelSet.open(tmp_path / "labels.csv")
    with pytest.raises(LabelSetError):
        ls.append(make_row(status="done"))
    with pytest.raises(LabelSetError):
        ls.append(make_row(path="/abs/x.jpg"))
    with pytest.raises(LabelSetError):
        ls.append(make_row(path="C:\\photos\\x.jpg"))
    assert ls.rows == [] and LabelSet.open(ls.path).rows == []


def test_replace_last(tmp_path: Path) -> None:
    p = tmp_path / "labels.csv"
    ls = LabelSet.open(p)
    with pytest.raises(LabelSetError):
        ls.replace_last(make_row())
    ls.append(make_row(short="one", path="a.jpg"))
    ls.append(make_row(short="tpyo", path="b.jpg"))
    p.chmod(0o640)
    fixed = make_row(short='=fixed, "really"\nok', path="b.jpg")
    ls.replace_last(fixed)
    assert ls.rows[-1] == fixed
    assert [r.short for r in LabelSet.open(p).rows] == ["one", fixed.short]
    assert p.stat().st_mode & 0o777 == 0o640
    assert [q.name for q in tmp_path.iterdir()] == ["labels.csv"]  # no temp files left


def test_unsuitable_rows_count_as_seen_not_done(tmp_path: Path) -> None:
    ls = LabelSet.open(tmp_path / "labels.csv")
    ls.append(make_row(path="a.jpg"))
    ls.append(make_row(path="b.jpg", short="", long="too blurry", status="unsuitable"))
    assert ls.labeled_paths() == {"a.jpg", "b.jpg"}
    assert ls.done_count() == 1


def test_sampler_is_reproducible_and_order_independent() -> None:
    cands = [f"img/{i:03d}.jpg" for i in range(50)]
    first = Sampler(cands, seed=5, exclude=set())
    order = [first.next() for _ in range(50)]
    assert first.next() is None
    assert sorted(order) == cands  # type: ignore[type-var]
    assert order != cands
    shuffled = list(reversed(cands))
    assert [Sampler(shuffled, seed=5, exclude=set()).next() for _ in range(1)] == order[:1]
    other = Sampler(cands, seed=6, exclude=set())
    assert [other.next() for _ in range(50)] != order


def test_sampler_resume_skips_labeled_and_keeps_order(tmp_path: Path) -> None:
    cands = [f"img/{i:03d}.jpg" for i in range(40)]
    full = Sampler(cands, seed=11, exclude=set())
    order = [full.next() for _ in range(40)]
    ls = LabelSet.open(tmp_path / "labels.csv")
    for path in order[:15]:
        assert path is not None
        ls.append(make_row(path=path))
    resumed = Sampler(cands, seed=11, exclude=ls.labeled_paths())
    assert resumed.remaining() == 25
    rest = []
    while (nxt := resumed.next()) is not None:
        rest.append(nxt)
    assert rest == order[15:]
    assert not set(rest) & ls.labeled_paths()


def test_sampler_never_repeats_and_honours_later_exclusions() -> None:
    s = Sampler(["a", "b", "c", "c", "d"], seed=0, exclude={"b"})
    got = [s.next()]
    remaining = {"a", "c", "d"} - set(got)
    victim = sorted(remaining)[0]
    s.exclude(victim)
    while (n := s.next()) is not None:
        got.append(n)
    assert len(got) == len(set(got))
    assert "b" not in got and victim not in got
    assert set(got) | {victim} == {"a", "c", "d"}


def _blake(path: Path) -> str:
    return hashlib.blake2b(path.read_bytes(), digest_size=16).hexdigest()


def test_import_small_caption_file(tmp_path: Path) -> None:
    images = tmp_path / "images"
    (images / "sub").mkdir(parents=True)
    (images / "a.jpg").write_bytes(b"fake jpeg a")
    (images / "sub" / "b.jpg").write_bytes(b"fake jpeg b")
    src = tmp_path / "caps.csv"
    with open(src, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["image", "caption"])
        w.writerow(["a.jpg", "A dog, running"])
        w.writerow(["a.jpg", '=SUM(A1) "dog"'])
        w.writerow(["sub/b.jpg", "Ein Hund läuft"])
        w.writerow(["missing.jpg", "not on disk"])
        w.writerow(["a.jpg", "   "])  # blank caption: skipped
    out = tmp_path / "labels" / "caps-labels.csv"
    ls = import_captions(src, out, images)
    assert [(r.path, r.short) for r in ls.rows] == [
        ("a.jpg", "A dog, running"),
        ("a.jpg", '=SUM(A1) "dog"'),
        ("sub/b.jpg", "Ein Hund läuft"),
        ("missing.jpg", "not on disk"),
    ]
    assert all(r.long == "" and r.status == "labeled" for r in ls.rows)
    assert {r.labeler for r in ls.rows} == {"import:caps.csv"}
    assert ls.rows[0].fingerprint == _blake(images / "a.jpg")
    assert ls.rows[2].fingerprint == _blake(images / "sub" / "b.jpg")
    assert ls.rows[3].fingerprint == ""
    assert LabelSet.open(out).rows == ls.rows
    with pytest.raises(LabelSetError, match="already has rows"):
        import_captions(src, out, images)


def test_import_rejects_a_file_without_caption_columns(tmp_path: Path) -> None:
    src = tmp_path / "caps.csv"
    src.write_text("file,text\na.jpg,x\n", encoding="utf-8")
    with pytest.raises(LabelSetError, match="caption"):
        import_captions(src, tmp_path / "out.csv", tmp_path)


def test_import_flickr8k_1k(tmp_path: Path) -> None:
    if not (FLICKR / "captions.csv").is_file():
        pytest.skip("flickr8k-1k sample not present")
    ls = import_captions(FLICKR / "captions.csv", tmp_path / "flickr.csv", FLICKR / "images")
    assert len(ls.rows) == 5000
    assert ls.done_count() == 5000
    assert len(ls.labeled_paths()) == 1000
    assert all(len(r.fingerprint) == 32 for r in ls.rows)
    first = ls.rows[0]
    assert first.path == "1000268201_693b08cb0e.jpg"
    assert first.short.startswith("A child in a pink dress")
    assert first.fingerprint == _blake(FLICKR / "images" / first.path)
    assert first.labeler == "import:captions.csv"
