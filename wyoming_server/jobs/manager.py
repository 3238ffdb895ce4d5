"""`JobManager`: the server's one background job at a time, its progress, cancellation and resumption.

A job is refused (not queued) while another runs, unless it is the same install asked for again,
which answers with the running job. Disk space is checked before a job starts. Progress arrives
from the worker process as events; each change bumps the job's revision, is written to its
record (on one writer thread, in order, off the event loop) and wakes clients waiting for it.
At start the manager cleans leftovers (cut-off uploads, staging folders of a killed conversion)
and resumes a job the last run left unfinished; at stop it cancels the worker and leaves the
record to be resumed.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import copy
import functools
import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final, TypeVar

from ..models.catalogue import CATALOGUE, DEFAULT_BASE_URL, ModelRelease
from ..models.installed import is_installed
from ..settings import ModelJobSettings
from ..storage import atomic
from ..storage.layout import DOWNLOADS_SUBDIR, JOBS_SUBDIR, MODELS_SUBDIR
from .child import WORKER_COMMAND, WorkerExit, WorkerProcess
from .enrollment import Enroll, enroll_with_model
from .plan import RemoteSizes, SpacePlan, plan_space
from .record import IMPORT, INSTALL, Job, JobStore, new_job_id
from .specs import (
    CLIP_UPLOAD,
    GPT_UPLOAD,
    SOVITS_UPLOAD,
    import_files,
    import_spec,
    install_files,
    install_spec,
    sovits_needs_sv,
)

_LOGGER = logging.getLogger(__name__)
_T = TypeVar("_T")

MAX_ATTEMPTS: Final = 3
"""A job interrupted by this many server stops or crashes is given up (it may be what kills the server)."""

class JobBusy(Exception):
    """Another job is running; `job` is that one."""

    def __init__(self, job: Job) -> None:
        super().__init__(f"a {job.kind} job for {job.model_id!r} is running ({job.message or job.phase}); "
                         "wait for it to finish or cancel it")
        self.job = job


class JobRefused(Exception):
    """The job cannot start: an HTTP status, a machine code, a message and extra JSON fields."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.extra = extra


