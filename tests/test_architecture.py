"""The dependency rules of the layout, checked on every import in the source.

    ui, cli  ->  evaluation  ->  core          (diagnostics -> core)

and inside core, one way (docs/ARCHITECTURE.md):

    service -> library -> indexing, search -> signals -> encoding -> storage, media
                     (all of them -> jobs, errors, faults -> settings)

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


# Inside core: each part and the rank it sits at. A part may import parts of a
# lower rank only (and itself); parts of one rank are independent of each other.
CORE_RANKS: dict[str, int] = {
    "settings": 0,
    "errors": 1, "faults": 1, "jobs": 1,
    "storage": 2, "media": 2,
    "encoding": 3,
    "signals": 4,
    "indexing": 5, "search": 5,
    "library": 6,
    "service": 7,
}


def _core_part(module: str) -> str | None:
    parts = module.split(".")
    return parts[2] if len(parts) > 2 and parts[:2] == ["glimpse", "core"] else None


def _runtime_imports(path: Path) -> set[str]:
    """Imports that run: those under `if TYPE_CHECKING:` only name types."""
    tree = ast.parse(path.read_text("utf-8"), filename=str(path))
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                skipped.update(id(n) for n in ast.walk(child))
    names: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def core_layer_violations(core: Path) -> list[str]:
    found = []
    for path in sorted(core.rglob("*.py")):
        rel = path.relative_to(core)
        part = rel.parts[0] if len(rel.parts) > 1 else rel.stem
        if part == "__init__":
            continue
        if part not in CORE_RANKS:
            found.append(f"core/{rel} belongs to no declared part of core (CORE_RANKS)")
            continue
        for name in sorted(imported_names(path)):
            other = _core_part(name)
            if other is None or other == part or other not in CORE_RANKS:
                continue
            if CORE_RANKS[other] >= CORE_RANKS[part]:
                found.append(f"core/{rel} imports {name} ({part} may not import {other})")
                break
    return found


def _module_name(path: Path, package: Path) -> str:
    rel = path.relative_to(package.parent).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def import_cycles(package: Path) -> list[list[str]]:
    """Cycles among glimpse's own modules, counting imports inside functions too."""
    modules = {_module_name(p, package): p for p in package.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        for imported in _runtime_imports(path):
            while imported and imported not in modules:
                imported = imported.rpartition(".")[0]
            if imported and imported != name and not name.startswith(imported + "."):
                targets.add(imported)
        graph[name] = targets
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return cycles


def test_core_parts_import_one_way() -> None:
    found = core_layer_violations(PACKAGE / "core")
    assert not found, "\n".join(found)


def test_no_import_cycles() -> None:
    cycles = import_cycles(PACKAGE)
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)


def test_core_checkers_flag_a_backward_import_and_a_cycle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", tmp_path / "glimpse")
    core = tmp_path / "glimpse" / "core"
    for part in ("storage", "signals"):
        (core / part).mkdir(parents=True)
        (core / part / "__init__.py").write_text("")
    (core / "__init__.py").write_text("")
    (core / "storage" / "catalog.py").write_text("from glimpse.core.signals import text\n")
    (core / "signals" / "text.py").write_text(
        "def f():\n    from glimpse.core.storage import catalog\n")
    assert any("storage may not import signals" in v for v in core_layer_violations(core))
    cycles = import_cycles(tmp_path / "glimpse")
    assert any("glimpse.core.storage.catalog" in c and "glimpse.core.signals.text" in c
               for c in cycles)
