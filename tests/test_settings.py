"""Engine settings: declared once (core/settings.py), read in one place, documented in README."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from glimpse.core import settings

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "app" / "glimpse"


def test_precedence_is_flag_then_environment_then_saved_then_default() -> None:
    saved = {"model": "saved-model"}
    env = {"GLIMPSE_MODEL": "env-model"}
    assert settings.value("model", "flag-model", saved, env) == "flag-model"
    assert settings.value("model", None, saved, env) == "env-model"
    assert settings.value("model", None, saved, {}) == "saved-model"
    assert settings.value("model", None, {}, {}) is None
    assert settings.value("device", None, {}, {}) == "auto"
    # Only settings the app remembers are read from settings.json.
    assert settings.value("engine", None, {"engine": "torch"}, {}) == "auto"


def test_values_are_parsed_by_type_and_bad_ones_name_the_variable() -> None:
    assert settings.value("vips", None, None, {"GLIMPSE_VIPS": "off"}) is False
    assert settings.value("vips", None, None, {"GLIMPSE_VIPS": "1"}) is True
    assert settings.value("lock_wait_s", None, None, {"GLIMPSE_LOCK_WAIT_S": "2.5"}) == 2.5
    assert settings.value("precision", None, None, {"GLIMPSE_PRECISION": "FP32"}) == "fp32"
    with pytest.raises(ValueError, match="GLIMPSE_PRECISION"):
        settings.value("precision", None, None, {"GLIMPSE_PRECISION": "int4"})
    with pytest.raises(ValueError, match="GLIMPSE_NO_SERVICE"):
        settings.value("no_service", None, None, {"GLIMPSE_NO_SERVICE": "maybe"})


def test_every_declared_variable_is_unique() -> None:
    envs = [s.env for s in settings.SETTINGS]
    assert len(envs) == len(set(envs))
    assert all(e.startswith("GLIMPSE_") for e in envs)


def _environment_reads(path: Path) -> list[str]:
    """Calls that read the process environment: os.environ.get/[]/getenv."""
    tree = ast.parse(path.read_text("utf-8"))
    found = []
    for node in ast.walk(tree):
        text = ast.unparse(node) if isinstance(node, (ast.Call, ast.Subscript)) else ""
        if re.match(r"^os\.(environ\.get|getenv)\(|^os\.environ\[", text):
            found.append(f"{path.name}:{node.lineno}: {text}")
    return found


def test_no_module_but_settings_reads_a_glimpse_variable() -> None:
    """GLIMPSE_* values are read by core/settings.py only; other variables (HF_*,
    CUDA_VISIBLE_DEVICES, XDG_*) belong to other programs and may be read anywhere."""
    offenders = []
    for path in sorted(APP.rglob("*.py")):
        if path == APP / "core" / "settings.py":
            continue
        for read in _environment_reads(path):
            if "GLIMPSE_" in read or "_ENV" in read:
                offenders.append(read)
    assert not offenders, "\n".join(offenders)


def test_the_reader_check_sees_a_direct_read(tmp_path: Path) -> None:
    """Guards the guard: the AST check above must notice the forms it forbids."""
    bad = tmp_path / "probe.py"
    bad.write_text('import os\nx = os.environ.get("GLIMPSE_MODEL")\ny = os.environ["GLIMPSE_X"]\n')
    assert len(_environment_reads(bad)) == 2


def _readme_settings_rows() -> dict[str, list[str]]:
    text = (ROOT / "README.md").read_text("utf-8")
    section = text.split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 5 and cells[1].startswith("`GLIMPSE_"):
            rows[cells[1].strip("`")] = cells
    return rows


def test_readme_settings_table_matches_the_declarations() -> None:
    rows = _readme_settings_rows()
    assert set(rows) == {s.env for s in settings.SETTINGS}, "README's Settings table is out of date"
    for s in settings.SETTINGS:
        key, _env, flag, default = rows[s.env][:4]
        assert key.strip("`") == s.key
        assert flag.strip("`") == (s.flag or "-"), f"{s.env}: flag"
        if s.default is not None and not isinstance(s.default, bool):
            assert default.strip("`") == str(s.default), f"{s.env}: default"
        if isinstance(s.default, bool):
            assert default.strip("`") == ("on" if s.default else "off"), f"{s.env}: default"


def test_cli_flags_come_from_the_declarations() -> None:
    from glimpse.cli.main import build_parser

    parser = build_parser()
    args = parser.parse_args(["status", "--precision", "fp32", "--device", "cpu"])
    assert (args.precision, args.device) == ("fp32", "cpu")
    with pytest.raises(SystemExit):
        parser.parse_args(["status", "--precision", "int4"])
