"""Labeling sessions: save / skip / back / unsuitable, resuming, and crash durability."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from glimpse.evaluation.labeling import LabelingError, LabelingSession, resolve_label_path
from glimpse.evaluation.labels import STATUS_LABELED, STATUS_UNSUITABLE, LabelSet


@pytest.fixture
def indexed(library, photo_dir):
    library.add_folder(photo_dir)
    library.index()
    return library


def test_offers_every_photo_once_with_root_relative_paths(indexed, tmp_path: Path) -> None:
    session = LabelingSession(indexed, tmp_path / "set.csv", seed=1, labeler="ann")
    seen = []
    while session.current is not None:
        seen.append(session.current.rel_path)
        session.skip()
    assert len(seen) == len(set(seen)) == 8
    assert "trip/img_06.jpg" in seen  # relative to the watched root, '/' separators


def test_same_seed_same_order(indexed, tmp_path: Path) -> None:
    def order(seed: int) -> list[str]:
        s = LabelingSession(indexed, tmp_path / f"s{seed}-{os.urandom(2).hex()}.csv", seed=seed)
        out = []
        while s.current is not None:
            out.append(s.current.rel_path)
            s.skip()
        return out

    assert order(3) == order(3)
    assert order(3) != order(4)


def test_save_appends_exact_text_and_advances(indexed, tmp_path: Path) -> None:
    path = tmp_path / "set.csv"
    session = LabelingSession(indexed, path, labeler="ann", target=5)
    first = session.current
    assert first is not None
    short, long = "=cmd, \"quoted\"", "line one\nline two, ünïcödé 🐕"
    saved = session.save(short, long)
    assert not saved.replaced
    assert session.current is not None and session.current.rel_path != first.rel_path
    assert session.done == 1 and session.target == 5
    rows = LabelSet.open(path).rows
    assert [(r.path, r.short, r.long, r.labeler, r.status) for r in rows] == [
        (first.rel_path, short, long, "ann", STATUS_LABELED)
    ]
    assert rows[0].fingerprint == first.fingerprint != ""


def test_short_label_required_long_warned(indexed, tmp_path: Path) -> None:
    session = LabelingSession(indexed, tmp_path / "set.csv")
    with pytest.raises(LabelingError):
        session.save("   ", "a long label")
    saved = session.save("a dog", "")
    assert any("long label is empty" in w for w in saved.warnings)


def test_back_reopens_last_row_and_save_replaces_it(indexed, tmp_path: Path) -> None:
    path = tmp_path / "set.csv"
    session = LabelingSession(indexed, path)
    first = session.current
    session.save("typo", "first long")
    pending = session.current
    row = session.back()
    assert row.short == "typo"
    assert session.current is not None and session.current.rel_path == first.rel_path
    assert session.editing == row
    saved = session.save("fixed", "first long, corrected")
    assert saved.replaced
    assert session.current == pending  # back to the photo that was showing
    rows = LabelSet.open(path).rows
    assert [(r.path, r.short) for r in rows] == [(first.rel_path, "fixed")]


def test_back_then_skip_keeps_the_row(indexed, tmp_path: Path) -> None:
    path = tmp_path / "set.csv"
    session = LabelingSession(indexed, path)
    session.save("kept", "")
    pending = session.current
    session.back()
    assert session.skip() == pending
    assert [r.short for r in LabelSet.open(path).rows] == ["kept"]


def test_back_with_nothing_saved_is_an_error(indexed, tmp_path: Path) -> None:
    with pytest.raises(LabelingError):
        LabelingSession(indexed, tmp_path / "set.csv").back()


def test_unsuitable_is_recorded_and_not_counted(indexed, tmp_path: Path) -> None:
    path = tmp_path / "set.csv"
    session = LabelingSession(indexed, path)
    bad = session.current
    session.mark_unsuitable("too blurry")
    assert session.done == 0
    (row,) = LabelSet.open(path).rows
    assert (row.path, row.status, row.long) == (bad.rel_path, STATUS_UNSUITABLE, "too blurry")


def test_resume_never_reoffers_labeled_photos(indexed, tmp_path: Path) -> None:
    path = tmp_path / "set.csv"
    first = LabelingSession(indexed, path, seed=7, labeler="ann")
    labeled = set()
    for i in range(3):
        labeled.add(first.current.rel_path)
        first.save(f"photo {i}", "")
    labeled.add(first.current.rel_path)
    first.mark_unsuitable("blank")
    # Another labeler, another seed, resumes the same file.
    second = LabelingSession(indexed, path, seed=99, labeler="bob")
    offered = []
    while second.current is not None:
        offered.append(second.current.rel_path)
        second.skip()
    assert len(offered) == 8 - 4
    assert not labeled & set(offered)
    assert second.done == 3


def test_folder_limits_candidates(indexed, photo_dir: Path, tmp_path: Path) -> None:
    session = LabelingSession(indexed, tmp_path / "set.csv", folder=photo_dir / "trip")
    assert session.candidates == 2
    assert session.current.rel_path.startswith("trip/")
    with pytest.raises(LabelingError):
        LabelingSession(indexed, tmp_path / "x.csv", folder=tmp_path)


def test_resolve_label_path_falls_back_to_fingerprint(indexed, photo_dir: Path, tmp_path: Path) -> None:
    session = LabelingSession(indexed, tmp_path / "set.csv")
    offer = session.current
    photo = resolve_label_path(indexed, offer.rel_path, offer.fingerprint)
    assert photo is not None and photo.path == offer.abs_path
    moved = resolve_label_path(indexed, "gone/elsewhere.jpg", offer.fingerprint)
    assert moved is not None and moved.id == offer.photo_id
    assert resolve_label_path(indexed, "gone/elsewhere.jpg", "0" * 32) is None


_CHILD = textwrap.dedent(
    """
    import os, sys, time
    from glimpse.core.library import Library
    from glimpse.evaluation.labeling import LabelingSession
    lib = Library(sys.argv[1], model="GlimpseTiny:random")
    session = LabelingSession(lib, sys.argv[2], labeler="crash")
    session.save("saved before the kill, \\"quoted\\"", "line1\\nline2")
    print(session.current.rel_path, flush=True)  # tell the parent the save returned
    time.sleep(60)  # killed long before this ends
    """
)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")
def test_row_survives_sigkill_after_save(indexed, tmp_path: Path) -> None:
    path = tmp_path / "set.csv"
    indexed.catalog.close()  # let the child own the catalog cleanly
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(indexed.root), str(path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = child.stdout.readline()  # blocks until the save has returned
        assert line.strip()
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    rows = LabelSet.open(path).rows
    assert [(r.short, r.long, r.labeler) for r in rows] == [
        ('saved before the kill, "quoted"', "line1\nline2", "crash")
    ]
