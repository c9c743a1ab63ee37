"""A photo's own words (core/signals/own_words.py): folder and file names, EXIF, XMP, IPTC."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PIL import Image

from conftest import SHARED, make_photo
from glimpse.core.signals import own_words

IMMICH = SHARED / "data" / "formats-immich" / "metadata"


def _described(path: Path, description: str, seed: int) -> Path:
    make_photo(path, seed=seed)
    im = Image.open(path)
    exif = im.getexif()
    exif[0x010E] = description  # ImageDescription
    im.save(path, "JPEG", exif=exif)
    return path


@pytest.fixture
def trips(library, tmp_path: Path):  # type: ignore[no-untyped-def]
    root = tmp_path / "Pictures"
    for i in range(6):
        make_photo(root / "2019 Paris trip" / f"IMG_{i:04d}.jpg", seed=i)
    for i in range(6):
        make_photo(root / "Camping 2021" / f"DSC{i:04d}.jpg", seed=100 + i)
    _described(root / "Camping 2021" / "DSC9999.jpg", "Grandma's ninetieth birthday", seed=999)
    library.add_folder(root)
    library.index(skip={"ocr", "faces"})
    return library, root


def test_a_folder_name_finds_its_photos_with_random_weights(trips) -> None:  # type: ignore[no-untyped-def]
    library, root = trips
    assert library.spec.is_random  # only the words can put them first
    hits = library.search("paris", k=6)
    assert {Path(h.path).parent.name for h in hits} == {"2019 Paris trip"}
    assert all(h.text_match and h.word_source == "its folder, name or description" for h in hits)
    assert "Paris" in (hits[0].snippet or "")


def test_an_exif_description_finds_its_photo(trips) -> None:  # type: ignore[no-untyped-def]
    library, root = trips
    hits = library.search("ninetieth birthday", k=3)
    assert Path(hits[0].path).name == "DSC9999.jpg"
    assert library.search('"ninetieth birthday"', k=3)[0].path == hits[0].path  # words only


def test_a_renamed_folder_is_read_again(trips) -> None:  # type: ignore[no-untyped-def]
    library, root = trips
    (root / "2019 Paris trip").rename(root / "2019 Lyon trip")
    report = library.index(skip={"ocr", "faces"})
    assert report.scan.moved == 6 and report.encode.encoded == 0  # vectors kept
    assert report.passes["own_words"].done == 6  # but its words are read again
    assert library.search('"paris"', k=5) == []
    assert {Path(h.path).parent.name for h in library.search('"lyon"', k=6)} == {"2019 Lyon trip"}


def test_words_of_deleted_photos_go(trips) -> None:  # type: ignore[no-untyped-def]
    library, root = trips
    (root / "Camping 2021" / "DSC9999.jpg").unlink()
    library.index(skip={"ocr", "faces"})
    assert library.search('"ninetieth"', k=3) == []


def test_real_files_keywords_descriptions_and_windows_tags() -> None:
    """Immich's test assets: IPTC keywords, XMP (digiKam, Lightroom), Windows XP* tags."""
    portrait = own_words.embedded_words(str(IMMICH / "faces" / "portrait.jpg"))
    assert "Marie Curie" in portrait and "Pierre Curie" in portrait
    mongolia = own_words.embedded_words(str(IMMICH / "rating" / "mongolels.jpg"))
    assert "Mongol Els" in mongolia and "Mongolia" in mongolia  # XPTitle, XPSubject
    utah = own_words.embedded_words(str(IMMICH / "gps-position" / "thompson-springs.jpg"))
    assert any("Thompson Springs" in w for w in utah) and "utah" in utah
    frost = own_words.embedded_words(str(IMMICH / "tags" / "picasa.jpg"))
    assert {"Frost", "Yard"} <= set(frost)


def test_a_sidecar_adds_its_keywords(tmp_path: Path) -> None:
    photo = make_photo(tmp_path / "IMG_1.jpg", seed=1)
    (tmp_path / "IMG_1.jpg.xmp").write_text(
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:lr="http://ns.adobe.com/lightroom/1.0/">'
        "<dc:subject><rdf:Bag><rdf:li>wedding</rdf:li><rdf:li>Café Mühle</rdf:li></rdf:Bag>"
        "</dc:subject><lr:hierarchicalSubject><rdf:Bag><rdf:li>Family|Anna</rdf:li></rdf:Bag>"
        "</lr:hierarchicalSubject></rdf:Description></rdf:RDF></x:xmpmeta>", "utf-8")
    assert own_words.embedded_words(str(photo)) == ["wedding", "Café Mühle", "Family Anna"]


def test_broken_metadata_costs_nothing_but_its_words(tmp_path: Path) -> None:
    photo = make_photo(tmp_path / "a.jpg", seed=3)
    (tmp_path / "a.xmp").write_bytes(b"<x:xmpmeta><rdf:RDF><unclosed")
    assert own_words.embedded_words(str(photo)) == []
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8 not really")
    assert own_words.embedded_words(str(tmp_path / "bad.jpg")) == []


def test_path_words_are_the_names_below_the_watched_folder() -> None:
    assert own_words.path_words("/home/a/Pictures/2019 Paris trip/IMG_0042.jpg",
                                "/home/a/Pictures") == "Pictures / 2019 Paris trip / IMG_0042"
    assert own_words.path_words("/elsewhere/x/y.png", "/home/a/Pictures") == "x / y"


def test_the_switch_turns_it_off(library, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    shutil.copytree(IMMICH / "faces", tmp_path / "faces")
    library.add_folder(tmp_path / "faces")
    report = library.index(skip={"ocr", "faces", "own-words"})
    assert "own_words" not in report.passes
    assert library.search('"curie"', k=3) == []
    library.index(skip={"ocr", "faces"})
    assert Path(library.search('"curie"', k=3)[0].path).name.startswith("portrait")


def test_the_cli_says_where_the_words_were_found(trips, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from glimpse.cli.main import main

    library, root = trips
    monkeypatch.setenv("GLIMPSE_NO_SERVICE", "1")
    assert main(["search", "ninetieth", "-k", "2", "--library", str(library.root),
                 "--model", str(library.spec)]) == 0
    out = capsys.readouterr().out
    assert "DSC9999.jpg" in out.splitlines()[0]
    assert "its folder, name or description: " in out and "[ninetieth]" in out
