"""Model weights downloads against a local stand-in for the Hugging Face hub.

The server answers the requests huggingface_hub and our downloader make
(`HEAD`/`GET /{repo}/resolve/{revision}/{filename}`) with the headers they
read (X-Repo-Commit, ETag / X-Linked-Etag, Content-Length, Range), serving a
tiny GlimpseTiny checkpoint made here. HF_ENDPOINT points at it.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from fake_hub import COMMIT, FILE, REPO, TAG, FakeHub, start_fake_hub, tiny_checkpoint
from glimpse.core.encoding import downloads
from glimpse.core.encoding import encoder as models
from glimpse.core.encoding.downloads import DownloadCancelled, DownloadError, DownloadProgress
from glimpse.core.errors import ModelLoadError
from glimpse.core.jobs import CancelToken


@pytest.fixture(scope="module")
def checkpoint() -> bytes:
    return tiny_checkpoint()


@pytest.fixture
def hub(checkpoint: bytes, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    server = start_fake_hub({FILE: checkpoint}, monkeypatch, tmp_path / "hf-cache")
    yield server
    server.stop()



@pytest.fixture(autouse=True)
def _own_onnx_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test downloads the same tiny model; a session-wide ONNX export of it would
    let a later test skip loading the weights, and so skip the download it checks."""
    monkeypatch.setenv("GLIMPSE_ONNX_CACHE", str(tmp_path / "onnx"))

def test_full_download_then_load(hub: FakeHub, checkpoint: bytes, tmp_path: Path) -> None:
    import torch

    seen: list[DownloadProgress] = []
    spec = models.ModelSpec("GlimpseTiny", tag=TAG)
    path = models.ensure_weights(spec, tmp_path / "cache", seen.append)
    assert path is not None and path.read_bytes() == checkpoint
    assert path.name == FILE and f"snapshots/{COMMIT}" in path.as_posix()
    assert seen and seen[-1].done == seen[-1].total == len(checkpoint)
    assert "MB" in seen[-1].text()
    # safetensors first, as open_clip does; the hub has only the .bin
    assert [p.rsplit("/", 1)[1] for m, p, _ in hub.requests if m == "HEAD"] == [
        "open_clip_model.safetensors", FILE]
    assert models.ensure_weights(spec, tmp_path / "cache") is None  # cached: nothing to do

    hub.requests.clear()
    encoder = models.Encoder(spec, "cpu", cache_dir=tmp_path / "cache")
    encoder.prepare()
    assert not hub.gets()  # loaded from the cache, no second download
    expected = torch.load(io.BytesIO(checkpoint), weights_only=True)
    name, tensor = next(iter(encoder.model.state_dict().items()))
    assert torch.equal(tensor, expected[name])


def test_loading_downloads_by_itself_with_the_default_progress(hub: FakeHub, checkpoint: bytes,
                                                              tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI path: no explicit ensure_weights; the loader downloads and reports."""
    seen: list[DownloadProgress] = []
    monkeypatch.setattr(models, "_download_progress", seen.append)
    encoder = models.Encoder(models.ModelSpec("GlimpseTiny", tag=TAG), "cpu", cache_dir=tmp_path / "c")
    encoder.prepare()  # models load lazily: the download comes with the first use
    assert encoder.dim > 0
    assert seen and seen[-1].done == len(checkpoint)


def test_interrupted_download_resumes(hub: FakeHub, checkpoint: bytes, tmp_path: Path) -> None:
    remote = downloads.resolve(REPO)
    cut = len(checkpoint) // 3
    hub.drop_after = cut
    with pytest.raises(DownloadError, match="resumes where it stopped"):
        downloads.download(remote, tmp_path)
    parts = list(tmp_path.rglob("*.part"))
    assert len(parts) == 1 and parts[0].stat().st_size == cut
    path = downloads.download(remote, tmp_path)
    assert path.read_bytes() == checkpoint
    assert hub.gets() == [None, f"bytes={cut}-"]  # the second request asked only for the rest
    assert not list(tmp_path.rglob("*.part"))


def test_hash_mismatch_is_rejected(hub: FakeHub, tmp_path: Path) -> None:
    hub.sha_override = "f" * 64
    remote = downloads.resolve(REPO)
    with pytest.raises(DownloadError, match="damaged: its sha256 is [0-9a-f]{64}, the hub says f{64}"):
        downloads.download(remote, tmp_path)
    assert not list(tmp_path.rglob("*.part"))  # no garbage left to resume from
    assert not list(tmp_path.rglob(FILE))


def test_cancel_keeps_the_part_for_later(hub: FakeHub, checkpoint: bytes, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(downloads, "CHUNK", 4096)
    token = CancelToken()
    seen: list[DownloadProgress] = []

    def progress(p: DownloadProgress) -> None:
        seen.append(p)
        if p.done > 0:
            token.cancel()

    remote = downloads.resolve(REPO)
    with pytest.raises(DownloadCancelled):
        downloads.download(remote, tmp_path, progress, token, progress_interval_s=0)
    (part,) = tmp_path.rglob("*.part")
    assert 0 < part.stat().st_size < len(checkpoint)
    assert downloads.download(remote, tmp_path).read_bytes() == checkpoint


def test_no_network_says_so_at_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import huggingface_hub.constants as hub_constants
    import open_clip.pretrained as op

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    models.register_bundled_configs()
    monkeypatch.setitem(op._PRETRAINED, "GlimpseTiny", {TAG: {"hf_hub": f"{REPO}/"}})
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    with pytest.raises(ModelLoadError, match="cannot be reached.*--model GlimpseTiny:/path/to"):
        models.ensure_weights(models.ModelSpec("GlimpseTiny", tag=TAG), tmp_path)


def test_tags_map_to_hub_repos() -> None:
    assert downloads.hub_repo_for("ViT-B-32", "laion2b_s34b_b79k") == (
        "laion/CLIP-ViT-B-32-laion2B-s34B-b79K", None)
    assert downloads.format_duration(42) == "42 s" and downloads.format_duration(150) == "2 min"


def test_cli_shows_a_download_line(hub: FakeHub, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from glimpse.cli import main

    rc = main(["search", "anything", "--library", str(tmp_path / "lib"), "--model", f"GlimpseTiny:{TAG}"])
    err = capsys.readouterr().err
    assert rc == 0, err
    assert "Downloading model weights (open_clip_pytorch_model.bin)" in err
    assert hub.gets() == [None]
