"""A small local API: a running Glimpse (the app, `glimpse watch`, `glimpse serve`)
answers search, similar and status for its library, so a command-line query
skips the model start-up and answers in milliseconds.

Protocol: one request per connection, a JSON object on one line (at most
64 KiB); one JSON object comes back, `{"ok": true, ...}` or
`{"ok": false, "error": "...", "kind": "QueryError"}`:

    {"op": "search", "query": "a dog", "k": 20, "image": null,
     "folder": null, "after": null, "before": null, "model": null}
    {"op": "similar", "image": "/abs/photo.jpg", "k": 20, ...}
    {"op": "status"}

Where: a Unix domain socket in the user's runtime folder (folder 0700, socket
0600), named after the library folder; on Linux the server also checks the
peer's uid (SO_PEERCRED) and refuses other users. On Windows, where Unix
sockets are not dependable, it listens on 127.0.0.1 and writes the port and a
random token to a file in the per-user runtime folder; a request must carry
that token. (The Windows path is written but untested here.)

Each connection has a deadline, and a small pool of threads serves them, off
the GUI thread: a slow or stuck client costs one pool thread for a few
seconds, never the app. This module's client half imports only the standard
library, so trying the service costs a command nothing when none runs.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import socket
import stat
import struct
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from glimpse.core import settings

if TYPE_CHECKING:
    from glimpse.core.library import Library

log = logging.getLogger(__name__)

MAX_REQUEST = 64 * 1024
CONNECTION_TIMEOUT_S = 5.0  # a client gets this long to send its request and read the answer
NO_SERVICE_ENV = settings.setting("no_service").env
_WINDOWS = sys.platform == "win32"


def runtime_dir() -> Path:
    """Where the service's socket lives: the user's runtime folder. Without
    XDG_RUNTIME_DIR (cron, ssh, a container) platformdirs warns on every command
    and falls back to a shared /tmp path; Glimpse chooses its own private folder
    instead, quietly (named with -v)."""
    if _WINDOWS or sys.platform == "darwin" or os.environ.get("XDG_RUNTIME_DIR"):
        import platformdirs

        return Path(platformdirs.user_runtime_dir("Glimpse", appauthor=False))
    return _private_runtime_fallback()


def _private_runtime_fallback() -> Path:
    """A 0700 folder of this user's under the temporary folder. One that exists but
    belongs to someone else, or that others can enter, is not used: the socket's
    safety rests on its folder (another user could otherwise plant a socket)."""
    uid = os.getuid()
    path = Path(tempfile.gettempdir()) / f"glimpse-runtime-{uid}"
    try:
        path.mkdir(mode=0o700, exist_ok=True)
        info = path.lstat()
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != uid:
            raise PermissionError(f"{path} is not a folder of this user's")
        if info.st_mode & 0o077:
            os.chmod(path, 0o700)
    except OSError as exc:
        path = Path(tempfile.mkdtemp(prefix=f"glimpse-runtime-{uid}-"))
        log.info("XDG_RUNTIME_DIR is not set and %s", exc)
    log.info("XDG_RUNTIME_DIR is not set: the service's socket is in %s", path)
    return path / "Glimpse"


def _library_tag(library_root: Path) -> str:
    return hashlib.sha256(str(Path(library_root).resolve()).encode("utf-8")).hexdigest()[:16]


def endpoint_path(library_root: Path) -> Path:
    """The socket (or, on Windows, the port+token file) of the service for this library."""
    suffix = ".json" if _WINDOWS else ".sock"
    return runtime_dir() / f"library-{_library_tag(library_root)}{suffix}"


# -- client ---------------------------------------------------------------------


class ServiceError(Exception):
    """The service answered with an error a user caused (bad query, unknown photo)."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


def request(library_root: Path, payload: dict[str, Any], timeout: float = 30.0) -> dict[str, Any] | None:
    """Ask the service for this library; None when none is running (or it failed),
    so the caller does the work itself. Raises ServiceError for a refused query."""
    if settings.enabled("no_service"):
        return None
    path = endpoint_path(library_root)
    try:
        sock = _connect(path, payload, timeout)
    except (OSError, ValueError):
        return None
    try:
        with sock:
            sock.sendall(json.dumps(payload).encode("utf-8") + b"\n")
            sock.shutdown(socket.SHUT_WR)
            data = _read_all(sock, limit=64 * 1024 * 1024)
        answer = json.loads(data.decode("utf-8"))
    except (OSError, ValueError) as exc:
        log.info("the Glimpse service did not answer (%s); working in-process", exc)
        return None
    if not isinstance(answer, dict):
        return None
    if not answer.get("ok"):
        if answer.get("kind") == "busy":
            return None
        raise ServiceError(str(answer.get("error", "the service refused the request")),
                           str(answer.get("kind", "")))
    return answer


