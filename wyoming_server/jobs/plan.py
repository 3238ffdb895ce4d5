"""What a job will download and how much disk it needs: stated before it starts, and checked then.

Sizes come from the catalogue, else from the download server (a HEAD request's Content-Length,
remembered for the server's lifetime), and what is already in `<data>/downloads` (complete files,
`.part` files of an interrupted download) is not counted again. Building the converted model takes
about `CONVERSION_SPACE_FACTOR` times its input checkpoints while the staging folder holds the fp32
and INT8 graphs side by side (docs/decisions.md).
"""

from __future__ import annotations

import logging
import shutil
import threading
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from ..models.catalogue import RemoteFile
from ..models.download import PART_SUFFIX, file_url

_LOGGER = logging.getLogger(__name__)

CONVERSION_SPACE_FACTOR: Final = 3.0
"""Staging peak / input checkpoints: 2.55 measured on v2 (450 MB in, 1146 MB of graphs), rounded up."""
SPACE_MARGIN_BYTES: Final = 200 * 1024 * 1024
"""Left free after the job, so the cache and voice packs still have room."""
SIZE_TIMEOUT_S: Final = 10.0
GB: Final = 1e9


@dataclass(frozen=True, slots=True)
class FilePlan:
    """One file a job needs: its size (None when not known) and the bytes of it already on disk."""

    path: str
    size: int | None
    on_disk: int


@dataclass(frozen=True, slots=True)
class SpacePlan:
    """The downloads and disk space of one job, against the free space now."""

    files: tuple[FilePlan, ...]
    local_bytes: int
    """Input checkpoints already on disk that are not downloads (an uploaded fine-tune)."""
    free_bytes: int

    @property
    def download_bytes(self) -> int | None:
        """Bytes still to download (None if a size is unknown)."""
        if any(f.size is None for f in self.files):
            return None
        return sum(max(0, (f.size or 0) - f.on_disk) for f in self.files)

    @property
    def disk_bytes(self) -> int | None:
        """Free space the job needs: the rest of the downloads, the conversion's staging and a margin."""
        download = self.download_bytes
        if download is None:
            return None
        inputs = sum(f.size or 0 for f in self.files) + self.local_bytes
        return download + int(CONVERSION_SPACE_FACTOR * inputs) + SPACE_MARGIN_BYTES

    @property
    def enough_space(self) -> bool | None:
        """None when a size is unknown (the job then finds out as it goes)."""
        needed = self.disk_bytes
        return None if needed is None else needed <= self.free_bytes

    def shortfall(self) -> str:
        """The message for a disk without room."""
        return (
            f"not enough disk space: this needs {(self.disk_bytes or 0) / GB:.1f} GB free "
            f"({(self.download_bytes or 0) / GB:.2f} GB to download, the rest to convert) and the data "
            f"folder's disk has {self.free_bytes / GB:.1f} GB free; free some space and try again"
        )

    def to_json(self) -> dict[str, Any]:
        """The `SpacePlan` object of docs/http-api.md."""
        return {
            "download_bytes": self.download_bytes,
            "disk_bytes": self.disk_bytes,
            "free_bytes": self.free_bytes,
            "enough_space": self.enough_space,
            "files": [{"path": f.path, "bytes": f.size, "on_disk": f.on_disk} for f in self.files],
        }


def free_bytes(path: Path) -> int:
    """Free bytes on the disk that holds `path` (or its nearest existing parent)."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            return shutil.disk_usage(candidate).free
    return 0


class RemoteSizes:
    """Sizes of catalogue files, asked of the download server once and remembered (thread-safe)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self._known: dict[str, int] = {}
        self._lock = threading.Lock()

    def size(self, remote: RemoteFile) -> int | None:
        """The catalogue's size, else the server's Content-Length, else None (offline, no header)."""
        if remote.size is not None:
            return remote.size
        with self._lock:
            if remote.path in self._known:
                return self._known[remote.path]
        request = urllib.request.Request(
            file_url(self.base_url, remote), method="HEAD", headers={"User-Agent": "edge-tts-clone"}
        )
        try:
            with urllib.request.urlopen(request, timeout=SIZE_TIMEOUT_S) as response:
                length = response.headers.get("Content-Length")
        except (urllib.error.URLError, OSError, ValueError) as err:
            _LOGGER.info("Could not learn the size of %s: %s", remote.path, err)
            return None
        if length is None or not length.isdigit():
            return None
        with self._lock:
            self._known[remote.path] = int(length)
        return int(length)


def plan_space(
    files: Sequence[RemoteFile],
    download_dir: Path,
    sizes: RemoteSizes,
    *,
    local_bytes: int = 0,
    data_dir: Path | None = None,
) -> SpacePlan:
    """The plan for downloading `files` into `download_dir` and converting them (blocking: may ask the server)."""
    planned: list[FilePlan] = []
    for remote in files:
        destination = download_dir / remote.path
        part = destination.with_name(destination.name + PART_SUFFIX)
        if destination.is_file():
            size = destination.stat().st_size
            planned.append(FilePlan(remote.path, size, size))
            continue
        on_disk = part.stat().st_size if part.is_file() else 0
        planned.append(FilePlan(remote.path, sizes.size(remote), on_disk))
    return SpacePlan(tuple(planned), local_bytes, free_bytes(data_dir or download_dir))
