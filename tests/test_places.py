"""Places: GPS from EXIF and XMP sidecars, offline names, the place filter and query boost."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import SHARED, TINY_MODEL, make_photo
from glimpse.core.library import Library
from glimpse.core.media import imaging
from glimpse.core.search.ranking import Filters
from glimpse.core.signals import places
from glimpse.core.storage import catalog as catalog_mod
from glimpse.core.storage.catalog import Catalog

IMMICH = SHARED / "data" / "formats-immich"
EXIF_SAMPLES = SHARED / "data" / "exif-samples"


def _gps_exif(lat: float, lon: float) -> Image.Exif:
    """EXIF with a GPS IFD as a phone writes it: unsigned DMS plus hemisphere letters."""
    exif = Image.Exif()
    gps = exif.get_ifd(0x8825)

    def dms(x: float) -> tuple[float, float, float]:
        x = abs(x)
        d = int(x)
        m = int((x - d) * 60)
        return (float(d), float(m), round((x - d - m / 60) * 3600, 4))

    gps[1], gps[2] = ("N" if lat >= 0 else "S"), dms(lat)
    gps[3], gps[4] = ("E" if lon >= 0 else "W"), dms(lon)
    return exif


def make_gps_photo(path: Path, seed: int, lat: float, lon: float) -> Path:
    make_photo(path, seed)
    with Image.open(path) as im:
        im.load()
        im.save(path, "JPEG", exif=_gps_exif(lat, lon))
    return path


LISBON = (38.7169, -9.1399)
PORTO = (41.1496, -8.6110)
PARIS = (48.8566, 2.3522)


def test_exif_gps_of_real_files() -> None:
    thompson = IMMICH / "metadata" / "gps-position" / "thompson-springs.jpg"
    if not thompson.exists():
        pytest.skip("shared formats-immich data not present")
    lat, lon = imaging.read_gps(thompson)  # type: ignore[misc]
    assert lat == pytest.approx(39 + 6 / 60 + 54 / 3600, abs=1e-6)
    assert lon == pytest.approx(-(108 + 24 / 60 + 3.486 / 3600), abs=1e-6)
    # NaN coordinates with no hemisphere: no place rather than a wrong one
    assert imaging.read_gps(IMMICH / "metadata" / "gps-position" / "empty_gps.jpg") is None
    heic = EXIF_SAMPLES / "heic" / "IMG_5195.HEIC"
    [place] = places.resolve([imaging.read_gps(heic)])  # type: ignore[list-item]
    assert place.country == "United States" and place.region == "Missouri"
    tuscany = places.resolve([imaging.read_gps(EXIF_SAMPLES / "jpg" / "gps" / "DSCN0029.jpg")])  # type: ignore[list-item]
    assert (tuscany[0].region, tuscany[0].country) == ("Tuscany", "Italy")


def test_resolve_names_city_region_country() -> None:
    lisbon, paris = places.resolve([LISBON, PARIS])
    assert (lisbon.city, lisbon.country) == ("Lisbon", "Portugal")
    assert lisbon.label == "Lisbon, Portugal"
    assert paris.country == "France" and paris.region == "Ile-de-France"
    assert places.resolve([]) == []


def test_xmp_sidecar_gps(tmp_path: Path) -> None:
    photo = make_photo(tmp_path / "IMG_1.jpg", 1)
    assert places.read_location(str(photo)) is None
    (tmp_path / "IMG_1.xmp").write_text(
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description '
        'exif:GPSLatitude="38,43.014N" exif:GPSLongitude="9,8.394W"/></rdf:RDF></x:xmpmeta>'
    )
    lat, lon = places.read_location(str(photo))  # type: ignore[misc]
    assert lat == pytest.approx(38.7169, abs=1e-4) and lon == pytest.approx(-9.1399, abs=1e-4)
    # The element form, "DDD,MM,SS" with seconds, and name.ext.xmp taking precedence
    (tmp_path / "IMG_1.jpg.xmp").write_text(
        "<exif:GPSLatitude>48,51,23.76N</exif:GPSLatitude>"
        "<exif:GPSLongitude>2,21,7.92E</exif:GPSLongitude>"
    )
    lat, lon = places.read_location(str(photo))  # type: ignore[misc]
    assert lat == pytest.approx(48.8566, abs=1e-4) and lon == pytest.approx(2.3522, abs=1e-4)
    assert places.parse_xmp_gps('exif:GPSLatitude="garbage" exif:GPSLongitude="1,2E"') is None


def test_place_key_and_query_words() -> None:
    assert places.place_key("  São  Paulo ") == "sao paulo"
    assert places.place_key("Île-de-France") == "ile de france"
    known = ["Lisbon", "Portugal", "Rio de Janeiro", "Nice"]
    assert places.places_in_query("beach in Lisbon", known) == ["Lisbon"]
    assert places.places_in_query("portugal sunset", known) == ["Portugal"]
    assert places.places_in_query("carnival in rio de janeiro", known) == ["Rio de Janeiro"]
    assert places.places_in_query("a dog on a beach", known) == []
    assert places.places_in_query("nice dog", ["Lisbon"]) == []  # only known places count


@pytest.fixture
def geo_dir(tmp_path: Path) -> Path:
    root = tmp_path / "geo"
    make_gps_photo(root / "lisbon1.jpg", 1, *LISBON)
    make_gps_photo(root / "lisbon2.jpg", 2, *LISBON)
    make_gps_photo(root / "porto.jpg", 3, *PORTO)
    make_gps_photo(root / "paris.jpg", 4, *PARIS)
    make_photo(root / "nogps.jpg", 5)
    return root


def _names(hits) -> set[str]:  # type: ignore[no-untyped-def]
    return {Path(h.path).name for h in hits}


def test_places_stored_at_indexing_and_filtered(library: Library, geo_dir: Path) -> None:
    library.add_folder(geo_dir)
    library.index()
    by_name = {name: (kind, n) for name, kind, n in library.places()}
    assert by_name["Lisbon"] == ("city", 2)
    assert by_name["Portugal"] == ("country", 3)
    assert by_name["France"] == ("country", 1)
    assert library.catalog.ids_without_place() == []  # the photo without GPS is marked looked-at

    hits = library.search("photo", k=10, filters=Filters(place="lisbon"))
    assert _names(hits) == {"lisbon1.jpg", "lisbon2.jpg"}
    assert all(h.place == "Lisbon, Portugal" for h in hits)
    assert _names(library.search("photo", k=10, filters=Filters(place="PORTUGAL"))) == {
        "lisbon1.jpg", "lisbon2.jpg", "porto.jpg"
    }
    assert _names(library.similar(geo_dir / "paris.jpg", k=10, filters=Filters(place="Île-de-France"))) == {"paris.jpg"}
    assert library.search("photo", k=10, filters=Filters(place="Atlantis")) == []


def test_place_words_raise_but_never_drop(library: Library, geo_dir: Path) -> None:
    library.add_folder(geo_dir)
    library.index()
    assert library.plan("beach in Lisbon").places == ("Lisbon",)  # the planner reads it
    plain = library.search("photo", k=5)
    boosted = library.search("photo in lisbon", k=5)
    # Every photo still comes back (k covers the library), the two from Lisbon first.
    assert _names(boosted) == _names(plain) == {
        "lisbon1.jpg", "lisbon2.jpg", "porto.jpg", "paris.jpg", "nogps.jpg"
    }
    assert _names(boosted[:2]) == {"lisbon1.jpg", "lisbon2.jpg"}


def test_backfill_reads_gps_of_photos_indexed_before(library: Library, geo_dir: Path) -> None:
    library.add_folder(geo_dir)
    library.index()
    with library.catalog.transaction() as db:
        db.execute("DELETE FROM places")  # as if indexed before places were stored
    assert len(library.catalog.ids_without_place()) == 5
    stops = iter([False, True])  # cancelled after the first chunk: resumes next time
    assert places.backfill(library.catalog, cancelled=lambda: next(stops), chunk=2) == 2
    assert len(library.catalog.ids_without_place()) == 3
    library.index()  # `glimpse index` finishes the job
    assert library.catalog.ids_without_place() == []
    assert {n for n, _, _ in library.places()} >= {"Lisbon", "Porto", "Paris", "Portugal"}


def test_changed_file_forgets_its_place(library: Library, geo_dir: Path) -> None:
    library.add_folder(geo_dir)
    library.index()
    make_photo(geo_dir / "porto.jpg", 99)  # rewritten without GPS
    library.index()
    assert "Porto" not in {n for n, _, _ in library.places()}


def test_migration_from_schema_1_keeps_vectors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "old.sqlite"
    monkeypatch.setattr(catalog_mod, "SCHEMA_VERSION", 1)
    old = Catalog(path)
    folder = old.add_folder("/photos")
    key = old.model_key("m", 4)
    with old.transaction() as db:
        pid = Catalog.insert_photo(db, "/photos/a.jpg", folder, 10, 1, "fp")
        Catalog.store_decoded(db, pid, 8, 6, None)
        Catalog.store_embedding(db, pid, key, np.array([1, 0, 0, 0], np.float32))
    old.close()
    monkeypatch.undo()
    new = Catalog(path)
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == catalog_mod.SCHEMA_VERSION
    ids, matrix = new.embeddings(key)
    assert ids.tolist() == [pid] and matrix[0].tolist() == [1, 0, 0, 0]
    assert new.ids_without_place() == [pid]  # the backfill will look at it
    new.close()


def test_real_gps_files_index_with_places(tmp_path: Path) -> None:
    source = EXIF_SAMPLES / "jpg" / "gps"
    if not source.exists():
        pytest.skip("shared exif-samples data not present")
    folder = tmp_path / "gps"
    shutil.copytree(source, folder)
    with Library(tmp_path / "lib", model=TINY_MODEL) as lib:
        lib.add_folder(folder)
        lib.index()
        names = {n: c for n, _, c in lib.places()}
        assert names.get("Italy") == len(list(folder.glob("*.jpg")))
        assert lib.search("photo", k=3, filters=Filters(place="tuscany"))


def test_cli_place_option_and_hint(geo_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from glimpse.cli.main import main

    lib = ["--library", str(tmp_path / "clilib"), "--model", TINY_MODEL]
    assert main(["index", *lib, str(geo_dir)]) == 0
    capsys.readouterr()
    assert main(["search", *lib, "photo", "--place", "lisboa", "--json"]) == 0
    # Lisboa is not what GeoNames calls it, but it is one of Lisbon's other names.
    assert {Path(h["path"]).name for h in json.loads(capsys.readouterr().out)} == {"lisbon1.jpg", "lisbon2.jpg"}
    assert main(["search", *lib, "photo", "--place", "Lisbon"]) == 0
    out = capsys.readouterr().out
    assert "lisbon1.jpg" in out and "(Lisbon, Portugal)" in out and "paris.jpg" not in out
    assert main(["similar", *lib, str(geo_dir / "paris.jpg"), "--place", "france"]) == 0
    assert "paris.jpg" in capsys.readouterr().out
    assert main(["search", *lib, "sunset", "in", "Lisbon"]) == 0
    assert '--place "Lisbon" keeps only those' in capsys.readouterr().out
    assert main(["search", *lib, "lisbon"]) == 0  # only a place: its photos, said so
    out = capsys.readouterr().out
    assert "Only photos from Lisbon" in out and "lisbon2.jpg" in out and "porto.jpg" not in out
    assert "keeps only those" not in out
    assert main(["search", *lib, "photo", "--place", "Lisbon"]) == 0
    assert "Only photos from" not in capsys.readouterr().out  # the option, not the query
    assert main(["search", *lib, "a", "photo", "without", "people"]) == 0
    assert "Leaving out: people (from “without people”)" in capsys.readouterr().out


# -- the place hierarchy (issue 25) -----------------------------------------

DARLINGHURST = (-33.8794, 151.2192)  # a suburb of Sydney
KOPAVOGUR = (64.1123, -21.9130)  # greater Reykjavik
EMINONU = (41.0167, 28.9714)  # old Istanbul; GeoNames writes "Eminoenue"
BOGENHAUSEN = (48.1522, 11.6158)  # a district of Munich
YOKOHAMA = (35.4437, 139.6380)  # a big city beside Tokyo: stays itself


def test_a_suburb_belongs_to_its_city_and_keeps_its_name() -> None:
    darling, kopa, emin, bogen, yoko = places.resolve([DARLINGHURST, KOPAVOGUR, EMINONU, BOGENHAUSEN, YOKOHAMA])
    assert (darling.locality, darling.city, darling.region, darling.country) == (
        "Darlinghurst", "Sydney", "New South Wales", "Australia")
    assert (kopa.locality, kopa.city, kopa.country) == ("Kopavogur", "Reykjavík", "Iceland")
    assert (emin.city, places.place_key(emin.locality or "")) == ("Istanbul", "eminonu")
    assert (bogen.locality, bogen.city, bogen.region) == ("Bogenhausen", "Munich", "Bavaria")
    assert (yoko.city, yoko.locality) == ("Yokohama", None)
    [lisbon] = places.resolve([LISBON])
    assert (lisbon.city, lisbon.locality) == ("Lisbon", None)  # a city centre is its own locality


def test_place_keys_fold_accents_and_german_vowels() -> None:
    assert places.place_key("Eminönü") == places.place_key("Eminonu") == places.place_key("Eminoenue")
    assert places.place_key("Reykjavík") == places.place_key("REYKJAVIK") == "reykjavik"
    key = places.match_key("Sydney", "New South Wales", "Australia", "Darlinghurst", ("Sidney",))
    assert key == "|darlinghurst|sydney|sidney|new south wales|australia|"


@pytest.fixture
def world_dir(tmp_path: Path) -> Path:
    root = tmp_path / "world"
    for i, where in enumerate([DARLINGHURST, DARLINGHURST, KOPAVOGUR, EMINONU, BOGENHAUSEN, LISBON]):
        make_gps_photo(root / f"p{i}.jpg", 10 + i, *where)
    for i in range(3):
        make_photo(root / f"nogps{i}.jpg", 30 + i)
    return root


def test_city_region_country_and_other_names_find_suburb_photos(library: Library, world_dir: Path) -> None:
    library.add_folder(world_dir)
    library.index()

    def place(name: str) -> set[str]:
        return _names(library.search("photo", k=20, filters=Filters(place=name)))

    assert place("Sydney") == place("new south wales") == place("Australia") == {"p0.jpg", "p1.jpg"}
    assert place("Darlinghurst") == {"p0.jpg", "p1.jpg"}
    assert place("Reykjavik") == place("Ísland") == {"p2.jpg"}
    assert place("Turkey") == place("Eminönü") == {"p3.jpg"}  # English name; accents
    assert place("München") == place("Bavaria") == {"p4.jpg"}
    assert place("Lisboa") == {"p5.jpg"}
    # One letter off: the one stored name that near ("Sidney", "Bavarai", "Lisbn").
    assert place("Sidney") == {"p0.jpg", "p1.jpg"} and place("Bavarai") == {"p4.jpg"}
    assert place("Lisbn") == {"p5.jpg"} and place("Atlantis") == set()
    by_name = {name: (kind, n) for name, kind, n in library.places()}
    assert by_name["Sydney"] == ("city", 2) and by_name["New South Wales"] == ("region", 2)
    assert by_name["Iceland"] == ("country", 1)


def test_a_query_that_is_only_a_place_lists_its_photos_first(library: Library, world_dir: Path) -> None:
    library.add_folder(world_dir)
    library.index()
    assert _names(library.search("Sydney", k=5)) == {"p0.jpg", "p1.jpg"}  # only a place: a filter
    assert _names(library.search("reykjavík", k=5)) == {"p2.jpg"}
    assert _names(library.search("München", k=5)) == {"p4.jpg"}  # another name of Munich
    ranked = library.search("beach in Sydney", k=9)
    assert _names(ranked[:2]) == {"p0.jpg", "p1.jpg"} and len(ranked) == 9  # none dropped
    assert library.plan("beach in Sydney").chip("place").label == "Sydney"  # type: ignore[union-attr]
    # Removing the chip: plain words, no place first.
    assert library.plan("Sydney", ignore=["sydney"]).filters.place is None


def test_places_of_an_older_version_are_named_again_from_their_coordinates(
        library: Library, world_dir: Path) -> None:
    library.add_folder(world_dir)
    library.index()
    with library.catalog.transaction() as db:  # as an older Glimpse stored them
        db.execute("UPDATE places SET city = locality, locality = NULL, version = 1, "
                   "match_key = '|darlinghurst|new south wales|australia|' WHERE locality = 'Darlinghurst'")
    assert len(places.stale_ids(library.catalog)) == 2
    assert "Sydney" not in {n for n, _, _ in library.places()}
    done, total = places.STAGE.progress_counts(library.catalog)
    assert (done, total) == (7, 9)  # the two stale ones count as still to do
    for p in world_dir.glob("*.jpg"):  # no file is read again: coordinates are stored
        p.unlink()
    report = places.STAGE.run(library.catalog, None, None)  # type: ignore[misc]
    assert report.done == 2 and report.remaining == 0
    assert places.stale_ids(library.catalog) == []
    assert {"Sydney", "Darlinghurst"} <= set(places.known_names(library.catalog, [n for n, _, _ in library.places()]))


def test_a_generated_catalog_holds_current_places(tmp_path: Path) -> None:
    """bench_scale's catalogs name made-up places at one point: they must not be renamed."""
    from glimpse.diagnostics import synthetic

    path = tmp_path / "c.sqlite"
    synthetic.build_catalog(path, synthetic.uniform_vectors(40, 8, np.random.default_rng(0)))
    catalog = Catalog(path)
    assert catalog.read("SELECT COUNT(*) FROM places")[0][0] == 10  # every 4th photo
    assert places.stale_ids(catalog) == []
    catalog.close()