def _connect(path: Path, payload: dict[str, Any], timeout: float) -> socket.socket:
    if _WINDOWS:
        info = json.loads(path.read_text("utf-8"))
        payload["token"] = info["token"]
        return socket.create_connection(("127.0.0.1", int(info["port"])), timeout=timeout)
    if not path.exists():
        raise OSError("no service")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(str(path))
    except OSError:
        sock.close()
        raise
    return sock


def _read_all(sock: socket.socket, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            raise ValueError("message too large")


# -- server -----------------------------------------------------------------------


class SearchService:
    """Serves one library's searches on the local endpoint until stopped."""

    def __init__(self, library: Library, workers: int = 4) -> None:
        self.library = library
        self.path = endpoint_path(library.root)
        self.requests = 0  # answered so far (tests and `glimpse serve` report it)
        self._workers = workers
        self._pool: ThreadPoolExecutor | None = None
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._token = secrets.token_hex(16)
        self._busy = threading.BoundedSemaphore(workers * 2)

    def start(self) -> bool:
        """Listen; False (and nothing started) when another process already serves this library."""
        directory = self.path.parent
        directory.mkdir(parents=True, exist_ok=True)
        if not _WINDOWS:
            os.chmod(directory, 0o700)
        if self._someone_serves():
            log.info("another Glimpse already serves %s", self.library.root)
            return False
        self._sock = self._listen()
        self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="glimpse-service")
        self._thread = threading.Thread(target=self._accept_loop, name="glimpse-service-accept",
                                        daemon=True)
        self._thread.start()
        return True

    def _someone_serves(self) -> bool:
        try:
            sock = _connect(self.path, {}, timeout=1.0)
        except (OSError, ValueError, KeyError):
            return False
        sock.close()
        return True

    def _listen(self) -> socket.socket:
        if _WINDOWS:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sock.listen(16)
            info = {"port": sock.getsockname()[1], "token": self._token, "pid": os.getpid()}
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(info), "utf-8")
            os.replace(tmp, self.path)
        else:
            try:
                self.path.unlink()  # a dead server's socket (a live one was checked for)
            except FileNotFoundError:
                pass
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            old = os.umask(0o177)  # the socket is created 0600: only this user may connect
            try:
                sock.bind(str(self.path))
            finally:
                os.umask(old)
            sock.listen(16)
        sock.settimeout(0.5)  # lets the accept loop notice stop()
        return sock

    def _accept_loop(self) -> None:
        assert self._sock is not None and self._pool is not None
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                if self._stop.is_set():
                    return
                continue
            if not self._busy.acquire(blocking=False):
                self._refuse(conn, "busy", "the service is busy")
                continue
            try:
                self._pool.submit(self._serve_one, conn)
            except RuntimeError:  # pool shut down while stopping
                self._busy.release()
                conn.close()
                return

    def _refuse(self, conn: socket.socket, kind: str, message: str) -> None:
        try:
            conn.settimeout(1.0)
            conn.sendall(json.dumps({"ok": False, "kind": kind, "error": message}).encode())
            conn.shutdown(socket.SHUT_WR)
            # Read (and drop) what the client sent, within bounds, so closing does
            # not reset the connection before it has read the refusal.
            unread = MAX_REQUEST
            while unread > 0 and (chunk := conn.recv(8192)):
                unread -= len(chunk)
        except OSError:
            pass
        finally:
            conn.close()

    def _serve_one(self, conn: socket.socket) -> None:
        try:
            with conn:
                conn.settimeout(CONNECTION_TIMEOUT_S)
                if not self._same_user(conn):
                    self._refuse(conn, "forbidden", "requests from other users are refused")
                    return
                try:
                    data = _read_request(conn)
                    payload = json.loads(data.decode("utf-8"))
                    if not isinstance(payload, dict):
                        raise ValueError("a request is a JSON object")
                except (ValueError, UnicodeDecodeError) as exc:
                    conn.sendall(_encode({"ok": False, "kind": "bad-request", "error": str(exc)}))
                    return
                answer = self.answer(payload)
                conn.sendall(_encode(answer))
        except OSError as exc:  # the client went away or was too slow
            log.info("service connection dropped: %s", exc)
        finally:
            self._busy.release()

    def _same_user(self, conn: socket.socket) -> bool:
        if _WINDOWS:
            return True  # checked by the token in answer()
        if hasattr(socket, "SO_PEERCRED"):
            creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
            _pid, uid, _gid = struct.unpack("3i", creds)
            return bool(uid == os.getuid())
        return True  # elsewhere the socket's 0600 mode and the 0700 folder keep others out

    def answer(self, payload: dict[str, Any]) -> dict[str, Any]:
        """One request's answer (exceptions a user caused become error answers)."""
        from glimpse.core.errors import GlimpseError

        if _WINDOWS and not hmac.compare_digest(str(payload.get("token", "")), self._token):
            return {"ok": False, "kind": "forbidden", "error": "bad token"}
        try:
            result = self._dispatch(payload)
        except GlimpseError as exc:
            return {"ok": False, "kind": type(exc).__name__, "error": str(exc)}
        except (KeyError, TypeError, ValueError) as exc:
            return {"ok": False, "kind": "bad-request", "error": f"{type(exc).__name__}: {exc}"}
        self.requests += 1
        return {"ok": True, **result}

    def _dispatch(self, payload: dict[str, Any]) -> dict[str, Any]:
        return answer(self.library, payload)

    def stop(self) -> None:
        self._stop.set()
        if self._sock is not None:
            self._sock.close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        try:
            if self._sock is not None:
                self.path.unlink()
        except OSError:
            pass
        self._sock = None


