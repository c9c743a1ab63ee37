"""The self-test is the smoke check of every installer build, so it must itself be
trustworthy: it passes on a working install, and it fails loudly (with the step
and the reason) when a part it depends on is broken."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from glimpse.diagnostics import selftest
from glimpse.diagnostics.selftest import SELF_TEST_MODEL, make_test_photos, run_self_test


def test_self_test_passes_and_reports_every_step() -> None:
    lines: list[str] = []
    result = run_self_test(lines.append)
    assert result.passed, result.message + "\n" + result.details
    names = [s.name for s in result.steps]
    assert names == [
        "environment", "generate photos", "load model", "index",
        "text search", "image search", "reopen library",
    ]
    assert len(lines) == len(names)
    assert any(SELF_TEST_MODEL in line for line in lines)
    assert "passed" in result.message


def test_self_test_leaves_no_files_and_ignores_user_library(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    monkeypatch.setenv("GLIMPSE_MODEL", "NoSuchArch:nothing")  # must not be used
    user_library = Path(os.environ["GLIMPSE_LIBRARY"])
    assert run_self_test().passed
    assert list(tmp_path.iterdir()) == []
    assert not user_library.exists()


def test_generated_photos_are_distinct(tmp_path: Path) -> None:
    paths = make_test_photos(tmp_path, 3)
    contents = {p.read_bytes() for p in paths}
    assert len(contents) == 3


def test_a_broken_step_fails_with_its_name_and_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(folder: Path, count: int = 3) -> list[Path]:
        raise OSError("disk full")

    monkeypatch.setattr(selftest, "make_test_photos", broken)
    result = run_self_test()
    assert not result.passed
    assert result.failed_step == "generate photos"
    assert "generate photos" in result.message and "disk full" in result.message
    assert "OSError" in result.details


def test_a_wrong_answer_fails_the_check(monkeypatch: pytest.MonkeyPatch) -> None:
    from glimpse.core.library import Library

    real_similar = Library.similar

    def reversed_similar(self, image, k=20, filters=None, spec=None):  # type: ignore[no-untyped-def]
        return list(reversed(real_similar(self, image, k, filters, spec)))

    monkeypatch.setattr(Library, "similar", reversed_similar)
    result = run_self_test()
    assert not result.passed
    assert result.failed_step == "image search"
    assert "first" in result.message


def _run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180, env=env)


@pytest.mark.slow
def test_python_m_glimpse_self_test() -> None:
    proc = _run([sys.executable, "-m", "glimpse", "self-test"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "self-test passed" in proc.stdout
    assert "[7] reopen library" in proc.stdout
    assert "RANDOM weights" not in proc.stderr  # expected here, so kept quiet


@pytest.mark.slow
def test_console_script_self_test() -> None:
    script = shutil.which("glimpse", path=str(Path(sys.executable).parent)) or shutil.which(
        "glimpse"
    )
    if script is None:
        pytest.skip("the glimpse console script is not installed in this environment")
    proc = _run([script, "self-test"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "self-test passed" in proc.stdout
