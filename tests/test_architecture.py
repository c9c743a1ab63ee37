"""The dependency rules of the layout, checked on every import in the source.

    ui, cli  ->  evaluation  ->  core          (diagnostics -> core)

core is the engine and imports neither Qt nor anything above it; evaluation
(labels, metrics, the eval runner) builds on core and never imports Qt; only
ui imports Qt; ui and cli never import each other. The check reads every
`import` in app/glimpse with the ast module, including imports inside
functions (the CLI imports the engine lazily), so a rule broken anywhere in a
file fails here. A second test imports the Qt-free packages for real and looks
at sys.modules, which also catches Qt pulled in through a third party.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "app" / "glimpse"
QT = ("PySide6", "PyQt5", "PyQt6", "shiboken6")

# For each package: the top-level names (Qt) and glimpse packages it may not import.
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "core": QT + ("glimpse.evaluation", "glimpse.diagnostics", "glimpse.cli", "glimpse.ui"),
    "evaluation": QT + ("glimpse.diagnostics", "glimpse.cli", "glimpse.ui"),
    "diagnostics": QT + ("glimpse.evaluation", "glimpse.cli", "glimpse.ui"),
    "cli": QT + ("glimpse.ui",),
    "ui": ("glimpse.cli",),
}


def imported_names(path: Path) -> set[str]:
    """Every module a file imports, as dotted names (relative imports resolved)."""
    tree = ast.parse(path.read_text("utf-8"), filename=str(path))
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parent = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{parent}.{base}" if base else parent
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def _breaks(name: str, rule: str) -> bool:
    return name == rule or name.startswith(rule + ".")


def violations() -> list[str]:
    found = []
    for layer, rules in FORBIDDEN.items():
        for path in sorted((PACKAGE / layer).rglob("*.py")):
            names = imported_names(path)
            for rule in rules:
                bad = sorted(n for n in names if _breaks(n, rule))
                if bad:  # one line per file and rule: `from X import a, b` is one import
                    found.append(f"{path.relative_to(PACKAGE)} imports {bad[0]} ({layer} may not import {rule})")
    return found


def test_every_layer_keeps_its_dependency_rules() -> None:
    assert not violations(), "\n".join(violations())


def test_the_layers_exist_and_the_checker_sees_their_imports() -> None:
    """Guards the guard: a renamed package or a blind parser would pass the test above."""
    for layer in FORBIDDEN:
        assert list((PACKAGE / layer).glob("*.py")), f"glimpse/{layer} is missing or empty"
    assert any(n.startswith("PySide6") for n in imported_names(PACKAGE / "ui" / "main_window.py"))
    assert "glimpse.core.library" in imported_names(PACKAGE / "cli" / "common.py")
    assert "glimpse.evaluation.labels" in imported_names(PACKAGE / "evaluation" / "labeling.py")


def test_checker_flags_a_forbidden_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "glimpse"
    for layer in FORBIDDEN:
        (fake / layer).mkdir(parents=True)
    (fake / "core" / "bad.py").write_text("def f():\n    from glimpse.evaluation import metrics\n")
    (fake / "evaluation" / "worse.py").write_text("from PySide6.QtCore import QObject\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", fake)
    found = violations()
    assert len(found) == 2
    assert any("core/bad.py imports glimpse.evaluation" in v for v in found)
    assert any("evaluation/worse.py imports PySide6" in v for v in found)


def test_qt_free_packages_import_without_qt() -> None:
    code = (
        "import sys, pkgutil, importlib\n"
        "for pkg in ('core', 'evaluation', 'diagnostics', 'cli'):\n"
        "    p = importlib.import_module('glimpse.' + pkg)\n"
        "    for m in pkgutil.iter_modules(p.__path__):\n"
        "        importlib.import_module(f'glimpse.{pkg}.{m.name}')\n"
        "bad = [m for m in sys.modules if m.startswith(('PySide6', 'PyQt', 'shiboken'))]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
