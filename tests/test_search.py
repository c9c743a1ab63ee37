"""Queries: parsing, combination, filters, and agreement with exact search."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import make_photo
from glimpse.core.errors import QueryError
from glimpse.core.search.ranking import Filters, QueryTerm, combine, parse_date, parse_query
from glimpse.core.storage.vector_index import exact_search


def test_parse_plain_and_combined_queries() -> None:
    assert parse_query("two dogs playing in snow") == [QueryTerm(1.0, text="two dogs playing in snow")]
    assert parse_query('"beach" + "sunset" - "people"') == [
        QueryTerm(1.0, text="beach"),
        QueryTerm(1.0, text="sunset"),
        QueryTerm(-1.0, text="people"),
    ]
    for bad in ("", '"beach" "sunset"', '"beach" + sunset', '"" + "x"'):
        with pytest.raises(QueryError):
            parse_query(bad)


def test_parse_date() -> None:
    assert parse_date("2023-06-01", "after") == "2023-06-01"
    assert parse_date("2023-06", "after") == "2023-06-01"
    assert parse_date("2023", "after") == "2023-01-01"
    with pytest.raises(QueryError):
        parse_date("June", "after")


def test_combine_adds_and_subtracts_then_normalises() -> None:
    a, b = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    v = combine(np.stack([a, b]), [1.0, -1.0])
    assert np.allclose(v, np.array([1, -1]) / np.sqrt(2))
    with pytest.raises(QueryError):
        combine(np.stack([a, a]), [1.0, -1.0])


@pytest.fixture
def indexed(library, photo_dir: Path):
    library.add_folder(photo_dir)
    library.index()
    return library


def test_text_search_matches_exact_ranking(indexed) -> None:
    lib = indexed
    hits = lib.search("a red bicycle at the beach", k=5)
    ids, matrix = lib.gallery()
    query = lib.encoder.encode_texts(["a red bicycle at the beach"])[0]
    expected = exact_search(matrix, ids, query, 5)
    assert [h.photo_id for h in hits] == [i for i, _ in expected]
    assert np.allclose([h.score for h in hits], [s for _, s in expected], atol=2e-3)


def test_combined_query_equals_vector_arithmetic(indexed) -> None:
    lib = indexed
    hits = lib.search('"beach" + "sunset" - "people"', k=8)
    t = lib.encoder.encode_texts(["beach", "sunset", "people"])
    q = combine(t, [1, 1, -1])
    ids, matrix = lib.gallery()
    assert [h.photo_id for h in hits] == [i for i, _ in exact_search(matrix, ids, q, 8)]


def test_text_plus_image_query(indexed, photo_dir: Path) -> None:
    lib = indexed
    hits = lib.search("x", k=8, image=photo_dir / "img_03.jpg")
    t = lib.encoder.encode_texts(["x"])[0]
    img = lib.image_vector(photo_dir / "img_03.jpg")
    ids, matrix = lib.gallery()
    expected = exact_search(matrix, ids, combine(np.stack([t, img]), [1, 1]), 8)
    assert [h.photo_id for h in hits] == [i for i, _ in expected]


def test_similar_returns_the_photo_itself_first(indexed, photo_dir: Path) -> None:
    hits = indexed.similar(photo_dir / "img_02.jpg", k=3)
    assert hits[0].path == str(photo_dir / "img_02.jpg")
    assert hits[0].score == pytest.approx(1.0, abs=1e-3)


def test_similar_with_an_outside_image_file(indexed, photo_dir: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.png"
    Image.open(photo_dir / "img_05.jpg").save(outside)  # same picture, another file
    hits = indexed.similar(outside, k=1)
    assert hits[0].path == str(photo_dir / "img_05.jpg")


def test_folder_filter(indexed, photo_dir: Path) -> None:
    hits = indexed.search("anything", k=20, filters=Filters(folder=str(photo_dir / "trip")))
    assert {Path(h.path).name for h in hits} == {"img_06.jpg", "img_07.jpg"}
    # A folder whose name merely starts the same is not inside it.
    make_photo(photo_dir.parent / "photos2" / "z.jpg", seed=50)
    assert indexed.search("x", k=20, filters=Filters(folder=str(photo_dir / "tri"))) == []


def test_date_filter_uses_exif_or_mtime(library, tmp_path: Path) -> None:
    folder = tmp_path / "dated"
    old = make_photo(folder / "old.jpg", seed=1)
    new = make_photo(folder / "new.jpg", seed=2)
    exif = Image.Exif()
    exif[0x8769] = {36867: "2019:07:14 10:00:00"}  # DateTimeOriginal in the Exif IFD
    Image.open(old).save(old, exif=exif)
    os.utime(new, (1_700_000_000, 1_700_000_000))  # 2023-11-14, no EXIF date
    library.add_folder(folder)
    library.index()
    after = library.search("x", k=5, filters=Filters(after="2023-01-01"))
    assert [Path(h.path).name for h in after] == ["new.jpg"]
    before = library.search("x", k=5, filters=Filters(before="2020-01-01"))
    assert [Path(h.path).name for h in before] == ["old.jpg"]
    assert before[0].taken_at == "2019-07-14T10:00:00"


def test_folder_filter_is_applied_inside_the_search(indexed, photo_dir: Path) -> None:
    hits = indexed.search("x", k=20, filters=Filters(folder=str(photo_dir / "trip")))
    assert {Path(h.path).name for h in hits} == {"img_06.jpg", "img_07.jpg"}


def test_bad_k_and_empty_query(indexed) -> None:
    with pytest.raises(QueryError):
        indexed.search("x", k=0)
    with pytest.raises(QueryError):
        indexed.search("   ")


def test_search_does_not_wait_while_another_model_loads(indexed, monkeypatch) -> None:
    import threading

    from glimpse.core import library as library_module
    from glimpse.core.encoding.encoder import ModelSpec

    loading, release = threading.Event(), threading.Event()
    real_encoder = library_module.Encoder

    def slow_encoder(spec, *args, **kwargs):  # type: ignore[no-untyped-def]
        loading.set()
        release.wait(60)  # a big model loading from disk, during a model switch
        return real_encoder(spec, *args, **kwargs)

    monkeypatch.setattr(library_module, "Encoder", slow_encoder)
    other = ModelSpec.parse("RN50:random")
    loader = threading.Thread(target=lambda: indexed.encoder_for(other), daemon=True)
    loader.start()
    try:
        assert loading.wait(30)
        done = threading.Event()
        result = {}

        def search() -> None:
            result["hits"] = indexed.search("a harbour at dusk", k=3)
            done.set()

        threading.Thread(target=search, daemon=True).start()
        assert done.wait(30), "search waited for another model to load"
        assert len(result["hits"]) == 3
    finally:
        release.set()
        loader.join(60)
