"""The Qt preflight: real shared objects with a missing dependency, built here with gcc.

The libraries the real xcb plugin needs may or may not be installed on the
machine running the tests, so every check that must find something missing
uses objects whose missing dependency cannot exist.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from glimpse.ui import qt_preflight as q

ROOT = Path(__file__).resolve().parents[1]
ABSENT = "libglimpse-absent-for-test.so.7"

needs_linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ELF/Linux only")
needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is not installed: cannot build test libraries")


def _gcc(out: Path, *args: str) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    src = out.with_suffix(".c")
    src.write_text(f"int glimpse_{abs(hash(out.name)) % 10**6}(void) {{ return 1; }}\n")
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(out), str(src), *args], check=True,
                   capture_output=True)
    return out


@pytest.fixture
def fake_plugins(tmp_path: Path) -> Path:
    """A Qt-like layout: plugins/platforms/libqxcb.so whose RUNPATH ($ORIGIN/../../lib)
    finds a helper library, and which also needs a library that exists nowhere."""
    lib = tmp_path / "Qt" / "lib"
    absent = _gcc(tmp_path / "build" / ABSENT, f"-Wl,-soname,{ABSENT}")  # linked against, then removed
    helper = _gcc(lib / "libglimpsehelper.so.1", "-Wl,-soname,libglimpsehelper.so.1")
    platforms = tmp_path / "Qt" / "plugins" / "platforms"
    _gcc(platforms / "libqxcb.so", "-Wl,--no-as-needed", str(helper), str(absent),
         "-Wl,-rpath,$ORIGIN/../../lib", "-Wl,-soname,libqxcb.so")
    absent.unlink()
    return platforms


@needs_linux
@needs_gcc
def test_elf_walk_finds_the_missing_library_and_resolves_runpath(fake_plugins: Path) -> None:
    plugin = fake_plugins / "libqxcb.so"
    info = q.read_elf(plugin)
    assert info is not None
    assert info.needed[:2] == ["libglimpsehelper.so.1", ABSENT]
    assert info.runpath == ["$ORIGIN/../../lib"]
    missing = q.missing_libraries(plugin)
    # The helper resolves through RUNPATH; the absent one is reported; libc is found.
    assert missing == [ABSENT]
    # The loader agrees, in its own words.
    error = q.dlopen_error(plugin)
    assert error is not None and ABSENT in error


@needs_linux
@needs_gcc
def test_runpath_makes_the_difference(fake_plugins: Path) -> None:
    """The same plugin copied where $ORIGIN/../../lib does not hold the helper."""
    elsewhere = fake_plugins.parents[2] / "moved" / "a" / "b"
    elsewhere.mkdir(parents=True)
    shutil.copy(fake_plugins / "libqxcb.so", elsewhere / "libqxcb.so")
    missing = q.missing_libraries(elsewhere / "libqxcb.so")
    assert "libglimpsehelper.so.1" in missing


@needs_linux
@needs_gcc
def test_a_loadable_plugin_passes(tmp_path: Path) -> None:
    lib = tmp_path / "Qt" / "lib"
    helper = _gcc(lib / "libglimpseok.so.1", "-Wl,-soname,libglimpseok.so.1")
    platforms = tmp_path / "Qt" / "plugins" / "platforms"
    _gcc(platforms / "libqxcb.so", "-Wl,--no-as-needed", str(helper), "-Wl,-rpath,$ORIGIN/../../lib")
    env = {"QT_QPA_PLATFORM": "xcb", "QT_QPA_PLATFORM_PLUGIN_PATH": str(platforms)}
    assert q.preflight(env) is None


@needs_linux
@needs_gcc
def test_preflight_message_names_library_and_command(fake_plugins: Path) -> None:
    env = {"QT_QPA_PLATFORM_PLUGIN_PATH": str(fake_plugins), "DISPLAY": ":99"}
    message = q.preflight(env)
    assert message is not None
    assert ABSENT in message and "'xcb'" in message


@needs_linux
@needs_gcc
def test_glimpse_gui_exits_before_qt_with_the_message(fake_plugins: Path, tmp_path: Path) -> None:
    """The real entry point, in a subprocess, on a plugin that cannot load."""
    env = {**os.environ, "QT_QPA_PLATFORM": "xcb", "QT_QPA_PLATFORM_PLUGIN_PATH": str(fake_plugins),
           "PYTHONPATH": str(ROOT / "app"), "PATH": str(tmp_path / "nobin")}
    proc = subprocess.run([sys.executable, "-m", "glimpse.ui.app"], env=env, capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert proc.returncode == 3, proc.stderr
    assert ABSENT in proc.stderr
    assert "Glimpse cannot open its window" in proc.stderr
    assert "could not be initialized" not in proc.stderr  # Qt never got that far


@needs_linux
def test_real_plugin_resolves_qt_libraries_through_its_runpath(tmp_path: Path) -> None:
    """PySide6's own xcb plugin: its Qt libraries come from PySide6's Qt/lib,
    never reported missing; whatever is missing must be a system library."""
    plugin = q.find_plugin("xcb", q.pyside_plugin_dirs({}))
    if plugin is None:
        pytest.skip("this PySide6 has no xcb plugin")
    info = q.read_elf(plugin)
    assert info is not None and "libQt6XcbQpa.so.6" in info.needed
    assert not [m for m in q.missing_libraries(plugin) if m.startswith("libQt6")]
    # Copied away from Qt/lib, the Qt libraries are missing: the walk really follows RUNPATH.
    copy = tmp_path / "a" / "b" / "libqxcb.so"
    copy.parent.mkdir(parents=True)
    shutil.copy(plugin, copy)
    assert "libQt6XcbQpa.so.6" in q.missing_libraries(copy)
    assert "libQt6XcbQpa.so.6" in (q.dlopen_error(copy) or "")


@needs_linux
@pytest.mark.skipif(shutil.which("ldd") is None, reason="ldd is not installed")
def test_elf_walk_agrees_with_ldd() -> None:
    plugin = q.find_plugin("xcb", q.pyside_plugin_dirs({}))
    if plugin is None:
        pytest.skip("this PySide6 has no xcb plugin")
    out = subprocess.run(["ldd", str(plugin)], capture_output=True, text=True).stdout
    ldd_missing = {line.split()[0] for line in out.splitlines() if "not found" in line}
    assert set(q.missing_libraries(plugin)) == ldd_missing
    assert (q.dlopen_error(plugin) is None) == (not ldd_missing)


def test_platform_order_follows_qt() -> None:
    assert q.platform_candidates({}) == ["xcb"]
    assert q.platform_candidates({"DISPLAY": ":0"}) == ["xcb"]
    assert q.platform_candidates({"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0"}) == ["wayland", "xcb"]
    assert q.platform_candidates({"XDG_SESSION_TYPE": "wayland"}) == ["wayland", "xcb"]
    assert q.platform_candidates({"QT_QPA_PLATFORM": "wayland-egl:foo;xcb", "WAYLAND_DISPLAY": "w"}) == [
        "wayland-egl", "xcb"]
    # Headless platforms are not this check's business.
    assert q.preflight({"QT_QPA_PLATFORM": "offscreen"}) is None


@pytest.mark.parametrize("text, family", [
    ('ID=debian\nVERSION_ID="12"\n', "apt"),
    ('ID=linuxmint\nID_LIKE="ubuntu debian"\n', "apt"),
    ('ID=fedora\n', "dnf"),
    ('ID="rocky"\nID_LIKE="rhel centos fedora"\n', "dnf"),
    ('ID=manjaro\nID_LIKE=arch\n', "pacman"),
    ('ID=gentoo\n', None),
])
def test_distro_family(tmp_path: Path, text: str, family: str | None) -> None:
    path = tmp_path / "os-release"
    path.write_text(text)
    assert q.distro_family(path) == family


def test_install_commands_per_family() -> None:
    missing = ["libxcb-cursor.so.0", "libxcb-icccm.so.4", "libxcb-keysyms.so.1"]
    assert q.install_command(missing, "apt") == "sudo apt install libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1"
    assert q.install_command(missing, "dnf") == "sudo dnf install xcb-util-cursor xcb-util-wm xcb-util-keysyms"
    assert q.install_command(missing, "pacman") == "sudo pacman -S xcb-util-cursor xcb-util-wm xcb-util-keysyms"
    assert q.install_command([ABSENT], "apt") is None
    message = q.describe([q.PluginCheck("xcb", Path("/x/libqxcb.so"), missing, "boom")], None)
    # Unknown distribution: every family's command is offered.
    assert "sudo apt install libxcb-cursor0" in message and "sudo dnf install" in message


def test_report_notifies_when_there_is_no_terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "notified"
    tool = tmp_path / "bin" / "notify-send"
    tool.parent.mkdir()
    tool.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{log}"\n')
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", str(tool.parent))
    q.report("Title line\nbody with sudo apt install x", notify=True)
    assert "Title line" in capsys.readouterr().err
    sent = log.read_text().splitlines()
    assert "Title line" in sent and "body with sudo apt install x" in sent
    log.unlink()
    q.report("Title\nbody", notify=False)
    assert not log.exists()


def test_a_damaged_library_is_named_with_the_command_that_reinstalls_it(tmp_path: Path) -> None:
    """A real truncated library: the loader's own words, then the fix."""
    real = next((Path(p) for p in glob.glob("/usr/lib/*/libc.so.6") + glob.glob("/lib*/libc.so.6")), None)
    if real is None:
        pytest.skip("no libc.so.6 to damage a copy of")
    cut = tmp_path / "libdamaged.so.1"
    cut.write_bytes(real.read_bytes()[:16])  # longer cuts can crash the loader itself
    error = q.dlopen_error(cut)
    assert error and "file too short" in error
    assert q.damaged_library(error) == cut
    message = q.describe([q.PluginCheck("xcb", Path("/x/libqxcb.so"), [], error)], "apt")
    assert f"reinstall the package that owns {cut}" in message
    # PySide6's own Qt is put back by pip, not by the system's package manager.
    wheel_lib = Path("/venv/lib/python3.11/site-packages/PySide6/Qt/lib/libQt6Gui.so.6")
    assert "-m pip install --force-reinstall" in (q.reinstall_command(wheel_lib, "apt") or "")
    assert q.damaged_library("libxcb-cursor.so.0: cannot open shared object file") is None


