"""The CLI's word and date features end to end: index reads text, search fuses and filters."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import make_photo
from test_cli import run_cli
from test_ocr import render_text


def test_index_reads_text_and_search_finds_it(tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    render_text(photos / "ticket.png", ["BOARDING PASS", "Gate B22"])
    for i in range(3):
        make_photo(photos / f"img_{i}.jpg", seed=i)
    lib = tmp_path / "lib"
    out = run_cli("index", str(photos), "--no-ocr", lib=lib)
    assert "Read text" not in out.stdout
    out = run_cli("ocr", lib=lib)
    assert "Read text in 4 photos" in out.stdout
    assert "Read text in 0 photos" in run_cli("index", lib=lib).stdout  # nothing left to read

    text = run_cli("search", "boarding pass", "-k", "2", lib=lib).stdout.splitlines()
    assert text[0].endswith("ticket.png") and "[BOARDING] [PASS]" in text[1]
    hits = json.loads(run_cli("search", '"gate b22"', "--json", lib=lib).stdout)
    assert [Path(h["path"]).name for h in hits] == ["ticket.png"] and hits[0]["text_match"]

    dated = run_cli("search", "boarding pass june 2021", lib=lib).stdout
    assert "Date filter: June 2021 (from the query; --no-date-words to ignore)" in dated
    assert "No matching photos." in dated  # the files are dated today
    plain = run_cli("search", "boarding pass june 2021", "--no-date-words", lib=lib).stdout
    assert "Date filter" not in plain and "ticket.png" in plain.splitlines()[0]
    this_year = run_cli("search", "this year", "--sort", "oldest", "--json", lib=lib)
    assert len(json.loads(this_year.stdout)) == 4  # a date alone lists the photos it covers
    assert "Date filter: " in this_year.stderr
