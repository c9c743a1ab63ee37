"""A local stand-in for the Hugging Face hub, shared by the download tests.

It answers the requests huggingface_hub and glimpse.core.encoding.downloads make
(`HEAD`/`GET /{repo}/resolve/{revision}/{filename}`) with the headers they
read (X-Repo-Commit, ETag / X-Linked-Etag, Content-Length, Range).
"""

from __future__ import annotations

import hashlib
import http.server
import io
import threading
from pathlib import Path

import pytest

REPO = "glimpse-test/GlimpseTiny-hub"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
FILE = "open_clip_pytorch_model.bin"
TAG = "testhub"


class FakeHub:
    """A threaded HTTP server; `drop_after` cuts the next GET after that many bytes."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.sha_override: str | None = None
        self.drop_after: int | None = None
        self.hold: threading.Event | None = None  # pause mid-file until set
        self.requests: list[tuple[str, str, str | None]] = []  # method, path, Range
        hub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _lookup(self) -> bytes | None:
                prefix = f"/{REPO}/resolve/main/"
                if not self.path.startswith(prefix):
                    return None
                return hub.files.get(self.path[len(prefix):])

            def _headers(self, body: bytes, status: int, length: int) -> None:
                self.send_response(status)
                sha = hub.sha_override or hashlib.sha256(body).hexdigest()
                self.send_header("X-Repo-Commit", COMMIT)
                self.send_header("ETag", f'"{sha}"')
                self.send_header("X-Linked-Etag", f'"{sha}"')
                self.send_header("Accept-Ranges", "bytes")
                self.send_header("Content-Length", str(length))
                self.end_headers()

            def _missing(self) -> None:
                self.send_response(404)
                self.send_header("X-Error-Code", "EntryNotFound")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_HEAD(self) -> None:  # noqa: N802 - http.server's naming
                hub.requests.append(("HEAD", self.path, None))
                body = self._lookup()
                if body is None:
                    return self._missing()
                self._headers(body, 200, len(body))

            def do_GET(self) -> None:  # noqa: N802
                rng = self.headers.get("Range")
                hub.requests.append(("GET", self.path, rng))
                body = self._lookup()
                if body is None:
                    return self._missing()
                start = int(rng.split("=")[1].split("-")[0]) if rng else 0
                if start >= len(body):
                    self.send_response(416)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                part = body[start:]
                self._headers(body, 206 if rng else 200, len(part))
                if hub.hold is not None:
                    half = len(part) // 2
                    self.wfile.write(part[:half])
                    self.wfile.flush()
                    hub.hold.wait(30)
                    self.wfile.write(part[half:])
                    return
                if hub.drop_after is not None:
                    cut, hub.drop_after = hub.drop_after, None
                    self.wfile.write(part[:cut])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(part)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        if self.hold is not None:
            self.hold.set()
        self.server.shutdown()
        self.server.server_close()

    def gets(self) -> list[str | None]:
        return [rng for method, _, rng in self.requests if method == "GET"]




def tiny_checkpoint(seed: int = 1234) -> bytes:
    """A real GlimpseTiny state dict, with weights unlike the seeded random ones."""
    import open_clip
    import torch

    from glimpse.core.encoding import encoder as models

    models.register_bundled_configs()
    torch.manual_seed(seed)
    model = open_clip.create_model("GlimpseTiny", pretrained=None)
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    return buf.getvalue()


def start_fake_hub(files: dict[str, bytes], monkeypatch: pytest.MonkeyPatch, cache: Path) -> FakeHub:
    """Serve `files`, point HF_ENDPOINT and the hub cache at it, allow downloads
    (the suite sets HF_HUB_OFFLINE=1), and make GlimpseTiny:testhub a hub-hosted tag.
    Stop it with `stop()`."""
    import huggingface_hub.constants as hub_constants
    import open_clip.pretrained as op

    from glimpse.core.encoding import encoder as models

    server = FakeHub(files)
    server.thread.start()
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_ENDPOINT", server.endpoint)
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(cache))
    models.register_bundled_configs()
    monkeypatch.setitem(op._PRETRAINED, "GlimpseTiny", {TAG: {"hf_hub": f"{REPO}/"}})
    return server
