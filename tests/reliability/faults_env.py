"""Ways to break the server's surroundings: a small disk, permissions that bind root, a failing onnxruntime.

- `small_disk`: a tmpfs of a given size mounted on a folder (needs root: `mount -t tmpfs`); when
  mounting is not possible the caller falls back to `file_size_limit`, an RLIMIT_FSIZE on the
  server process (writes past the limit fail with EFBIG instead of ENOSPC: same code path).
- `drop_dac_override`: a preexec function that removes CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH from
  the child's capability bounding set, so a root-run server is refused a chmod 000 folder like any
  other user (the interpreter lives under /root here, so switching to `nobody` cannot run it).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import resource
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final

_PR_CAPBSET_DROP: Final = 24
_CAP_DAC_OVERRIDE: Final = 1
_CAP_DAC_READ_SEARCH: Final = 2


@contextlib.contextmanager
def small_disk(folder: Path, size_bytes: int) -> Iterator[bool]:
    """Mount a tmpfs of `size_bytes` on `folder` for the block; yields False when mounting is impossible."""
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        yield False
        return
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_bytes}", "tmpfs", str(folder)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        yield False
        return
    try:
        yield True
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False, capture_output=True)


def fill_disk(folder: Path) -> Path:
    """Write a filler file in `folder` until the file system is full; returns it (delete it to free space)."""
    filler = folder / "filler.bin"
    block = b"\0" * 4096
    with filler.open("wb", buffering=0) as f:
        try:
            while True:
                f.write(block)
        except OSError as err:
            if err.errno != errno.ENOSPC:
                raise
    return filler


def file_size_limit(limit_bytes: int) -> Callable[[], None]:
    """preexec_fn: no file may grow past `limit_bytes` (writes fail with EFBIG rather than killing the process)."""

    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # ignored dispositions survive exec
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    return apply


def drop_dac_override() -> None:
    """preexec_fn: file permissions bind this process even as root (no-op for other users)."""
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH):
        if libc.prctl(_PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")