def _read_request(conn: socket.socket) -> bytes:
    """Up to the first newline (or the client's end of sending), at most MAX_REQUEST bytes."""
    data = b""
    while b"\n" not in data:
        chunk = conn.recv(8192)
        if not chunk:
            break
        data += chunk
        if len(data) > MAX_REQUEST:
            raise ValueError(f"request larger than {MAX_REQUEST} bytes")
    return data.split(b"\n", 1)[0]


def _encode(answer: dict[str, Any]) -> bytes:
    return json.dumps(answer, default=str).encode("utf-8")


def answer(lib: Library, payload: dict[str, Any]) -> dict[str, Any]:
    """One request, answered: by the service from memory, or by the CLI in-process
    when no service runs. One function for both, and the query is read by the one
    planner (Library.plan), so every front end gets the same answer."""
    from glimpse.core.encoding.encoder import ModelSpec
    from glimpse.core.errors import QueryError
    from glimpse.core.search.ranking import Filters, parse_date

    op = payload.get("op")
    if op == "status":
        return {"status": asdict(lib.status())}
    if op not in ("search", "similar"):
        raise ValueError(f"unknown op {op!r}")
    model = payload.get("model")
    spec = ModelSpec.parse(model) if model else None
    k = int(payload.get("k", 20))
    if k <= 0:
        raise QueryError("The number of results must be at least 1.")
    k = min(k, 10_000)  # more than anyone reads; a huge k must not allocate a huge answer
    filters = Filters(
        payload.get("folder"),
        parse_date(payload.get("after"), "--after"),
        parse_date(payload.get("before"), "--before"),
        payload.get("place") or None,
    )
    collapse = lib.default_collapse() if payload.get("collapse", True) else None
    image = payload.get("image")
    used = spec or lib.spec
    if op == "similar":
        from glimpse.core.search import region

        part = region.parse(payload["region"]) if payload.get("region") is not None else None
        hits = lib.similar(str(image), k=k, filters=filters, spec=spec, collapse=collapse, region=part)
        return {"hits": [asdict(h) for h in hits], "model": str(used), "random": used.is_random,
                "plan": None}
    plan = lib.plan(
        str(payload.get("query", "")), filters, image=image,
        persons=list(payload.get("persons") or ()), ignore=list(payload.get("ignore") or ()),
        read_dates=bool(payload.get("date_words", True)),
        read_names=bool(payload.get("name_words", True)),
    )
    hits = lib.search(
        plan, k=k, spec=spec,
        like=list(payload.get("like") or ()), unlike=list(payload.get("unlike") or ()),
        collapse=collapse, sort=str(payload.get("sort") or "best"),
    )
    people_note = None
    if plan.person_groups:
        photos = lib.plan_filters(plan).photo_ids or frozenset()
        people_note = {"names": list(plan.people), "photos": len(photos)}
    return {"hits": [asdict(h) for h in hits], "model": str(used), "random": used.is_random,
            "plan": plan.to_json(), "places": list(plan.places), "people": people_note}
