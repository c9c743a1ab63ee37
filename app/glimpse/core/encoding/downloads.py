"""Download a pretrained model's weights: progress, cancel, resume, hash check.

Why our own download loop: huggingface_hub's downloader shows a tqdm bar on a
terminal and nothing a GUI can use, cannot be cancelled, and a user on a slow
line who closes the app loses the partial file's worth of patience. Here a
file is streamed into a `.part` file beside its final place, resumed with an
HTTP Range request, reported through a progress callback, checked against
the sha256 the hub publishes (the ETag of an LFS file), and only then moved
into place atomically.

The file lands where huggingface_hub itself would put it (its cache layout:
blobs/<sha256>, snapshots/<commit>/<filename>, refs/<revision>), so open_clip
then loads it cache-only, with the architecture's own preprocessing settings,
and any other tool sharing the cache finds it too.

All hub URLs honour `HF_ENDPOINT` (read at call time) like huggingface_hub.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from glimpse.core.errors import ModelLoadError
from glimpse.core.jobs import CancelToken

CHUNK = 1 << 20
REVISION = "main"
# open_clip's own file names on the hub, safest format first (as open_clip tries them).
WEIGHT_FILES = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class DownloadError(ModelLoadError):
    """A weights download failed; the message says why and what to do."""


class DownloadCancelled(DownloadError):
    """The user stopped the download; the partial file is kept for resuming."""


@dataclass(frozen=True)
class DownloadProgress:
    filename: str
    done: int  # bytes on disk, including what an earlier attempt fetched
    total: int | None
    rate: float  # bytes per second during this attempt
    eta_s: float | None

    def text(self) -> str:
        """'Downloading model weights: 120 of 605 MB, 8.1 MB/s, 1 min left'."""
        mb = 1e6
        size = f"{self.done / mb:.0f} of {self.total / mb:.0f} MB" if self.total else f"{self.done / mb:.0f} MB"
        parts = [f"Downloading model weights ({self.filename}): {size}"]
        if self.rate > 0:
            parts.append(f"{self.rate / mb:.1f} MB/s")
        if self.eta_s is not None:
            parts.append(f"{format_duration(self.eta_s)} left")
        return ", ".join(parts)


def format_duration(seconds: float) -> str:
    if seconds < 60:
        return f"{max(1, round(seconds))} s"
    if seconds < 3600:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


@dataclass(frozen=True)
class RemoteFile:
    repo_id: str
    filename: str
    url: str  # where the bytes are (after the hub's redirects)
    size: int | None
    sha256: str | None  # the LFS object id; None for small non-LFS files
    commit: str | None
    etag: str


ProgressFn = Callable[[DownloadProgress], None]


def endpoint() -> str:
    """The hub's address, as huggingface_hub reads it, but at call time (tests,
    and users who set HF_ENDPOINT for a mirror after start-up)."""
    import huggingface_hub.constants as hub

    return (os.environ.get("HF_ENDPOINT") or hub.ENDPOINT).rstrip("/")


def hub_repo_for(arch: str, tag: str) -> tuple[str, str | None] | None:
    """(repo id, file name or None) of an open_clip pretrained tag on the hub;
    None when the tag downloads from elsewhere (a plain URL)."""
    import open_clip

    cfg = open_clip.get_pretrained_cfg(arch, tag) or {}
    hub = cfg.get("hf_hub", "")
    if not hub:
        return None
    if hub.endswith("/"):
        return hub[:-1], None
    repo_id, filename = os.path.split(hub)
    return repo_id, filename


def offline() -> bool:
    import huggingface_hub.constants as hub

    return bool(hub.HF_HUB_OFFLINE) or os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes")


def resolve(repo_id: str, filename: str | None = None, revision: str = REVISION) -> RemoteFile:
    """Ask the hub which weight file the repo has, its size, hash and commit."""
    from huggingface_hub import get_hf_file_metadata, hf_hub_url
    from huggingface_hub.errors import EntryNotFoundError

    names = [filename] if filename else list(WEIGHT_FILES)
    last: Exception | None = None
    for name in names:
        url = hf_hub_url(repo_id, name, revision=revision, endpoint=endpoint())
        try:
            meta = get_hf_file_metadata(url, timeout=15)
        except EntryNotFoundError as exc:
            last = exc
            continue
        except Exception as exc:  # network, HTTP errors: all mean "cannot fetch now"
            raise DownloadError(f"Could not ask the model hub ({endpoint()}) about {repo_id}/{name}: {exc}") from exc
        etag = (meta.etag or "").strip('"')
        sha = etag.lower() if _SHA256.match(etag.lower()) else None
        return RemoteFile(repo_id, name, meta.location or url, meta.size, sha, meta.commit_hash, etag)
    raise DownloadError(f"The model hub has no weights file for {repo_id} ({', '.join(names)}): {last}")


def is_cached(repo_id: str, filename: str | None, cache_dir: Path | None = None) -> bool:
    """Whether the hub cache already holds this repo's weights (no network)."""
    from huggingface_hub import try_to_load_from_cache

    for name in [filename] if filename else WEIGHT_FILES:
        if isinstance(try_to_load_from_cache(repo_id, name, cache_dir=str(cache_root(cache_dir))), str):
            return True
    return False


def cache_root(cache_dir: Path | None) -> Path:
    import huggingface_hub.constants as hub

    return Path(cache_dir) if cache_dir else Path(hub.HF_HUB_CACHE)


def _repo_folder(root: Path, repo_id: str) -> Path:
    return root / ("models--" + repo_id.replace("/", "--"))


