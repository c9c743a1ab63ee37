"""The real window on a real X server (Xvfb, Qt's xcb plugin), not offscreen.

The rest of the suite runs Qt offscreen, which never loads the xcb plugin and
so never notices missing system libraries (issue 16). Here the GUI runs in a
subprocess on a virtual X display, exactly as on a desktop.
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

TINY = "GlimpseTiny:random"
ROOT = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("real_window_driver.py")

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or shutil.which("Xvfb") is None,
    reason="Xvfb is not installed (Debian: apt install xvfb); the real-window test needs an X server",
)


@pytest.fixture
def xvfb():
    """An Xvfb on a free display number (it picks one and tells us through -displayfd)."""
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    os.close(write_fd)
    try:
        ready, _, _ = select.select([read_fd], [], [], 30)
        number = os.read(read_fd, 64).decode().strip() if ready else ""
        if not number:
            proc.kill()
            pytest.fail(f"Xvfb did not start: {proc.communicate()[1].decode(errors='replace')[-2000:]}")
        yield f":{number}"
    finally:
        os.close(read_fd)
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_real_window_searches_under_xvfb(xvfb: str, photo_dir: Path, tmp_path: Path) -> None:
    from glimpse.core.library import Library

    with Library(tmp_path / "lib", model=TINY) as lib:
        lib.add_folder(photo_dir)
        lib.index()

    env = dict(os.environ)
    env.pop("QT_QPA_PLATFORM", None)  # conftest's offscreen: exactly what this test must avoid
    env.pop("WAYLAND_DISPLAY", None)
    env.update(DISPLAY=xvfb, QT_QPA_PLATFORM="xcb", XDG_SESSION_TYPE="x11",
               PYTHONPATH=os.pathsep.join([str(ROOT / "app"), env.get("PYTHONPATH", "")]))
    shot = os.environ.get("GLIMPSE_REAL_WINDOW_SHOT")  # set to keep a screenshot of the run
    cmd = [sys.executable, str(DRIVER), str(tmp_path / "lib"), TINY, "a red bicycle"]
    if shot:
        cmd.append(shot)
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"stdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-5000:]}"
    line = next(li for li in proc.stdout.splitlines() if li.startswith("RESULTS"))
    count = int(line.split()[1])
    assert count == 8 and "platform=xcb" in line
    assert "could not be initialized" not in proc.stderr
