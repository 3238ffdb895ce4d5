"""`/api/models` and `/api/jobs`: install the cloning model, import a fine-tune, follow and cancel the job,
remove a model.

Everything a household without a shell needs to get a model: the page, Home Assistant and scripts
all use these routes. Jobs run in the background (`wyoming_server/jobs`); a client follows one by
asking for its status, optionally waiting (`?wait=<s>&after=<revision>`) until it changes.
"""

from __future__ import annotations

import logging
import math
import shutil
from typing import Any, Final

from aiohttp import web

from ...jobs.manager import JobBusy, JobManager, JobRefused
from ...jobs.plan import free_bytes
from ...models.installed import installed_models, is_installed
from ...models.remove import ModelInUseError, ModelNotInstalledError, ModelRemoveError, remove_model
from ...voices.quality import ClipTooLongError, UnreadableAudioError, check_clip
from .context import context_of, dump_json
from .errors import ApiError
from .fine_tune_form import read_fine_tune_form
from .uploads import check_slug, read_json

_LOGGER = logging.getLogger(__name__)

MAX_WAIT_S: Final = 60.0
"""Longest a status request waits for a change (a client asks again after it)."""


def _json(value: Any, status: int = 200) -> web.Response:
    return web.json_response(value, status=status, dumps=dump_json)


def _manager(request: web.Request) -> JobManager:
    jobs = context_of(request).jobs
    if jobs is None:
        raise ApiError(503, "unavailable", "this server runs without background jobs")
    return jobs


def _refusal(err: JobBusy | JobRefused) -> ApiError:
    if isinstance(err, JobBusy):
        return ApiError(409, "job-running", str(err), job=err.job.public())
    return ApiError(err.status, err.code, str(err), **err.extra)


async def list_models(request: web.Request) -> web.Response:
    """GET /api/models"""
    jobs = _manager(request)
    installed = await context_of(request).blocking(lambda: installed_models(jobs.data_dir))
    ids = {model["id"] for model in installed}
    latest = jobs.current or next(iter(jobs.jobs()), None)
    return _json(
        {
            "installed": installed,
            "catalogue": [
                {"id": release.id, "version": release.version, "installed": release.id in ids}
                for release in jobs.catalogue.values()
            ],
            "job": latest.public() if latest is not None else None,
        }
    )


async def model_plan(request: web.Request) -> web.Response:
    """GET /api/models/{model_id}/plan: what installing it downloads, and the disk space it needs."""
    jobs = _manager(request)
    try:
        release = jobs.release(check_slug(request.match_info["model_id"], "the model id"))
    except JobRefused as err:
        raise _refusal(err) from None
    context = context_of(request)
    plan = await context.blocking(lambda: jobs.plan_install(release))
    installed = await context.blocking(lambda: is_installed(jobs.data_dir, release.id))
    return _json({"model": release.id, "installed": installed, **plan.to_json()})


async def install_model(request: web.Request) -> web.Response:
    """POST /api/models/install {"model": "v2pro", "replace": false}"""
    jobs = _manager(request)
    body = await read_json(request, context_of(request).limits.http_body_timeout_s)
    if not isinstance(body, dict) or not isinstance(body.get("model"), str):
        raise ApiError(400, "bad-request", "send {\"model\": \"v2pro\"} (or v2, v2proplus)")
    replace = body.get("replace", False)
    if not isinstance(replace, bool):
        raise ApiError(400, "bad-request", "'replace' must be true or false")
    try:
        job, created = await jobs.start_install(check_slug(body["model"], "'model'"), replace=replace)
    except (JobBusy, JobRefused) as err:
        raise _refusal(err) from None
    return _json(job.public(), status=202 if created else 200)


async def remove_installed_model(request: web.Request) -> web.Response:
    """DELETE /api/models/{model_id}: the model folder (and a shared HuBERT no other model needs)."""
    jobs = _manager(request)
    model_id = check_slug(request.match_info["model_id"], "the model id")
    if jobs.current is not None:  # it may be converting this very model
        raise _refusal(JobBusy(jobs.current))
    try:
        removed = await context_of(request).blocking(lambda: remove_model(jobs.data_dir, model_id))
    except ModelNotInstalledError:
        raise ApiError(404, "unknown-model", f"no model {model_id!r} is installed on this server") from None
    except ModelInUseError as err:
        raise ApiError(409, "model-in-use", str(err), voices=err.voices) from None
    except ModelRemoveError as err:
        raise ApiError(500, "storage-error", str(err)) from None
    _LOGGER.info("Removed model %s through the admin API (%d bytes)", model_id, removed.freed_bytes)
    return _json({"model": model_id, "freed_bytes": removed.freed_bytes, "shared_removed": removed.shared_removed})


