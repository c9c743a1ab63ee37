"""The local search service: same answers as in-process, private, bounded, never blocking."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from conftest import TINY_MODEL, make_photo
from glimpse.core import service as service_mod
from glimpse.core.library import Library
from glimpse.core.service import SearchService, endpoint_path, request

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="Unix socket tests")


@pytest.fixture
def served(tmp_path: Path, photo_dir: Path):  # type: ignore[no-untyped-def]
    root = tmp_path / "lib"
    lib = Library(root, model=TINY_MODEL, device="cpu")
    lib.add_folder(photo_dir)
    assert lib.index().encode.encoded == 8
    service = SearchService(lib)
    assert service.start()
    yield service
    service.stop()
    lib.close()


def cli(root: Path, *args: str, use_service: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "GLIMPSE_MODEL": TINY_MODEL, "GLIMPSE_LIBRARY": str(root)}
    if not use_service:
        env["GLIMPSE_NO_SERVICE"] = "1"
    return subprocess.run([sys.executable, "-m", "glimpse", *args], env=env, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.parametrize("args", [
    ["search", "a dog", "-k", "5", "--json"],
    ["search", "a dog", "-k", "3"],
    ["search", '"beach" + "sunset" - "people"', "-k", "4", "--json", "--after", "1990"],
    ["similar", "{photos}/img_02.jpg", "-k", "3", "--json"],
    ["similar", "{photos}/img_02.jpg", "--folder", "{photos}/trip", "--json"],
    ["search", "a dog", "--after", "yesterday"],  # an error: same message, same exit status
])
def test_same_answer_with_and_without_the_service(served: SearchService, photo_dir: Path, args: list[str]) -> None:
    args = [a.replace("{photos}", str(photo_dir)) for a in args]
    before = served.requests
    via = cli(served.library.root, *args)
    alone = cli(served.library.root, *args, use_service=False)
    assert (via.returncode, via.stdout) == (alone.returncode, alone.stdout)
    if via.returncode == 0:
        assert served.requests == before + 1  # the first really was answered by the service
        assert via.stdout.strip()
    else:
        assert via.stderr.strip().splitlines()[-1] == alone.stderr.strip().splitlines()[-1]
        assert "not a date" in via.stderr


def test_status_over_the_api(served: SearchService) -> None:
    answer = request(served.library.root, {"op": "status"})
    assert answer is not None and answer["status"]["counts"]["ok"] == 8


def test_no_service_means_none(tmp_path: Path) -> None:
    assert request(tmp_path / "no-such-library", {"op": "status"}) is None


def test_socket_is_private(served: SearchService) -> None:
    path = endpoint_path(served.library.root)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def _raw(path: Path, data: bytes, timeout: float = 10) -> dict:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(str(path))
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server may close first on an oversized request
        return json.loads(service_mod._read_all(s, 1 << 20))


def test_oversized_and_malformed_requests_are_refused(served: SearchService) -> None:
    big = _raw(served.path, b"x" * (service_mod.MAX_REQUEST + 10))
    assert big["ok"] is False and "larger than" in big["error"]
    bad = _raw(served.path, b"[1, 2]\n")
    assert bad["ok"] is False and bad["kind"] == "bad-request"
    unknown = _raw(served.path, b'{"op": "rm -rf"}\n')
    assert unknown["ok"] is False and "unknown op" in unknown["error"]


def test_other_users_are_refused(served: SearchService, monkeypatch: pytest.MonkeyPatch) -> None:
    # Running as one user here, the server is told it runs as another: the peer's
    # uid (SO_PEERCRED) then differs from its own, as another user's would.
    monkeypatch.setattr(service_mod.os, "getuid", lambda: os.geteuid() + 4242)
    answer = _raw(served.path, b'{"op": "status"}\n')
    assert answer == {"ok": False, "kind": "forbidden", "error": "requests from other users are refused"}


def test_a_silent_client_blocks_no_one(served: SearchService, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service_mod, "CONNECTION_TIMEOUT_S", 0.5)
    silent = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    silent.connect(str(served.path))  # connects, never sends
    try:
        answer = request(served.library.root, {"op": "search", "query": "a cat", "k": 2}, timeout=10)
        assert answer is not None and len(answer["hits"]) == 2
        silent.settimeout(10)
        assert silent.recv(100) == b""  # the server hung up on it after its deadline
    finally:
        silent.close()


def test_one_server_per_library_and_stale_sockets(tmp_path: Path, served: SearchService) -> None:
    second = SearchService(served.library)
    assert second.start() is False  # the live one keeps serving
    other = Library(tmp_path / "other", model=TINY_MODEL)
    stale = endpoint_path(other.root)
    stale.parent.mkdir(parents=True, exist_ok=True)
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(stale))
    dead.close()  # a socket file nobody listens on: a crashed server's leftover
    fresh = SearchService(other)
    try:
        assert fresh.start()
        assert request(other.root, {"op": "status"}) is not None
    finally:
        fresh.stop()
        other.close()
    assert not stale.exists()


def test_concurrent_clients(served: SearchService) -> None:
    make_photo(Path(served.library.folder_paths()[0]) / "extra.jpg", seed=77)  # not indexed: ignored
    results: list[int] = []

    def one(i: int) -> None:
        answer = request(served.library.root, {"op": "search", "query": f"query {i}", "k": 3})
        results.append(len(answer["hits"]) if answer else -1)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results == [3] * 8


def test_glimpse_serve_answers_then_stops_on_ctrl_c(tmp_path: Path, photo_dir: Path) -> None:
    import signal

    root = tmp_path / "lib"
    assert cli(root, "index", str(photo_dir), use_service=False).returncode == 0
    env = {**os.environ, "GLIMPSE_MODEL": TINY_MODEL, "GLIMPSE_LIBRARY": str(root)}
    server = subprocess.Popen([sys.executable, "-m", "glimpse", "serve"], env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        lines = []
        for line in server.stdout:  # type: ignore[union-attr]
            lines.append(line)
            if line.startswith("Serving"):
                break
        assert lines and lines[-1].startswith("Serving"), "".join(lines) + server.stderr.read()  # type: ignore[union-attr]
        via = cli(root, "search", "a dog", "-k", "3", "--json")
        alone = cli(root, "search", "a dog", "-k", "3", "--json", use_service=False)
        assert via.returncode == 0 and via.stdout == alone.stdout
        server.send_signal(signal.SIGINT)
        out, _ = server.communicate(timeout=60)
        assert server.returncode == 0 and "Stopped after 1 requests" in out
    finally:
        if server.poll() is None:
            server.kill()
            server.communicate()
    assert not endpoint_path(root).exists()


def test_without_xdg_runtime_dir_the_socket_goes_to_a_private_folder_without_a_warning(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import warnings

    from glimpse.core import service

    if sys.platform in ("win32", "darwin"):
        pytest.skip("XDG_RUNTIME_DIR is a Linux/BSD convention")
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    monkeypatch.setattr(service.tempfile, "gettempdir", lambda: str(tmp_path))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # platformdirs' RuntimeDirWarning would raise
        folder = service.runtime_dir()
    home = folder.parent
    assert home == tmp_path / f"glimpse-runtime-{os.getuid()}"
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert service.endpoint_path(tmp_path / "lib").parent == folder
    # A folder others can enter is closed again before it is used.
    os.chmod(home, 0o755)
    service.runtime_dir()
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
