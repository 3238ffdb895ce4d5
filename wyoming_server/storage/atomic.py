"""Crash-safe folder writes: stage in a temp folder, fsync, swap in with renames; plus file locks.

A pack (or model) folder is replaced in three steps: rename the old one aside (`.old-<name>-*`),
rename the staged one (`.tmp-<name>-*`) in, delete the old one. `recover()` runs before every scan
(when no writer holds the lock) and finishes or undoes whatever a crash interrupted, so a reader
always finds the old folder or the new one, never a half-written one:

| left behind                       | meaning                          | recovery            |
| --------------------------------- | -------------------------------- | ------------------- |
| `.tmp-<name>-*` only, owner dead  | crashed while staging            | delete it           |
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
OWNER_SUFFIX: Final = ".owner"

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
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            if self.exclusive:
                raise
            # A read-only data folder cannot hold a lock file, and nobody can write to it either:
            # reading without the lock is safe.
            return True
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


class StagingFolder:
    """A fresh folder `<parent>/.tmp-<name>-<hex>` to write into, owned by this process while it lives.

    The owner holds `flock` on the sibling file `<folder>.owner`; `recover()` deletes a staging folder
    only when it can take that lock, i.e. when its writer has died (a long conversion or import
    running in another process is left alone). Use as a context manager; it cleans up on exit.
    """

    def __init__(self, parent: Path, name: str) -> None:
        parent.mkdir(parents=True, exist_ok=True)
        self.path = parent / f"{STAGING_PREFIX}{name}-{secrets.token_hex(4)}"
        self._owner = self.path.with_name(self.path.name + OWNER_SUFFIX)
        self._fd: int | None = os.open(self._owner, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        self.path.mkdir()

    def discard(self) -> None:
        """Delete what is left of the folder (nothing after a commit) and drop ownership."""
        shutil.rmtree(self.path, ignore_errors=True)
        self._owner.unlink(missing_ok=True)
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> StagingFolder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.discard()


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


def _is_owned(owner: Path) -> bool:
    """True while some process holds the owner lock of a staging folder."""
    try:
        fd = os.open(owner, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


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
            if entry.endswith(OWNER_SUFFIX) or not entry.startswith((STAGING_PREFIX, DELETING_PREFIX)):
                continue
            owner = parent / (entry + OWNER_SUFFIX)
            if owner.exists() and _is_owned(owner):
                continue  # a live writer (e.g. a long conversion in another process) is using it
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            owner.unlink(missing_ok=True)
            actions.append(f"deleted unfinished {entry}")
        for entry in entries:
            owner = parent / entry
            if (
                entry.endswith(OWNER_SUFFIX)
                and owner.exists()
                and not (parent / entry[: -len(OWNER_SUFFIX)]).exists()
            ) and not _is_owned(owner):
                owner.unlink(missing_ok=True)
        if actions:
            fsync_dir(parent)
            for action in actions:
                _LOGGER.warning("%s: %s", parent, action)
    finally:
        lock.release()
    return actions