async def import_fine_tune(request: web.Request) -> web.Response:
    """POST /api/models/import (multipart: gpt, sovits, model_id?, replace?, and name/audio/... to enroll)"""
    jobs = _manager(request)
    context = context_of(request)
    if jobs.current is not None:
        raise _refusal(JobBusy(jobs.current))
    if jobs.upload_lock.locked():
        raise ApiError(409, "job-running", "another fine-tune is being uploaded; wait for it")
    limits = context.limits
    async with jobs.upload_lock:
        if request.content_length is not None:
            free = await context.blocking(lambda: free_bytes(jobs.data_dir))
            if request.content_length > free:
                raise ApiError(
                    507, "insufficient-storage", f"the upload needs {request.content_length / 1e9:.2f} GB and the "
                    f"data folder's disk has {free / 1e9:.2f} GB free",
                )
        upload_dir = await context.blocking(jobs.store.new_upload_dir)
        try:
            form = await read_fine_tune_form(
                request,
                upload_dir,
                max_checkpoint_bytes=limits.max_fine_tune_bytes,
                max_clip_bytes=limits.max_upload_bytes,
                idle_timeout_s=limits.http_body_timeout_s,
            )
            clip = form.clip
            if clip is not None:
                try:
                    await context.blocking(lambda: check_clip(clip, limits.max_upload_audio_s))
                except ClipTooLongError as err:
                    raise ApiError(413, "too-large", str(err)) from None
                except UnreadableAudioError as err:
                    raise ApiError(415, "unsupported-media", str(err)) from None
            job = await jobs.start_import(
                upload_dir, form.model_id, replace=form.replace, enrollment=form.enrollment
            )
        except (JobBusy, JobRefused) as err:
            raise _refusal(err) from None
        finally:  # runs on failure and on a client that hung up; after a start the folder is the job's
            shutil.rmtree(upload_dir, ignore_errors=True)
    _LOGGER.info("Fine-tune upload accepted as job %s (model %s)", job.id, job.model_id)
    return _json(job.public(), status=202)


async def list_jobs(request: web.Request) -> web.Response:
    """GET /api/jobs"""
    jobs = _manager(request)
    current = jobs.current
    return _json({"jobs": [job.public() for job in jobs.jobs()], "current": current.id if current else None})


def _query_number(request: web.Request, key: str, default: float, low: float, high: float) -> float:
    raw = request.query.get(key)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ApiError(400, "bad-request", f"'{key}' must be a number") from None
    if not math.isfinite(value) or not low <= value <= high:
        raise ApiError(400, "bad-request", f"'{key}' must be between {low:g} and {high:g}")
    return value


async def get_job(request: web.Request) -> web.Response:
    """GET /api/jobs/{job_id}?wait=<s>&after=<revision>: the job, once its revision is not `after`."""
    jobs = _manager(request)
    job_id = check_slug(request.match_info["job_id"], "the job id")
    wait_s = _query_number(request, "wait", 0.0, 0.0, MAX_WAIT_S)
    after = _query_number(request, "after", -1, -1, 2**53)
    try:
        job = await jobs.wait_for_change(job_id, int(after), wait_s) if wait_s else jobs.get(job_id)
    except KeyError:
        raise ApiError(404, "unknown-job", f"no job {job_id!r} on this server") from None
    return _json(job.public())


async def cancel_job(request: web.Request) -> web.Response:
    """POST /api/jobs/{job_id}/cancel"""
    jobs = _manager(request)
    job_id = check_slug(request.match_info["job_id"], "the job id")
    try:
        job = await jobs.cancel(job_id)
    except KeyError:
        raise ApiError(404, "unknown-job", f"no job {job_id!r} on this server") from None
    return _json(job.public())


def add_routes(app: web.Application) -> None:
    """Register the model and job routes."""
    app.router.add_get("/api/models", list_models)
    app.router.add_get("/api/models/{model_id}/plan", model_plan)
    app.router.add_delete("/api/models/{model_id}", remove_installed_model)
    app.router.add_post("/api/models/install", install_model)
    app.router.add_post("/api/models/import", import_fine_tune)
    app.router.add_get("/api/jobs", list_jobs)
    app.router.add_get("/api/jobs/{job_id}", get_job)
    app.router.add_post("/api/jobs/{job_id}/cancel", cancel_job)
