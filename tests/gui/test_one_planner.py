"""One query planner: the same query gives the same answer in the app, the CLI and the service.

A table of queries goes through the app's search call, through `glimpse search`
in-process (no service) and through `glimpse search` answered by the app's
local service, and the three rankings must be the same photos in the same order.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest

from conftest import make_photo
from glimpse.core.search.ranking import Filters
from gui.conftest import INDEX_TIMEOUT_MS
from gui.test_gui_window import index_folder
from test_ocr import render_text
from test_places import DARLINGHURST, make_gps_photo

QUERIES = [
    "boarding pass",  # meaning fused with the text read in a photo
    '"gate b22"',  # a quoted phrase: words only
    "paris",  # a folder's name (own words)
    "red car this year",  # a date phrase: a filter, and "red car" by meaning
    "photos from 1999",  # a date no photo has: nothing
    '"beach" + "sunset" - "people"',  # a combined query
    "Sydney",  # only a place (a suburb's photo too): its photos, newest first
    "beach in Sydney",  # Sydney's photos first, ranked by "beach"
    "a beach without people",  # plain-word negation: "a beach" - "people"
    "dogs but no cats",
    "not at night",  # only what is not wanted
    "bording pass",  # a one-letter typo in a word in a photo
    "beach in Sidney",  # ... and in a place's name
]


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    root = tmp_path / "archive"
    for i in range(5):
        make_photo(root / "2019 Paris trip" / f"IMG_{i}.jpg", seed=i)
    for i in range(5):
        make_photo(root / "misc" / f"p{i}.jpg", seed=50 + i)
    render_text(root / "misc" / "ticket.png", ["BOARDING PASS", "Gate B22"])
    make_gps_photo(root / "trip" / "darlinghurst.jpg", 70, *DARLINGHURST)
    return root


def _cli(library: Path, query: str, use_service: bool, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    from glimpse.cli.main import main

    monkeypatch.setenv("GLIMPSE_NO_SERVICE", "0" if use_service else "1")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = main(["search", query, "-k", "8", "--json", "--library", str(library),
                   "--model", "GlimpseTiny:random"])
    assert rc == 0
    return [h["path"] for h in json.loads(out.getvalue())]


def test_the_same_query_gives_the_same_answer_everywhere(  # type: ignore[no-untyped-def]
        qtbot, make_window, archive: Path, tmp_path: Path, monkeypatch) -> None:
    window = make_window()
    index_folder(qtbot, window, archive)
    c = window.controller
    served = c._service
    assert served is not None, "the app's local service did not start"
    for query in QUERIES:
        with qtbot.waitSignal(c.searchFinished, timeout=INDEX_TIMEOUT_MS) as blocker:
            c.search_text(query, Filters(), k=8)
        in_app = [h.path for h in blocker.args[0].hits]
        before = served.requests
        through_service = _cli(tmp_path / "library", query, True, monkeypatch)
        assert served.requests == before + 1, "the CLI was not answered by the service"
        in_process = _cli(tmp_path / "library", query, False, monkeypatch)
        assert in_app == through_service == in_process, query
    # The table means something: the words, the folder and the date all decided.
    assert Path(_cli(tmp_path / "library", "boarding pass", False, monkeypatch)[0]).name == "ticket.png"
    assert {Path(p).parent.name for p in _cli(tmp_path / "library", "paris", False, monkeypatch)[:5]} \
        == {"2019 Paris trip"}
    assert _cli(tmp_path / "library", "photos from 1999", False, monkeypatch) == []
    assert [Path(p).name for p in _cli(tmp_path / "library", "Sydney", False, monkeypatch)] == ["darlinghurst.jpg"]
    assert Path(_cli(tmp_path / "library", "beach in Sydney", False, monkeypatch)[0]).name == "darlinghurst.jpg"
    assert Path(_cli(tmp_path / "library", "beach in Sidney", False, monkeypatch)[0]).name == "darlinghurst.jpg"
    assert Path(_cli(tmp_path / "library", "bording pass", False, monkeypatch)[0]).name == "ticket.png"
