"""Background-job helpers: a job manager whose worker runs a fake converter against the local model
server, the tiny catalogue it downloads, following a job over HTTP, and the conversion gate."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final

import aiohttp
import pytest

from tests.support.job_converters import GATE_NAME
from tests.support.model_server import TINY_RELEASE, ServedFiles, serve_files, serve_release
from wyoming_server.jobs.manager import JobManager
from wyoming_server.models.catalogue import RemoteFile
from wyoming_server.settings import ModelJobSettings

TINY_HUBERT_FILES: Final = (
    RemoteFile("chinese-hubert-base/config.json"),
    RemoteFile("chinese-hubert-base/preprocessor_config.json"),
    RemoteFile("chinese-hubert-base/pytorch_model.bin", 6),
)
"""HuBERT as the local model server has it (the real file's 188 MB size would not match)."""
FOLLOW_POLLS: Final = 60
"""Long polls (each up to WAIT_S) before `follow` gives up: bounded, never a sleep."""
WAIT_S: Final = 20


@pytest.fixture
def model_files(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, ServedFiles]]:
    """The tiny v2pro release on a local HTTP server, and a catalogue that expects its HuBERT."""
    monkeypatch.setattr("wyoming_server.models.catalogue.HUBERT_FILES", TINY_HUBERT_FILES)
    with serve_files() as (base_url, files):
        serve_release(files)
        yield base_url, files


def make_jobs(data_dir: Path, base_url: str, converter: str = "instant", **options: Any) -> JobManager:
    """A JobManager downloading from `base_url` whose worker converts with `job_converters.<converter>`."""
    return JobManager(
        data_dir,
        ModelJobSettings(base_url=base_url, install_at_start=options.pop("install_at_start", None)),
        catalogue={"v2pro": TINY_RELEASE},
        converter=f"tests.support.job_converters:{converter}",
        **options,
    )


def make_gate(data_dir: Path) -> Path:
    """The FIFO `job_converters.gated` waits on."""
    data_dir.mkdir(parents=True, exist_ok=True)
    gate = data_dir / GATE_NAME
    os.mkfifo(gate)
    return gate


def open_gate(data_dir: Path, word: str = "go") -> None:
    """Let a gated conversion go on (blocking until the worker is at the gate: run it in a thread)."""
    with (data_dir / GATE_NAME).open("w", encoding="utf-8") as gate:
        gate.write(word)


async def follow(
    http: aiohttp.ClientSession, base_url: str, job: dict[str, Any], until: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """The job, asked for with `?wait` (the server answers at each change), once `until(job)` holds."""
    for _ in range(FOLLOW_POLLS):
        if until(job):
            return job
        url = f"{base_url}/api/jobs/{job['id']}?wait={WAIT_S}&after={job['revision']}"
        async with http.get(url) as response:
            assert response.status == 200, await response.text()
            job = await response.json()
    raise AssertionError(f"the job never got there: {job}")


def finished(job: dict[str, Any]) -> bool:
    """A job that has ended, one way or another."""
    return bool(job["state"] in ("succeeded", "failed", "cancelled"))


def at_gate(job: dict[str, Any]) -> bool:
    """A gated conversion that is waiting for the test."""
    return bool(job["message"] == "waiting at the test's gate")


def leftovers(data_dir: Path) -> list[str]:
    """Anything half-written: staging folders, partial downloads, upload folders, temp records."""
    found: list[str] = []
    for path in data_dir.rglob("*"):
        name = path.name
        if name.startswith((".tmp-", ".old-", ".del-", ".upload-")) or name.endswith((".part", ".json.tmp")):
            found.append(str(path.relative_to(data_dir)))
    return sorted(found)
