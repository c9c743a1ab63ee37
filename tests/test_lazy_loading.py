"""Nothing loads a model it does not need: commands run in subprocesses and
report which heavy libraries they imported; in-process checks see which
ONNX tower sessions were created."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import TINY_MODEL, make_photo

HEAVY = ("torch", "torchvision", "open_clip", "onnxruntime", "dlib")

_PROBE = textwrap.dedent(
    """
    import json, sys
    from glimpse.cli.main import main
    code = main(sys.argv[2:])
    heavy = sorted(m for m in {heavy!r} if m in sys.modules)
    with open(sys.argv[1], "w") as f:
        json.dump({{"code": code, "heavy": heavy}}, f)
    """
).format(heavy=HEAVY)


def probe(tmp_path: Path, lib: Path, *args: str, stdin: str = "") -> tuple[list[str], str]:
    """Run one CLI command in a fresh interpreter: (heavy modules it imported, stdout)."""
    script = tmp_path / "probe.py"
    script.write_text(_PROBE)
    report = tmp_path / "probe.json"
    env = {**os.environ, "GLIMPSE_MODEL": TINY_MODEL, "GLIMPSE_LIBRARY": str(lib),
           "GLIMPSE_ENGINE": "auto"}
    proc = subprocess.run(
        [sys.executable, str(script), str(report), *args], env=env, capture_output=True,
        text=True, timeout=300, input=stdin,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(report.read_text())
    assert result["code"] == 0, proc.stdout + proc.stderr
    return result["heavy"], proc.stdout


@pytest.fixture
def indexed(tmp_path: Path, photo_dir: Path) -> Path:
    """A library whose photos are all encoded with the tiny model (ONNX export cached)."""
    from glimpse.core.library import Library

    root = tmp_path / "lib"
    with Library(root, model=TINY_MODEL, device="cpu") as lib:
        lib.add_folder(photo_dir)
        report = lib.index()
        assert report.encode.encoded == 8
        assert lib.encoder.engine == "onnx"
        lib.read_text()  # the OCR pass too: with nothing left to read, a re-index is a no-op
        lib.find_faces()  # and the face pass (no faces in blocks of colour)
    return root


def test_reporting_commands_import_no_model_library(tmp_path: Path, indexed: Path) -> None:
    for args in (["status"], ["status", "--json"], ["errors"]):
        heavy, out = probe(tmp_path, indexed, *args)
        assert heavy == [], (args, heavy)
        assert out.strip()
    heavy, out = probe(tmp_path, indexed, "label", str(tmp_path / "set.csv"), stdin="")
    assert heavy == [] and "labeled" in out
    captions = tmp_path / "captions.csv"
    captions.write_text("image,caption\nimg_00.jpg,blocks of colour\n")
    heavy, out = probe(tmp_path, indexed, "labels", "import", str(captions), "--images",
                       str(tmp_path / "photos"), "--out", str(tmp_path / "imported.csv"))
    assert heavy == [] and "Imported 1 captions" in out


def test_status_counts_faces_and_people_without_loading_dlib(tmp_path: Path, indexed: Path) -> None:
    """Faces as the pass stores them (two people, one named, on 5 of the 8 photos, 1 photo
    left to read): `glimpse status` reports them from the catalog alone."""
    import numpy as np

    from glimpse.core.library import Library
    from glimpse.core.signals import people
    from glimpse.core.signals.faces import FACE_PASS, FACE_VERSION, Face

    heavy, out = probe(tmp_path, indexed, "status")
    assert heavy == [] and "looked for faces in 8 of 8 indexed photos; 0 faces" in out
    rng = np.random.default_rng(0)
    centres = [c / np.linalg.norm(c) * 2 for c in rng.normal(size=(2, 128))]
    with Library(indexed, model=TINY_MODEL, device="cpu") as lib:
        rows = sorted(lib.indexed_photos(), key=lambda r: r.id)
        with lib.catalog.transaction() as db:
            for n, row in enumerate(rows[:5]):
                faces = [Face((0.1 + 0.4 * i, 0.2, 0.3, 0.3), 100, 200.0, 1.0, 1.0,
                              (c + rng.normal(size=128) * 0.01).astype(np.float32))
                         for i, c in enumerate(centres if n < 3 else centres[:1])]
                people.replace_faces(db, row.id, faces)
            db.execute("DELETE FROM pass_state WHERE pass=? AND photo_id=?", (FACE_PASS, rows[7].id))
        people.group_faces(lib.catalog)
        first = people.people(lib.catalog)[0]
        people.name_person(lib.catalog, first.id, "Anna")
        assert lib.catalog.pass_counts(FACE_PASS, FACE_VERSION) == (7, 8)
    heavy, out = probe(tmp_path, indexed, "status")
    assert heavy == []
    assert ("Faces:           looked for faces in 7 of 8 indexed photos; 8 faces in 5 photos; "
            "2 people seen in several photos; 0 faces seen once; 1 named "
            "(`glimpse index` does the rest)") in out
    heavy, out = probe(tmp_path, indexed, "status", "--json")
    assert heavy == [] and json.loads(out)["people"] == {
        "faces": 8, "people": 2, "named": 1, "photos_read": 7, "photos_indexed": 8}


def test_noop_reindex_loads_no_model(tmp_path: Path, indexed: Path) -> None:
    heavy, out = probe(tmp_path, indexed, "index")
    assert heavy == []
    assert "Encoded 0 photos" in out and "8 unchanged" in out


def test_new_photo_loads_the_model_only_then(tmp_path: Path, indexed: Path) -> None:
    make_photo(tmp_path / "photos" / "late.jpg", seed=99)
    heavy, out = probe(tmp_path, indexed, "index")
    assert "Encoded 1 photos" in out
    assert "onnxruntime" in heavy and "torch" not in heavy  # cached export: no torch at all


def test_cold_search_needs_onnxruntime_but_not_torch(tmp_path: Path, indexed: Path) -> None:
    heavy, out = probe(tmp_path, indexed, "search", "a dog", "-k", "3", "--json")
    assert heavy == ["onnxruntime"]
    assert len(json.loads(out)) == 3


def test_similar_to_an_indexed_photo_loads_nothing(tmp_path: Path, indexed: Path) -> None:
    heavy, out = probe(tmp_path, indexed, "similar", str(tmp_path / "photos" / "img_03.jpg"),
                       "-k", "2", "--json")
    assert heavy == []
    assert json.loads(out)[0]["path"] == str(tmp_path / "photos" / "img_03.jpg")


def test_each_query_loads_only_its_tower(tmp_path: Path, indexed: Path) -> None:
    from glimpse.core.library import Library

    with Library(indexed, model=TINY_MODEL, device="cpu") as lib:
        lib.search("a boat", k=2)
        assert set(lib.encoder._onnx._sessions) == {"text.onnx"}
    with Library(indexed, model=TINY_MODEL, device="cpu") as lib:
        outside = make_photo(tmp_path / "elsewhere" / "new.jpg", seed=123)
        lib.similar(outside, k=2)
        assert set(lib.encoder._onnx._sessions) == {"image.onnx"}


def test_the_cli_parser_imports_no_numpy_or_pillow() -> None:
    """Every command, the service client of a warm search included, starts by building
    the parser and importing core.models: it must stay light (a command module
    importing core.indexer at the top once put numpy and Pillow, 0.12 s, into each
    of them; a warm search went from 0.19 to 0.09 s without them)."""
    code = (
        "import sys; from glimpse.cli.main import build_parser; build_parser(); "
        "import glimpse.core.encoding.encoder, glimpse.core.service, glimpse.core.storage.paths; "
        "print(sorted(m for m in ('numpy', 'PIL', 'glimpse.core.indexer') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}, check=True)
    assert out.stdout.strip() == "[]"