class JobManager:
    """Starts, follows, cancels and resumes background jobs for one data folder."""

    def __init__(
        self,
        data_dir: Path,
        settings: ModelJobSettings | None = None,
        *,
        enroll: Enroll | None = None,
        catalogue: Mapping[str, ModelRelease] = CATALOGUE,
        converter: str | None = None,
        worker_command: Sequence[str] = WORKER_COMMAND,
    ) -> None:
        """`converter` ("module:attribute") and `worker_command` let tests run a fake converter."""
        self.data_dir = data_dir
        self.settings = settings or ModelJobSettings()
        self.base_url = self.settings.base_url or DEFAULT_BASE_URL
        self.catalogue = catalogue
        self.store = JobStore(data_dir / JOBS_SUBDIR)
        self.sizes = RemoteSizes(self.base_url)
        self.enroll = enroll
        """Enrolls the voice an import was given a clip for (the server sets its library's)."""
        self._converter = converter
        self._worker_command = tuple(worker_command)
        self._jobs: dict[str, Job] = {}
        self._current: Job | None = None
        self._worker: WorkerProcess | None = None
        self._task: asyncio.Task[None] | None = None
        self._cancelled: set[str] = set()
        self._stopping = False
        self._changed = asyncio.Event()
        self._starting = asyncio.Lock()
        self.upload_lock = asyncio.Lock()
        """Held while a fine-tune upload streams in: one at a time."""
        self._writer = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="job-record")

    # ----- reading -----------------------------------------------------------------------------

    @property
    def current(self) -> Job | None:
        """The queued or running job, if any."""
        return self._current

    @property
    def worker_pid(self) -> int | None:
        """The process id of the running worker, if one runs."""
        return self._worker.pid if self._worker is not None else None

    def jobs(self) -> list[Job]:
        """Every known job, newest first."""
        return sorted(self._jobs.values(), key=lambda job: (job.created, job.id), reverse=True)

    def get(self, job_id: str) -> Job:
        """The job with that id (KeyError if none)."""
        return self._jobs[job_id]

    async def wait_for_change(self, job_id: str, after_revision: int, timeout_s: float) -> Job:
        """The job as soon as its revision differs from `after_revision`, or as it is after `timeout_s`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            job = self.get(job_id)
            remaining = deadline - loop.time()
            if job.revision != after_revision or remaining <= 0:
                return job
            changed = self._changed
            try:
                await asyncio.wait_for(changed.wait(), remaining)
            except TimeoutError:
                return self.get(job_id)

    def release(self, model_id: str) -> ModelRelease:
        """The catalogue entry (JobRefused 400 for an unknown one)."""
        release = self.catalogue.get(model_id.lower())
        if release is None:
            raise JobRefused(
                400, "unknown-model", f"unknown model {model_id!r}; choose one of {', '.join(self.catalogue)}"
            )
        return release

    def plan_install(self, release: ModelRelease) -> SpacePlan:
        """Downloads and disk space of installing `release` (blocking: may ask the download server)."""
        return plan_space(install_files(release), self.data_dir / DOWNLOADS_SUBDIR, self.sizes, data_dir=self.data_dir)

    def plan_import(self, upload_dir: Path, needs_sv: bool) -> SpacePlan:
        """Downloads and disk space of converting the fine-tune in `upload_dir` (blocking)."""
        local = sum(p.stat().st_size for p in (upload_dir / GPT_UPLOAD, upload_dir / SOVITS_UPLOAD))
        return plan_space(
            import_files(needs_sv), self.data_dir / DOWNLOADS_SUBDIR, self.sizes, local_bytes=local,
            data_dir=self.data_dir,
        )

    # ----- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Clean leftovers, resume an unfinished job, or install the model asked for at start."""
        jobs = await self._blocking(self._load_and_clean)
        self._jobs = {job.id: job for job in jobs}
        unfinished = [job for job in jobs if job.active]
        for stale in unfinished[:-1]:  # only one can have been running; older ones are history
            await self._finish(stale, "failed", error="interrupted and superseded by a later job", code="interrupted")
        if unfinished:
            await self._resume(unfinished[-1])
        elif self.settings.install_at_start:
            await self._install_at_start(self.settings.install_at_start)

    def _load_and_clean(self) -> list[Job]:
        for folder in (self.data_dir / MODELS_SUBDIR, self.data_dir / DOWNLOADS_SUBDIR):
            atomic.recover(folder)
        return self.store.clean(self.store.load_all())

    async def _resume(self, job: Job) -> None:
        if job.attempts >= MAX_ATTEMPTS:
            given_up = f"interrupted {job.attempts} times; start it again"
            await self._finish(job, "failed", error=given_up, code="interrupted")
            return
        if job.kind == IMPORT and not (self.store.files_dir(job.id) / SOVITS_UPLOAD).is_file():
            gone = "the uploaded checkpoints are gone; upload them again"
            await self._finish(job, "failed", error=gone, code="interrupted")
            return
        _LOGGER.info("Resuming job %s (%s %s) after a restart", job.id, job.kind, job.model_id)
        job.update(message="resuming after a restart")
        await self._launch(job)

    async def _install_at_start(self, model_id: str) -> None:
        try:
            if await self._blocking(lambda: is_installed(self.data_dir, self.release(model_id).id)):
                return
            await self.start_install(model_id)
        except (JobRefused, JobBusy) as err:
            _LOGGER.error("Cannot install model %s at start: %s", model_id, err)
            failed = Job(id=new_job_id(), kind=INSTALL, model_id=model_id)
            self._jobs[failed.id] = failed
            await self._finish(failed, "failed", error=str(err), code=getattr(err, "code", "busy"))

    async def stop(self) -> None:
        """Stop the worker (its job resumes at the next start) and flush the records."""
        self._stopping = True
        worker, task = self._worker, self._task
        if worker is not None:
            await worker.cancel()
        if task is not None:
            await asyncio.gather(task, return_exceptions=True)
        await asyncio.get_running_loop().run_in_executor(None, functools.partial(self._writer.shutdown, wait=True))

    # ----- starting and cancelling ---------------------------------------------------------------

    async def start_install(self, model_id: str, *, replace: bool = False) -> tuple[Job, bool]:
        """Start installing a catalogue model; (job, True), or (the running install of it, False)."""
        release = self.release(model_id)
        async with self._starting:
            current = self._current
            if current is not None:
                if current.kind == INSTALL and current.model_id == release.id:
                    return current, False
                raise JobBusy(current)
            if not replace and await self._blocking(lambda: is_installed(self.data_dir, release.id)):
                raise JobRefused(
                    409, "already-installed", f"model {release.id!r} is already installed (replace it to convert again)"
                )
            plan = await self._blocking(lambda: self.plan_install(release))
            self._check_space(plan)
            job = Job(id=new_job_id(), kind=INSTALL, model_id=release.id, params={"replace": replace})
            job.update(download_bytes=plan.download_bytes, disk_bytes=plan.disk_bytes, message="starting")
            await self._launch(job)
            return job, True

    async def start_import(
        self,
        upload_dir: Path,
        model_id: str,
        *,
        replace: bool = False,
        enrollment: dict[str, Any] | None = None,
    ) -> Job:
        """Convert the checkpoints in `upload_dir` (then optionally enroll a voice); the folder becomes the job's."""
        async with self._starting:
            if self._current is not None:
                raise JobBusy(self._current)
            if model_id in self.catalogue:
                raise JobRefused(400, "bad-request", f"{model_id!r} is the name of an official model; choose another")
            if not replace and await self._blocking(lambda: is_installed(self.data_dir, model_id)):
                message = f"a model {model_id!r} exists (replace it, or choose another name)"
                raise JobRefused(409, "already-installed", message)
            needs_sv = await self._blocking(lambda: sovits_needs_sv(upload_dir / SOVITS_UPLOAD))
            plan = await self._blocking(lambda: self.plan_import(upload_dir, needs_sv))
            self._check_space(plan)
            job = Job(id=new_job_id(), kind=IMPORT, model_id=model_id)
            job.params = {"replace": replace, "enroll": enrollment}
            job.update(download_bytes=plan.download_bytes, disk_bytes=plan.disk_bytes, message="starting")
            await self._blocking(lambda: upload_dir.rename(self.store.files_dir(job.id)))
            await self._launch(job)
            return job

    @staticmethod
    def _check_space(plan: SpacePlan) -> None:
        if plan.enough_space is False:
            raise JobRefused(507, "insufficient-storage", plan.shortfall(), plan=plan.to_json())

    async def cancel(self, job_id: str) -> Job:
        """Cancel a queued or running job (a finished one is returned as it is)."""
        job = self.get(job_id)
        if not job.active:
            return job
        self._cancelled.add(job_id)
        job.update(message="cancelling")
        self._changed_now(job)
        if self._worker is not None and self._current is job:
            await self._worker.cancel()
        return job

    # ----- running -----------------------------------------------------------------------------

    async def _launch(self, job: Job) -> None:
        if job.kind == INSTALL:
            release = self.release(job.model_id)
            spec = install_spec(
                release, self.data_dir, base_url=self.base_url, precision=self.settings.precision,
                replace=bool(job.params.get("replace")),
            )
        else:
            files_dir = self.store.files_dir(job.id)
            spec = await self._blocking(
                lambda: import_spec(
                    job.model_id, files_dir, self.data_dir, base_url=self.base_url,
                    precision=self.settings.precision, replace=bool(job.params.get("replace")),
                )
            )
        spec["converter"] = self._converter
        self._jobs[job.id] = job
        self._current = job
        job.update(state="running", attempts=job.attempts + 1)
        self._save(job, durable=True)
        self._worker = WorkerProcess(
            spec, functools.partial(self._on_event, job), command=self._worker_command, name=f"job {job.id}"
        )
        self._task = asyncio.create_task(self._run(job, self._worker))

    def _on_event(self, job: Job, event: dict[str, Any]) -> None:
        if event.get("phase") == "failed":
            return  # the exit decides
        changes = {key: event[key] for key in ("phase", "progress", "message", "peak_rss_mb") if key in event}
        if event.get("phase") == "done":
            changes.pop("phase")
        job.update(**changes)
        self._save(job)
        self._changed_now(job)

    async def _run(self, job: Job, worker: WorkerProcess) -> None:
        try:
            result = await worker.run()
        except OSError as err:  # the worker could not even start
            result = WorkerExit(1, {"code": "internal", "message": f"cannot start the worker: {err}"}, ())
        self._worker = None
        if job.id in self._cancelled:
            await self._blocking(lambda: atomic.recover(self.data_dir / MODELS_SUBDIR))
            await self._finish(job, "cancelled", message="cancelled; partial downloads are kept to resume later")
        elif self._stopping:
            job.update(message="interrupted by a server stop; resumes when the server starts again")
            self._save(job, durable=True)
            self._current = None
        elif result.returncode == 0:
            await self._succeeded(job)
        else:
            await self._blocking(lambda: atomic.recover(self.data_dir / MODELS_SUBDIR))
            await self._finish(job, "failed", **result.failure_fields())

    async def _succeeded(self, job: Job) -> None:
        enrollment = job.params.get("enroll")
        enroll = self.enroll
        if job.kind != IMPORT or not enrollment or enroll is None:
            await self._finish(job, "succeeded", message=f"model {job.model_id} is installed")
            return
        job.update(phase="enrolling", message="enrolling the voice with the new model")
        self._changed_now(job)
        clip = self.store.files_dir(job.id) / CLIP_UPLOAD
        state, changes = await self._blocking(lambda: enroll_with_model(job.model_id, enrollment, clip, enroll))
        await self._finish(job, state, **changes)

    async def _finish(self, job: Job, state: str, **changes: Any) -> None:
        """End the job. Clients see the end only once its record (and the uploads' removal) is on disk."""
        final = copy.deepcopy(job)
        final.update(state=state, phase="done", **changes)
        if state == "succeeded":
            final.update(progress=1.0)
        self._writer.submit(self.store.remove_files, job.id)
        await asyncio.wrap_future(self._save(final, durable=True))
        self._jobs[job.id] = final
        self._cancelled.discard(job.id)
        if self._current is job:
            self._current = None
        self._changed_now(final)
        _LOGGER.info("Job %s (%s %s) %s: %s", job.id, job.kind, job.model_id, state, final.error or final.message)

    def _save(self, job: Job, *, durable: bool = False) -> concurrent.futures.Future[None]:
        return self._writer.submit(self.store.save, copy.deepcopy(job), durable=durable)

    def _changed_now(self, job: Job) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    @staticmethod
    async def _blocking(func: Callable[[], _T]) -> _T:
        return await asyncio.get_running_loop().run_in_executor(None, func)
