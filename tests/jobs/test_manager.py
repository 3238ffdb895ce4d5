"""The job manager without HTTP: install at start, cleaning at start, giving up, a killed worker, parent death."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

from tests.support.job_converters import calls
from tests.support.jobs import leftovers, make_gate, make_jobs
from tests.support.model_server import TINY_RELEASE, ServedFiles
from wyoming_server.jobs.manager import JobManager
from wyoming_server.jobs.record import Job, JobStore
from wyoming_server.jobs.specs import install_spec

pytestmark = pytest.mark.slow

ModelFiles = tuple[str, ServedFiles]


async def _until_finished(jobs: JobManager, job: Job) -> Job:
    for _ in range(100):
        if job.state in ("succeeded", "failed", "cancelled"):
            return job
        job = await jobs.wait_for_change(job.id, job.revision, 20)
    raise AssertionError(f"the job never finished: {job}")


async def _until(jobs: JobManager, job: Job, message: str) -> Job:
    for _ in range(100):
        if job.message == message:
            return job
        job = await jobs.wait_for_change(job.id, job.revision, 20)
    raise AssertionError(f"the job never said {message!r}: {job}")


async def test_the_model_asked_for_at_start_is_installed_once(model_files: ModelFiles, tmp_path: Path) -> None:
    base_url, _ = model_files
    jobs = make_jobs(tmp_path, base_url, install_at_start="v2pro")
    await jobs.start()
    started = jobs.current
    assert started is not None and started.kind == "install-model" and started.model_id == "v2pro"
    assert (await _until_finished(jobs, started)).state == "succeeded"
    await jobs.stop()

    again = make_jobs(tmp_path, base_url, install_at_start="v2pro")
    await again.start()
    assert again.current is None and len(again.jobs()) == 1, "an installed model is not installed again"
    await again.stop()
    assert len(calls(tmp_path)) == 1


async def test_a_refused_install_at_start_is_recorded_for_the_page(
    model_files: ModelFiles, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base_url, _ = model_files
    monkeypatch.setattr("shutil.disk_usage", lambda path: _Usage(10**9, 10**9, 0))
    jobs = make_jobs(tmp_path, base_url, install_at_start="v2pro")
    await jobs.start()
    (job,) = jobs.jobs()
    assert job.state == "failed" and job.code == "insufficient-storage" and "not enough disk space" in str(job.error)
    await jobs.stop()
    stored = JobStore(tmp_path / "jobs").load_all()
    assert [j.id for j in stored] == [job.id] and stored[0].state == "failed"


class _Usage(NamedTuple):
    total: int
    used: int
    free: int


async def test_start_removes_what_a_crash_left_half_written(model_files: ModelFiles, tmp_path: Path) -> None:
    base_url, _ = model_files
    (tmp_path / "jobs" / ".upload-0123456789ab").mkdir(parents=True)
    (tmp_path / "jobs" / ".upload-0123456789ab" / "gpt.ckpt").write_bytes(b"PK half")
    (tmp_path / "jobs" / "20260101-000000-aaaaaa").mkdir()  # uploads of a job whose record is gone
    (tmp_path / "jobs" / ".20260101-000000-bbbbbb.json.tmp").write_text("{")
    (tmp_path / "jobs" / "20260101-000000-cccccc.json").write_text("not json")
    (tmp_path / "models" / ".tmp-v2pro-0a1b2c3d").mkdir(parents=True)  # a killed conversion's staging
    (tmp_path / "models" / ".tmp-v2pro-0a1b2c3d" / "t2s_decoder.onnx").write_bytes(b"half a graph")
    jobs = make_jobs(tmp_path, base_url)
    await jobs.start()
    assert leftovers(tmp_path) == [] and jobs.jobs() == []
    assert sorted(p.name for p in (tmp_path / "jobs").iterdir()) == []
    await jobs.stop()


async def test_a_job_interrupted_three_times_is_given_up(model_files: ModelFiles, tmp_path: Path) -> None:
    base_url, _ = model_files
    record = Job(id="20260101-000000-dddddd", kind="install-model", model_id="v2pro", state="running", attempts=3)
    JobStore(tmp_path / "jobs").save(record)
    jobs = make_jobs(tmp_path, base_url)
    await jobs.start()
    job = jobs.get(record.id)
    assert job.state == "failed" and job.code == "interrupted" and "interrupted 3 times" in str(job.error)
    assert jobs.current is None and calls(tmp_path) == []
    await jobs.stop()


async def test_a_worker_killed_by_the_system_fails_its_job_and_leaves_nothing(
    model_files: ModelFiles, tmp_path: Path
) -> None:
    base_url, _ = model_files
    make_gate(tmp_path)
    jobs = make_jobs(tmp_path, base_url, "gated")
    await jobs.start()
    job, _ = await jobs.start_install("v2pro")
    await _until(jobs, job, "waiting at the test's gate")
    assert jobs.worker_pid is not None
    os.kill(jobs.worker_pid, signal.SIGKILL)  # what the out-of-memory killer does
    job = await _until_finished(jobs, jobs.get(job.id))
    assert job.state == "failed" and job.code == "killed" and "memory" in str(job.error)
    assert leftovers(tmp_path) == [], "the dead worker's staging folder is recovered at once"
    await jobs.stop()


async def test_the_worker_stops_when_the_server_is_gone(model_files: ModelFiles, tmp_path: Path) -> None:
    base_url, _ = model_files
    make_gate(tmp_path)
    spec = install_spec(TINY_RELEASE, tmp_path, base_url=base_url, precision="int8", replace=False)
    spec["converter"] = "tests.support.job_converters:gated"
    worker = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "wyoming_server.jobs.worker",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )
    assert worker.stdin is not None and worker.stdout is not None
    worker.stdin.write(json.dumps(spec).encode() + b"\n")
    async for line in worker.stdout:
        if json.loads(line).get("message") == "waiting at the test's gate":
            break
    worker.stdin.close()  # as when the server dies: its end of the pipe closes
    assert await asyncio.wait_for(worker.wait(), 60) == 130
    assert leftovers(tmp_path) == [] and not (tmp_path / "models" / "v2pro").exists()
