"""The child process of a background job: download what is missing, convert, install; progress as JSON lines.

Run as `python -m wyoming_server.jobs.worker`. The spec (`specs.py`) is the first line of stdin;
stdin then stays open, and its end means the server is gone, so the worker stops as well. Events
go to the original stdout, one JSON object a line; anything a library prints goes to stderr, which
the server logs. SIGTERM cancels: the conversion's staging folder is removed on the way out (and by
the next `storage.atomic.recover` if the worker is killed), downloads keep their `.part` to resume.
A full disk removes the `.part` files too, since nothing can continue until space is freed.
"""

from __future__ import annotations

import errno
import importlib
import json
import logging
import os
import resource
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any, Final, TextIO

from ..models.catalogue import RemoteFile
from ..models.download import PART_SUFFIX, DownloadError, fetch_files
from ..models.install import ModelConverter, default_converter, install_converted_model

_LOGGER = logging.getLogger("wyoming_server.jobs.worker")

Emit = Callable[[dict[str, Any]], None]
STORAGE_FULL_ERRNOS: Final = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
DOWNLOAD_SHARE: Final = 0.5
"""Share of the progress bar the downloads take when there is something to download."""
EMIT_INTERVAL_S: Final = 0.25
"""Download progress is sent at most this often (the record is rewritten at every event)."""
MB: Final = 1e6


class JobCancelled(BaseException):
    """SIGTERM arrived: unwind (running every `finally`) and exit."""


class JobFailed(Exception):
    """A failure with a machine code and a message for a person."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _storage_full(err: BaseException) -> bool:
    """True if `err`, or an error it wraps, is a full disk (or quota, or file size limit)."""
    seen: BaseException | None = err
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in STORAGE_FULL_ERRNOS:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class _DownloadReport:
    """`DownloadProgress` for the job: overall bytes across every file, sent at most every EMIT_INTERVAL_S."""

    def __init__(self, files: list[RemoteFile], emit: Emit, share: float) -> None:
        self._sizes = {f.path: f.size for f in files}
        self._done: dict[str, int] = {}
        self._emit = emit
        self._share = share
        self._last = 0.0

    def update(self, name: str, done: int, total: int | None, final: bool = False) -> None:
        """One file's progress."""
        self._done[name] = done
        if total is not None:
            self._sizes[name] = total
        now = time.monotonic()
        if not final and now - self._last < EMIT_INTERVAL_S:
            return
        self._last = now
        known = [size for size in self._sizes.values() if size]
        total_all = sum(known) or 1
        fraction = min(1.0, sum(self._done.values()) / total_all)
        self._emit(
            {
                "phase": "downloading",
                "progress": round(self._share * fraction, 4),
                "message": f"downloading {Path(name).name}: {done / MB:.1f} of {(total or 0) / MB:.1f} MB",
            }
        )


def load_converter(reference: str | None) -> ModelConverter:
    """`module:attribute` names the converter (tests); None is the project's own."""
    if reference is None:
        return default_converter()
    module, _, attribute = reference.partition(":")
    converter: ModelConverter = getattr(importlib.import_module(module), attribute)
    return converter


def run(spec: dict[str, Any], emit: Emit) -> None:
    """Download, convert and install as `spec` says; raises JobFailed (or JobCancelled)."""
    files = [RemoteFile(**item) for item in spec["files"]]
    download_dir = Path(spec["download_dir"])
    missing = [f for f in files if not (download_dir / f.path).is_file()]
    share = DOWNLOAD_SHARE if missing else 0.0
    stage = "download-failed"
    try:
        if files:
            emit({"phase": "downloading", "progress": 0.0, "message": f"checking {len(files)} files"})
            fetch_files(files, download_dir, base_url=spec["base_url"], progress=_DownloadReport(files, emit, share))
        stage = "conversion-failed"
        converter = load_converter(spec.get("converter"))

        def converted(step: int, total: int, message: str) -> None:
            fraction = step / total if total else 0.0
            emit({"phase": "converting", "progress": round(share + (1 - share) * fraction, 4), "message": message})

        emit({"phase": "converting", "progress": share, "message": "reading the checkpoints"})
        install_converted_model(
            Path(spec["data_dir"]),
            spec["model_id"],
            gpt=Path(spec["gpt"]),
            sovits=Path(spec["sovits"]),
            hubert_dir=Path(spec["hubert_dir"]),
            sv=Path(spec["sv"]) if spec.get("sv") else None,
            precision=spec["precision"],
            replace=spec["replace"],
            converter=converter,
            progress=converted,
        )
    except FileExistsError as err:
        raise JobFailed("already-installed", str(err)) from err
    except Exception as err:
        if _storage_full(err):
            for remote in files:
                (download_dir / (remote.path + PART_SUFFIX)).unlink(missing_ok=True)
            raise JobFailed(
                "insufficient-storage",
                f"the disk of the data folder is full ({err}); nothing was installed and the partial "
                "downloads were removed: free some space and start again",
            ) from err
        if not isinstance(err, DownloadError):
            _LOGGER.warning("The job failed", exc_info=True)  # the server logs our stderr
        raise JobFailed(stage, str(err) or type(err).__name__) from err


def _watch_parent(stdin: TextIO) -> None:
    """The server holds our stdin open: its end means the server died, so stop as if cancelled."""
    stdin.read()
    os.kill(os.getpid(), signal.SIGTERM)


def _cancel(signum: int, frame: FrameType | None) -> None:
    raise JobCancelled


def main() -> int:
    """The worker's entry point: 0 done, 1 failed (an `error` event says why), 130 cancelled."""
    protocol = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)  # stray prints of libraries go to stderr, not into the event stream
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")

    def emit(event: dict[str, Any]) -> None:
        protocol.write(json.dumps(event) + "\n")

    signal.signal(signal.SIGTERM, _cancel)
    spec = json.loads(sys.stdin.readline())
    os.nice(int(spec.get("niceness", 0)))
    threading.Thread(target=_watch_parent, args=(sys.stdin,), daemon=True).start()
    try:
        run(spec, emit)
    except JobCancelled:
        return 130
    except JobFailed as err:
        emit({"phase": "failed", "code": err.code, "message": str(err)})
        return 1
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB
    emit({"phase": "done", "progress": 1.0, "message": "installed", "peak_rss_mb": round(peak_mb, 1)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