def cached_path(remote: RemoteFile, cache_dir: Path | None, revision: str = REVISION) -> Path:
    commit = remote.commit or revision
    return _repo_folder(cache_root(cache_dir), remote.repo_id) / "snapshots" / commit / remote.filename


def download(
    remote: RemoteFile,
    cache_dir: Path | None = None,
    progress: ProgressFn | None = None,
    token: CancelToken | None = None,
    revision: str = REVISION,
    timeout: float = 30.0,
    progress_interval_s: float = 0.2,
) -> Path:
    """Fetch `remote` into the hub cache and return the snapshot path.

    A partial file from an earlier attempt (crash, cancel, dropped line) is
    resumed where it stopped. The finished file is checked against its sha256
    before it is moved into place; a mismatch deletes it, so a retry starts
    clean instead of resuming garbage.
    """
    if offline():
        raise DownloadError("Downloads are switched off (HF_HUB_OFFLINE is set).")
    repo = _repo_folder(cache_root(cache_dir), remote.repo_id)
    blob = repo / "blobs" / (remote.sha256 or remote.etag or remote.filename)
    part = blob.with_name(blob.name + ".part")
    target = cached_path(remote, cache_dir, revision)
    if target.is_file() and (remote.size is None or target.stat().st_size == remote.size):
        return target
    blob.parent.mkdir(parents=True, exist_ok=True)

    started = time.monotonic()
    have = part.stat().st_size if part.exists() else 0
    if remote.size is not None and have > remote.size:
        part.unlink()
        have = 0
    resumed_from = have
    last_report = 0.0

    def report(done: int, final: bool = False) -> None:
        nonlocal last_report
        now = time.monotonic()
        if progress is None or (not final and now - last_report < progress_interval_s):
            return
        last_report = now
        elapsed = max(now - started, 1e-6)
        rate = (done - resumed_from) / elapsed
        eta = (remote.size - done) / rate if remote.size and rate > 0 else None
        progress(DownloadProgress(remote.filename, done, remote.size, rate, eta))

    if remote.size is None or have < remote.size:
        headers = {"Accept-Encoding": "identity", "User-Agent": "glimpse"}
        if have:
            headers["Range"] = f"bytes={have}-"
        request = urllib.request.Request(remote.url, headers=headers)
        try:
            response = urllib.request.urlopen(request, timeout=timeout)
        except urllib.error.HTTPError as exc:
            if exc.code == 416 and have:  # nothing left to send: the part is complete
                response = None
            else:
                raise DownloadError(f"Downloading {remote.filename} failed: HTTP {exc.code} {exc.reason}.") from exc
        except OSError as exc:
            raise DownloadError(
                f"Downloading {remote.filename} failed: {exc}. Run the same command again to resume."
            ) from exc
        if response is not None:
            with response:
                if have and response.status != 206:  # the server ignored Range: start over
                    have = resumed_from = 0
                mode = "ab" if have else "wb"
                report(have, final=True)
                try:
                    with open(part, mode) as out:
                        while True:
                            if token is not None and token.checkpoint():
                                out.flush()
                                raise DownloadCancelled(
                                    f"Download of {remote.filename} cancelled at {have // 1_000_000} MB; "
                                    "it resumes from there next time."
                                )
                            chunk = response.read(CHUNK)
                            if not chunk:
                                break
                            out.write(chunk)
                            have += len(chunk)
                            report(have)
                except DownloadCancelled:
                    raise
                except (OSError, http.client.HTTPException) as exc:
                    raise DownloadError(
                        f"Downloading {remote.filename} stopped at {have // 1_000_000} MB: {exc}. "
                        "Try again: it resumes where it stopped."
                    ) from exc
        report(have, final=True)
    if remote.size is not None and have != remote.size:
        raise DownloadError(
            f"Downloading {remote.filename} stopped at {have} of {remote.size} bytes (connection lost?). "
            "Try again: it resumes where it stopped."
        )
    if remote.sha256:
        digest = _sha256(part)
        if digest != remote.sha256:
            part.unlink()
            raise DownloadError(
                f"The downloaded {remote.filename} is damaged: its sha256 is {digest}, the hub says "
                f"{remote.sha256}. It was deleted; try again."
            )
    os.replace(part, blob)  # atomic: a blob is either complete or absent
    _link_snapshot(blob, target)
    if remote.commit:
        ref = repo / "refs" / revision
        ref.parent.mkdir(parents=True, exist_ok=True)
        tmp = ref.with_name(ref.name + ".tmp")
        tmp.write_text(remote.commit)
        os.replace(tmp, ref)
    return target


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def _link_snapshot(blob: Path, target: Path) -> None:
    """snapshots/<commit>/<file> -> ../../blobs/<sha>, as huggingface_hub lays it out;
    a copy where symlinks are not allowed (Windows without developer mode)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_symlink() or target.exists():
        target.unlink()
    try:
        target.symlink_to(os.path.relpath(blob, target.parent))
    except OSError:
        import shutil

        shutil.copy2(blob, target)


def fetch_pretrained(
    arch: str,
    tag: str,
    cache_dir: Path | None = None,
    progress: ProgressFn | None = None,
    token: CancelToken | None = None,
) -> Path | None:
    """Download the weights of `arch:tag` into the cache; None when the tag is not
    hosted on the hub (open_clip then downloads it its own way)."""
    located = hub_repo_for(arch, tag)
    if located is None:
        return None
    repo_id, filename = located
    return download(resolve(repo_id, filename), cache_dir, progress, token)
