"""A background job's record: what it does, how far it got and how it ended, kept as JSON in `<data>/jobs`.

Every change is written with a rename (write `.<id>.json.tmp`, rename over `<id>.json`), so a
browser reload, a Home Assistant poll or a server restart finds the last state whole. A job's
uploaded checkpoints live in the folder `<data>/jobs/<id>/` until the job ends.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import secrets
import shutil
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Final

from ..storage.atomic import fsync_dir

_LOGGER = logging.getLogger(__name__)

INSTALL: Final = "install-model"
IMPORT: Final = "import-fine-tune"
ACTIVE_STATES: Final = ("queued", "running")
FINISHED_STATES: Final = ("succeeded", "failed", "cancelled")
KEEP_FINISHED: Final = 20
"""Finished records kept for the page's history; older ones are deleted at start."""
UPLOAD_PREFIX: Final = ".upload-"
"""`<data>/jobs/.upload-<hex>/`: an upload being received (deleted at start if one was cut off)."""


def utc_now() -> str:
    """ISO 8601 UTC time to the second."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_job_id() -> str:
    """A unique id that sorts by creation time and is a slug (safe in a path and a URL)."""
    return dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)


@dataclass
class Job:
    """One install or import; `public()` is the `Job` object of docs/http-api.md."""

    id: str
    kind: str
    model_id: str
    state: str = "queued"
    phase: str = "waiting"
    """waiting, checking, downloading, converting, enrolling, done."""
    progress: float = 0.0
    """0 to 1 over the whole job."""
    message: str = ""
    error: str | None = None
    code: str | None = None
    """Machine code of the failure (e.g. insufficient-storage, download-failed, conversion-failed)."""
    created: str = field(default_factory=utc_now)
    updated: str = field(default_factory=utc_now)
    revision: int = 0
    """Bumped at every change: a client waits for a revision other than the one it has."""
    attempts: int = 0
    """How many times a worker was started for it (a restart resumes an unfinished job)."""
    download_bytes: int | None = None
    disk_bytes: int | None = None
    """The disk space the job said it needs before it started."""
    voice_id: str | None = None
    report: dict[str, Any] | None = None
    """The enrollment report of an import that also enrolled a voice."""
    peak_rss_mb: float | None = None
    """Peak resident memory of the worker process."""
    params: dict[str, Any] = field(default_factory=dict)
    """What the job needs to run or resume (never sent to clients)."""

    @property
    def active(self) -> bool:
        """Queued or running."""
        return self.state in ACTIVE_STATES

    def public(self) -> dict[str, Any]:
        """The JSON clients see."""
        data = asdict(self)
        for private in ("params", "attempts"):
            data.pop(private)
        return data

    def update(self, **changes: Any) -> None:
        """Change fields and bump the revision."""
        for key, value in changes.items():
            setattr(self, key, value)
        self.revision += 1
        self.updated = utc_now()

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Job:
        """Parse a stored record (unknown keys ignored, so older servers' records still load)."""
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})


class JobStore:
    """The records and upload folders in `<data>/jobs`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def files_dir(self, job_id: str) -> Path:
        """Where a job's uploaded checkpoints are kept while it exists."""
        return self.folder / job_id

    def new_upload_dir(self) -> Path:
        """A fresh folder to stream an upload into (renamed to the job's folder once it is complete)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{UPLOAD_PREFIX}{secrets.token_hex(6)}"
        path.mkdir()
        return path

    def save(self, job: Job, *, durable: bool = False) -> None:
        """Write the record whole; `durable` also fsyncs it (for a job's start and end)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        temp = self.folder / f".{job.id}.json.tmp"
        with temp.open("w", encoding="utf-8") as f:
            json.dump(asdict(job), f, ensure_ascii=False)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        temp.replace(self.folder / f"{job.id}.json")
        if durable:
            fsync_dir(self.folder)

    def load_all(self) -> list[Job]:
        """Every readable record, oldest first (an unreadable one is logged and deleted)."""
        jobs: list[Job] = []
        if not self.folder.is_dir():
            return jobs
        for path in sorted(self.folder.glob("*.json")):
            try:
                jobs.append(Job.from_json(json.loads(path.read_text(encoding="utf-8"))))
            except (OSError, ValueError, TypeError) as err:
                _LOGGER.warning("Deleting the unreadable job record %s: %s", path.name, err)
                path.unlink(missing_ok=True)
        return sorted(jobs, key=lambda job: (job.created, job.id))

    def remove_files(self, job_id: str) -> None:
        """Delete a job's uploads (at its end: checkpoints are large)."""
        shutil.rmtree(self.files_dir(job_id), ignore_errors=True)

    def clean(self, jobs: list[Job]) -> list[Job]:
        """At start: drop cut-off uploads, folders of ended jobs and old records; returns the jobs kept."""
        keep_ids = {job.id for job in jobs if job.active}
        finished = [job for job in jobs if not job.active]
        for job in finished[:-KEEP_FINISHED] if len(finished) > KEEP_FINISHED else []:
            (self.folder / f"{job.id}.json").unlink(missing_ok=True)
        kept = [job for job in jobs if job.active or job in finished[-KEEP_FINISHED:]]
        if self.folder.is_dir():
            for entry in self.folder.iterdir():
                leftover = entry.is_dir() and entry.name not in keep_ids
                if leftover or entry.name.endswith(".json.tmp"):
                    _LOGGER.info("Removing the leftover %s from %s", entry.name, self.folder)
                    with contextlib.suppress(OSError):
                        shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
        return kept
