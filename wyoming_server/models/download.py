"""Download the official pretrained files over HTTPS: progress bar, resume, size/hash check.

A transfer writes `<file>.part` and asks the server for the rest (`Range: bytes=N-`) after an
interruption, so a dropped connection or a killed process costs only what was not yet written.
A finished file is checked against the catalogue; a corrupt one is deleted and reported.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final, Protocol, TextIO

from .catalogue import CATALOGUE, DEFAULT_BASE_URL, ModelRelease, RemoteFile

_LOGGER = logging.getLogger(__name__)

CHUNK_BYTES: Final = 1 << 20
DEFAULT_ATTEMPTS: Final = 6
DEFAULT_TIMEOUT_S: Final = 60.0
PART_SUFFIX: Final = ".part"
_TRANSIENT: Final = (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError)


class DownloadError(RuntimeError):
    """A file could not be fetched or failed its check; the message says what to do."""


class DownloadProgress(Protocol):
    """Where a download reports how far it got (a terminal bar, or a background job's record)."""

    def update(self, name: str, done: int, total: int | None, final: bool = False) -> None:
        """`done` of `total` bytes of `name` (total None: unknown)."""


class ProgressBar:
    """A one-line progress bar on stderr (redrawn in place on a terminal, every 10% otherwise)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self._interactive = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last_draw = 0.0
        self._last_decile = -1

    def update(self, name: str, done: int, total: int | None, final: bool = False) -> None:
        """Show `done` of `total` bytes of `name`."""
        now = time.monotonic()
        if total:
            fraction = min(1.0, done / total)
            bar = "#" * int(fraction * 30)
            text = f"{name}  {done / 1e6:8.1f}/{total / 1e6:.1f} MB {fraction:6.1%} [{bar:<30}]"
            decile = int(fraction * 10)
        else:
            text, decile = f"{name}  {done / 1e6:8.1f} MB", -1
        if self._interactive:
            if final or now - self._last_draw >= 0.2:
                self.stream.write("\r" + text + ("\n" if final else ""))
                self.stream.flush()
                self._last_draw = now
        elif final or decile > self._last_decile:
            self.stream.write(text + "\n")
            self.stream.flush()
            self._last_decile = -1 if final else decile


def _verify(path: Path, remote: RemoteFile, *, delete: bool = True) -> None:
    """Size and hash as the catalogue knows them; a mismatch deletes a downloaded file."""
    size = path.stat().st_size
    problem = ""
    if remote.size is not None and size != remote.size:
        problem = f"it has {size} bytes, expected {remote.size}"
    elif remote.sha256 or remote.sha256_prefix:
        digest = hashlib.sha256()
        with path.open("rb") as f:
            while block := f.read(CHUNK_BYTES):
                digest.update(block)
        actual = digest.hexdigest()
        expected = remote.sha256 or remote.sha256_prefix or ""
        if not actual.startswith(expected):
            problem = f"its sha256 is {actual[:16]}..., expected {expected[:16]}..."
    if problem and not delete:
        raise DownloadError(f"{path} is not the expected {remote.path} ({problem})")
    if problem:
        path.unlink(missing_ok=True)
        raise DownloadError(f"{remote.path} is corrupt ({problem}); it was deleted: try again")


def _content_total(response: http.client.HTTPResponse, offset: int) -> int | None:
    content_range = response.headers.get("Content-Range", "")
    if "/" in content_range and not content_range.endswith("/*"):
        return int(content_range.rsplit("/", 1)[1])
    length = response.headers.get("Content-Length")
    return offset + int(length) if length is not None else None


def download_file(
    url: str,
    destination: Path,
    remote: RemoteFile,
    *,
    progress: DownloadProgress | None = None,
    attempts: int = DEFAULT_ATTEMPTS,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    retry_delay_s: Callable[[int], float] = lambda attempt: min(30.0, 2.0**attempt),
) -> Path:
    """Fetch `url` into `destination` (resuming a `.part`), verify it, and return its path.

    `retry_delay_s(attempt)` is the pause before a retry (exponential back-off by default).
    """
    if destination.is_file():
        try:
            _verify(destination, remote)
            _LOGGER.info("%s is already downloaded", remote.path)
            return destination
        except DownloadError:
            _LOGGER.warning("%s on disk failed its check; downloading it again", remote.path)
    destination.parent.mkdir(parents=True, exist_ok=True)
    part = destination.with_name(destination.name + PART_SUFFIX)
    last_error: BaseException | None = None
    for attempt in range(attempts):
        if attempt:
            time.sleep(retry_delay_s(attempt))
        offset = part.stat().st_size if part.exists() else 0
        if remote.size is not None and offset > remote.size:
            part.unlink()
            offset = 0
        request = urllib.request.Request(url, headers={"User-Agent": "edge-tts-clone"})
        if offset:
            request.add_header("Range", f"bytes={offset}-")
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as response:
                if offset and response.status != 206:
                    offset = 0  # the server ignored Range: start over
                total = _content_total(response, offset)
                with part.open("ab" if offset else "wb") as f:
                    done = offset
                    while block := response.read(CHUNK_BYTES):
                        f.write(block)
                        done += len(block)
                        if progress:
                            progress.update(remote.path, done, total)
                if total is not None and done < total:
                    raise ConnectionError(f"connection closed after {done} of {total} bytes")
            if progress:
                progress.update(remote.path, done, total, final=True)
            break
        except urllib.error.HTTPError as err:
            if err.code == 416 and offset and remote.size == offset:
                break  # the .part is already complete
            if err.code in (404, 401, 403):
                raise DownloadError(f"{url} answered HTTP {err.code}; check --base-url") from err
            last_error = err
        except _TRANSIENT as err:
            last_error = err
        _LOGGER.warning("download of %s interrupted (%s); resuming", remote.path, last_error)
    else:
        raise DownloadError(f"could not download {url} after {attempts} attempts: {last_error}")
    _verify(part, remote)
    part.replace(destination)
    return destination


def file_url(base_url: str, remote: RemoteFile) -> str:
    """The URL of `remote` under `base_url` (the repository root or a mirror of it)."""
    return urllib.parse.urljoin(base_url if base_url.endswith("/") else base_url + "/", urllib.parse.quote(remote.path))


def fetch_files(
    files: Sequence[RemoteFile],
    download_dir: Path,
    *,
    base_url: str = DEFAULT_BASE_URL,
    progress: DownloadProgress | None = None,
    attempts: int = DEFAULT_ATTEMPTS,
    retry_delay_s: Callable[[int], float] = lambda attempt: min(30.0, 2.0**attempt),
) -> dict[str, Path]:
    """Download each of `files` into `download_dir` (keeping files already there and checked)."""
    return {
        remote.path: download_file(
            file_url(base_url, remote),
            download_dir / remote.path,
            remote,
            progress=progress,
            attempts=attempts,
            retry_delay_s=retry_delay_s,
        )
        for remote in files
    }


def fetch_release(
    release: ModelRelease,
    download_dir: Path,
    *,
    base_url: str = DEFAULT_BASE_URL,
    source_dir: Path | None = None,
    with_bert: bool = False,
    progress: DownloadProgress | None = None,
    attempts: int = DEFAULT_ATTEMPTS,
    retry_delay_s: Callable[[int], float] = lambda attempt: min(30.0, 2.0**attempt),
) -> dict[str, Path]:
    """Local paths of every file of `release`: found in `source_dir`, or downloaded into `download_dir`."""
    files = release.files(with_bert)
    if source_dir is not None:
        return {remote.path: _find_local(source_dir, remote) for remote in files}
    return fetch_files(
        files, download_dir, base_url=base_url, progress=progress, attempts=attempts, retry_delay_s=retry_delay_s
    )


def _find_local(source_dir: Path, remote: RemoteFile) -> Path:
    """`--from DIR`: the file at its repository path (or just its name) under DIR, checked."""
    for candidate in (source_dir / remote.path, source_dir / Path(remote.path).name):
        if candidate.is_file():
            _verify(candidate, remote, delete=False)
            return candidate
    raise DownloadError(f"{remote.path} is not in {source_dir} (looked for {source_dir / remote.path})")


def release(model: str) -> ModelRelease:
    """The catalogue entry for `model` ("v2", "v2pro", "v2proplus")."""
    try:
        return CATALOGUE[model.lower()]
    except KeyError:
        raise DownloadError(f"unknown model {model!r}; choose one of {', '.join(CATALOGUE)}") from None
