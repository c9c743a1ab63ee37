"""Search by a part of a photo: `glimpse similar PHOTO --region x,y,w,h` (core/search/region.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from conftest import TINY_MODEL, make_photo
from glimpse.core.errors import QueryError
from glimpse.core.library import Library
from glimpse.core.search import region


def test_regions_are_read_and_bad_ones_refused_with_a_reason() -> None:
    assert region.parse("0.5,0,0.5,0.5") == region.Region(0.5, 0.0, 0.5, 0.5)
    assert region.parse([0, 0, 1, 1]) == region.Region(0.0, 0.0, 1.0, 1.0)
    with pytest.raises(QueryError, match="not x,y,w,h"):
        region.parse("0.5,0.5")
    with pytest.raises(QueryError, match="not x,y,w,h"):
        region.parse("a,b,c,d")
    with pytest.raises(QueryError, match="width and height above 0"):
        region.parse("0.1,0.1,0,0.5")
    with pytest.raises(QueryError, match="outside the photo"):
        region.parse("0.6,0,0.5,0.5")
    # The cut is in pixels of the photo as decoded: 0.5 of 200 px wide is 100 px.
    cut = region.Region(0.5, 0.25, 0.5, 0.5).cut(Image.new("RGB", (200, 100)))
    assert cut.size == (100, 50)
    assert region.Region(0.1, 0.1, 0.1, 0.1).decode_side(224) == 2240
    assert region.Region(0.01, 0.01, 0.01, 0.01).decode_side(224) == region.MAX_DECODE_SIDE


@pytest.fixture
def parts(tmp_path: Path) -> Path:
    """A photo whose left half is one picture and right half another, and both alone."""
    root = tmp_path / "photos"
    left = make_photo(root / "left.jpg", 1, size=(120, 120))
    right = make_photo(root / "right.jpg", 2, size=(120, 120))
    both = Image.new("RGB", (240, 120))
    with Image.open(left) as a, Image.open(right) as b:
        both.paste(a, (0, 0))
        both.paste(b, (120, 0))
    both.save(root / "both.jpg", quality=95)
    for i in range(4):
        make_photo(root / f"other{i}.jpg", 10 + i, size=(120, 120))
    return root


def test_similar_to_a_region_finds_the_photo_of_that_part(library: Library, parts: Path) -> None:
    library.add_folder(parts)
    library.index()
    both = parts / "both.jpg"

    def ranked(r: str | None) -> list[str]:
        hits = library.similar(both, k=7, region=region.parse(r) if r else None)
        return [Path(h.path).name for h in hits if h.path != str(both.resolve())]

    assert ranked("0,0,0.5,1")[0] == "left.jpg"
    assert ranked("0.5,0,0.5,1")[0] == "right.jpg"
    assert ranked("0,0,1,1")[0] in {"left.jpg", "right.jpg"}  # the whole photo: itself excluded


def test_cli_similar_region(parts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from glimpse.cli.main import main

    lib = ["--library", str(tmp_path / "clilib"), "--model", TINY_MODEL]
    assert main(["index", *lib, str(parts)]) == 0
    capsys.readouterr()
    assert main(["similar", *lib, str(parts / "both.jpg"), "--region", "0.5,0,0.5,1", "--json"]) == 0
    names = [Path(h["path"]).name for h in json.loads(capsys.readouterr().out)]
    assert names[0] == "right.jpg"
    assert main(["similar", *lib, str(parts / "both.jpg"), "--region", "0.9,0,0.5,1"]) != 0
    assert "outside the photo" in capsys.readouterr().err
