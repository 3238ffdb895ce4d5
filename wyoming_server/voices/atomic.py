"""Crash-safe folder writes: stage in a temp folder, fsync, swap in with renames; plus file locks.

A pack (or model) folder is replaced in three steps: rename the old one aside (`.old-<name>-*`),
rename the staged one (`.tmp-<name>-*`) in, delete the old one. `recover()` runs before every scan
(when no writer holds the lock) and finishes or undoes whatever a crash interrupted, so a reader
always finds the old folder or the new one, never a half-written one:

| left behind                       | meaning                          | recovery            |
| --------------------------------- | -------------------------------- | ------------------- |
| `.tmp-<name>-*` only              | crashed while staging            | delete it           |
| `.old-<name>-*`, no `<name>`      | crashed between the two renames  | rename old back     |
| `.old-<name>-*` and `<name>`      | crashed before deleting the old  | delete the old one  |
| `.del-<name>-*`                   | crashed while removing           | delete it           |

Locks are `flock` on `<parent>/.lock`: shared for readers, exclusive for writers. Each `FolderLock`
opens its own file descriptor, so it excludes other threads of this process as well as other
processes, and the kernel drops it when a process dies (no stale locks after kill -9).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Final

_LOGGER = logging.getLogger(__name__)

LOCK_FILE: Final = ".lock"
STAGING_PREFIX: Final = ".tmp-"
ASIDE_PREFIX: Final = ".old-"
DELETING_PREFIX: Final = ".del-"

crash_hook: Callable[[str], None] | None = None
"""Test seam: called with a step name at every point where a crash could interrupt a write."""


def _checkpoint(step: str) -> None:
    if crash_hook is not None:
        crash_hook(step)


def fsync_dir(path: Path) -> None:
    """Make a folder's entries (new names, renames) durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_durably(path: Path, data: bytes) -> None:
    """Write a new file and fsync it (the caller fsyncs the folder)."""
    with path.open("xb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


class FolderLock:
    """`flock` on `<folder>/.lock`; use as `with FolderLock(folder, exclusive=True): ...`."""

    def __init__(self, folder: Path, *, exclusive: bool) -> None:
        self.folder = folder
        self.exclusive = exclusive
        self._fd: int | None = None

    def acquire(self, blocking: bool = True) -> bool:
        """Take the lock; with `blocking=False` returns False instead of waiting."""
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        flags = (fcntl.LOCK_EX if self.exclusive else fcntl.LOCK_SH) | (0 if blocking else fcntl.LOCK_NB)
        try:
            fcntl.flock(fd, flags)
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return True

    def release(self) -> None:
        """Drop the lock (closing the descriptor releases it)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> FolderLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def stage_folder(parent: Path, name: str) -> Path:
    """A fresh, empty staging folder next to where `<parent>/<name>` will live."""
    parent.mkdir(parents=True, exist_ok=True)
    staged = parent / f"{STAGING_PREFIX}{name}-{secrets.token_hex(4)}"
    staged.mkdir()
    return staged


def commit_folder(staged: Path, target: Path) -> None:
    """Swap a fully written staging folder in as `target` (call with the exclusive lock held).

    Every file in `staged` must already be fsynced; this fsyncs the folders and does the renames.
    """
    parent = target.parent
    fsync_dir(staged)
    _checkpoint("staged")
    aside: Path | None = None
    if target.exists():
        aside = parent / f"{ASIDE_PREFIX}{target.name}-{secrets.token_hex(4)}"
        os.rename(target, aside)
        _checkpoint("old-moved-aside")
    os.rename(staged, target)
    fsync_dir(parent)
    _checkpoint("new-renamed-in")
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)
        _checkpoint("old-deleted")


def remove_folder(target: Path) -> None:
    """Delete `target` so that a crash never leaves it half-deleted (call with the exclusive lock held)."""
    doomed = target.parent / f"{DELETING_PREFIX}{target.name}-{secrets.token_hex(4)}"
    os.rename(target, doomed)
    fsync_dir(target.parent)
    _checkpoint("renamed-for-deletion")
    shutil.rmtree(doomed, ignore_errors=True)


def link_or_copy(source: Path, destination: Path) -> None:
    """Put an unchanged file into a staging folder: a hard link when the file system allows, else a copy.

    Pack files are never modified in place (a change is always a new folder), so sharing the inode
    with the old folder is safe.
    """
    try:
        os.link(source, destination)
    except OSError:
        shutil.copyfile(source, destination)
        with destination.open("rb") as f:
            os.fsync(f.fileno())


def discard_staging(staged: Path) -> None:
    """Delete a staging folder after a failed write (disk full, bad input)."""
    shutil.rmtree(staged, ignore_errors=True)


def _target_name(entry: str, prefix: str) -> str:
    """`<name>` of `<prefix><name>-<8 hex>`."""
    return entry[len(prefix) :].rsplit("-", 1)[0]


def is_internal(entry: str) -> bool:
    """True for the lock file and staging/aside/deleting folders (scans ignore them)."""
    return entry.startswith(".")


def recover(parent: Path) -> list[str]:
    """Finish or undo interrupted writes in `parent` (see the module docstring); returns what it did.

    Does nothing (and returns []) while another thread or process holds the lock, because its
    staging folders are not leftovers.
    """
    if not parent.is_dir():
        return []
    lock = FolderLock(parent, exclusive=True)
    if not lock.acquire(blocking=False):
        return []
    actions: list[str] = []
    entries: list[str] = []
    try:
        with contextlib.suppress(FileNotFoundError):
            entries = sorted(os.listdir(parent))
        for entry in entries:
            path = parent / entry
            if entry.startswith(ASIDE_PREFIX):
                target = parent / _target_name(entry, ASIDE_PREFIX)
                if target.exists():
                    shutil.rmtree(path, ignore_errors=True)
                    actions.append(f"deleted the replaced copy {entry}")
                else:
                    os.rename(path, target)
                    actions.append(f"restored {target.name} from {entry} (its replacement never arrived)")
        for entry in entries:
            path = parent / entry
            if entry.startswith((STAGING_PREFIX, DELETING_PREFIX)) and path.exists():
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
                actions.append(f"deleted unfinished {entry}")
        if actions:
            fsync_dir(parent)
            for action in actions:
                _LOGGER.warning("%s: %s", parent, action)
    finally:
        lock.release()
    return actions
