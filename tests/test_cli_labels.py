"""`glimpse labels import`, `glimpse eval` and `glimpse label` run as a user would run them."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import make_photo
from glimpse.evaluation.labels import LabelSet

TINY = "GlimpseTiny:random"


def glimpse(*args: str, stdin: str | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONIOENCODING="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "glimpse", *args],
        input=stdin, capture_output=True, text=True, encoding="utf-8", env=env, timeout=timeout,
    )


@pytest.fixture
def captioned(tmp_path: Path) -> tuple[Path, Path]:
    images = tmp_path / "images"
    for i in range(6):
        make_photo(images / f"p{i}.jpg", seed=20 + i)
    captions = tmp_path / "captions.csv"
    with open(captions, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["image", "caption"])
        for i in range(6):
            w.writerow([f"p{i}.jpg", f"a picture, number {i}"])
            w.writerow([f"p{i}.jpg", f'=another "caption" {i}'])
        w.writerow(["absent.jpg", "this image is not in the folder"])
    return captions, images


def test_import_then_eval(tmp_path: Path, captioned: tuple[Path, Path]) -> None:
    captions, images = captioned
    lib, set_path, out = tmp_path / "lib", tmp_path / "set.csv", tmp_path / "report"
    r = glimpse("labels", "import", str(captions), "--images", str(images), "--out",
                str(set_path), "--library", str(lib), "--model", TINY)
    assert r.returncode == 0, r.stderr
    assert "Imported 13 captions of 7 images" in r.stdout
    assert "1 images named" in r.stdout
    assert LabelSet.open(set_path).rows[1].short == '=another "caption" 0'

    r = glimpse("eval", str(set_path), "--models", TINY, "--labels", "short",
                "--out", str(out), "--library", str(lib), "--no-fuse")
    assert r.returncode == 0, r.stderr
    assert "RANDOM weights" in r.stderr and "Encoding photos with" in r.stderr
    assert "search: exact" in r.stdout
    assert "Skipped 1 short queries: photo not found in the library." in r.stdout
    assert "GlimpseTiny:random" in r.stdout and "MRR" in r.stdout
    doc = json.loads((out / "summary.json").read_text("utf-8"))
    assert doc["results"][0]["n_queries"] == 12 and doc["gallery_size"] == 6
    timings = doc["metadata"]["timings"]
    assert set(timings) == {"scan_and_encode_photos_s", "encode_queries_s", "rank_queries_s"}
    assert all(v >= 0 for v in timings.values()) and timings["scan_and_encode_photos_s"] > 0
    assert (out / "found_within.png").stat().st_size > 0


def test_eval_import_captions_in_one_step(tmp_path: Path, captioned: tuple[Path, Path]) -> None:
    captions, images = captioned
    set_path = tmp_path / "set.csv"
    r = glimpse("eval", str(set_path), "--import-captions", str(captions), "--images", str(images),
                "--library", str(tmp_path / "lib"), "--model", TINY)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "set-eval" / "ranks.csv").is_file()
    assert "empty long label" in r.stdout  # captions have no long label: reported, not hidden


def test_eval_user_errors_are_one_line(tmp_path: Path) -> None:
    r = glimpse("eval", str(tmp_path / "nope.csv"), "--library", str(tmp_path / "lib"),
                "--model", TINY)
    assert r.returncode == 2
    assert r.stderr.startswith("glimpse: Label set") and "Traceback" not in r.stderr


def test_terminal_labeling(tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    for i in range(4):
        make_photo(photos / f"x{i}.jpg", seed=40 + i)
    lib = tmp_path / "lib"
    assert glimpse("index", str(photos), "--library", str(lib), "--model", TINY).returncode == 0
    set_path = tmp_path / "set.csv"
    script = "\n".join([
        ":s",                       # sample again
        "=cmd, \"first\" ünï",      # short
        "long line one",            # long, two lines
        "long, line two",
        "",
        ":b",                       # back to the saved row
        "corrected",                # new short
        "",                         # keep the old long
        ":u too blurry",            # unsuitable
        ":q",
    ]) + "\n"
    r = glimpse("label", str(set_path), "--library", str(lib), "--model", TINY,
                "--labeler", "ann", "--target", "3", stdin=script)
    assert r.returncode == 0, r.stderr
    rows = LabelSet.open(set_path).rows
    assert [(r.short, r.long, r.status, r.labeler) for r in rows] == [
        ("corrected", "long line one\nlong, line two", "labeled", "ann"),
        ("", "too blurry", "unsuitable", "ann"),
    ]
    assert "Corrected. 1/3 labeled." in r.stdout


def test_judge_resumes_then_eval_judged_reports_thesis_measures(tmp_path: Path) -> None:
    images = tmp_path / "images"
    for i in range(6):
        make_photo(images / f"p{i}.jpg", seed=40 + i)
    captions = tmp_path / "captions.csv"
    captions.write_text("image,caption\r\np0.jpg,a red thing\r\np1.jpg,a blue thing\r\n", "utf-8")
    lib, set_path, judged = tmp_path / "lib", tmp_path / "set.csv", tmp_path / "judged.csv"
    common = ["--library", str(lib), "--model", TINY]
    assert glimpse("labels", "import", str(captions), "--images", str(images), "--out",
                   str(set_path), *common).returncode == 0
    # 2 queries x the whole 6-photo gallery (top 20 of one model) = 12 pooled pairs.
    r = glimpse("judge", str(set_path), "--judged", str(judged), *common, stdin="2\n2\nx\n2\nq\n")
    assert r.returncode == 0, r.stderr
    assert "0 of 12 pooled photos graded" in r.stdout and "Press 0-4" in r.stdout
    assert "Stopped. 3 of 12 graded" in r.stdout
    r = glimpse("judge", str(set_path), "--judged", str(judged), *common, stdin="2\n" * 9)
    assert "3 of 12 pooled photos graded" in r.stdout, r.stdout  # resumed: graded pairs skipped
    assert "Stopped. 12 of 12 graded" in r.stdout
    with open(judged, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["query", "image", "grade"] and len(rows) == 13
    assert {r[0] for r in rows[1:]} == {"a red thing", "a blue thing"}

    out = tmp_path / "report"
    r = glimpse("eval", str(set_path), "--judged", str(judged), "--models", TINY, "--out", str(out),
                *common)
    assert r.returncode == 0, r.stderr
    assert "P/R/F1@3" in r.stdout and "nDCG@1" in r.stdout
    doc = json.loads((out / "judged_summary.json").read_text("utf-8"))
    res = doc["results"][0]
    # Every photo graded 2 (relevant, equal gains), 6 relevant per query, whatever the order:
    # P@3 = 1, R@3 = 3/6, F1@3 = 2/3; P@10 = 6/10, R@10 = 1; nDCG = 1.
    assert res["n_queries"] == 2 and res["category"] == "all"
    assert res["precision_at"]["3"] == pytest.approx(1.0)
    assert res["recall_at"]["3"] == pytest.approx(0.5)
    assert res["f1_at"]["3"] == pytest.approx(2 / 3)
    assert res["precision_at"]["10"] == pytest.approx(0.6)
    assert res["recall_at"]["10"] == pytest.approx(1.0)
    assert res["ndcg_at"] == pytest.approx({"1": 1.0, "3": 1.0, "5": 1.0, "10": 1.0})
    assert doc["relevant_grade"] == 2 and "timings" in doc
    r = glimpse("eval", str(set_path), "--judged", str(judged), "--relevant-grade", "3",
                "--out", str(out), *common)
    assert r.returncode == 2 and "graded 3 or higher" in r.stderr
    assert "2^grade" in glimpse("eval", "--help").stdout


def test_import_long_mode_then_eval_templates_and_noise(tmp_path: Path, captioned) -> None:
    captions, images = captioned
    lib, set_path, out = tmp_path / "lib", tmp_path / "set.csv", tmp_path / "report"
    common = ["--library", str(lib), "--model", TINY]
    r = glimpse("labels", "import", str(captions), "--images", str(images), "--out", str(set_path),
                "--long", "longest", *common)
    assert r.returncode == 0, r.stderr
    rows = LabelSet.open(set_path).rows
    assert len(rows) == 7  # one per image: shortest caption short, the other one long
    assert (rows[0].short, rows[0].long) == ("a picture, number 0", '=another "caption" 0')
    r = glimpse("eval", str(set_path), "--templates", "{}", "a photo of {}", "--ensemble",
                "--noise", "typos", "--out", str(out), "--no-fuse", *common)
    assert r.returncode == 0, r.stderr
    assert f'{TINY} "a photo of {{}}"' in r.stdout and "ensemble(2 templates)" in r.stdout
    assert "short+typos" in r.stdout and "Noisy queries" in r.stdout and "drop" in r.stdout
    doc = json.loads((out / "summary.json").read_text("utf-8"))
    assert doc["noise"]["kind"] == "typos" and len(doc["noise"]["drops"]) == 3 * 2
    assert doc["metadata"]["templates"] == {"templates": ["{}", "a photo of {}"], "ensemble": True}
    r = glimpse("eval", str(set_path), "--templates", "a photo of", *common)
    assert r.returncode == 2 and "exactly one {}" in r.stderr