def test_a_library_that_crashes_the_loader_is_named_and_the_preflight_survives(tmp_path: Path) -> None:
    """Some cuts make the loader itself fault (SIGBUS reading past the file's end);
    the load runs in a child, so this process lives to name the file."""
    real = next((Path(p) for p in glob.glob("/usr/lib/*/libc.so.6") + glob.glob("/lib*/libc.so.6")), None)
    if real is None:
        pytest.skip("no libc.so.6 to damage a copy of")
    outcomes = {}
    for size in (2_000, 4_000, 8_000, 20_000):
        cut = tmp_path / f"libcut{size}.so.1"
        cut.write_bytes(real.read_bytes()[:size])
        error = q.dlopen_error(cut)
        assert error, size  # never "loads": each cut is damaged
        assert q.damaged_library(error) == cut, error  # and named, with its path
        outcomes[size] = error
    # A library that is fine still loads through the child.
    assert q.dlopen_error(real) is None


@pytest.mark.skipif(shutil.which("dpkg") is None, reason="needs dpkg (Debian/Ubuntu)")
def test_the_owning_package_of_a_system_library_comes_from_dpkg() -> None:
    owned = next((Path(p) for p in glob.glob("/usr/lib/*/libc.so.6") if Path(p).is_file()), None)
    if owned is None:
        pytest.skip("no libc.so.6 under /usr/lib")
    assert q.reinstall_command(owned, "apt") == "sudo apt install --reinstall libc6"
