"""Installing the cloning model over the admin API: the job's whole life over a real socket.

The worker is a real child process; it downloads from a local HTTP server and converts with a fake
converter (`tests/support/job_converters.py`). Waits are the API's own long polls and a FIFO the
fake conversion blocks on; nothing sleeps.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, NamedTuple

import aiohttp
import pytest
from wyoming.tts import Synthesize, SynthesizeVoice

from tests.support.admin_client import enrollment_form
from tests.support.fakes import expected_pcm
from tests.support.job_converters import calls
from tests.support.jobs import at_gate, finished, follow, leftovers, make_gate, make_jobs, model_files, open_gate
from tests.support.model_server import BLOB, ServedFiles
from tests.support.servers import RunningServer, StartServer
from tests.support.wire import read_reply

__all__ = ["model_files"]

pytestmark = pytest.mark.slow

ModelFiles = tuple[str, ServedFiles]


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP client."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        yield session


def _auth(server: RunningServer) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.token}"}


def _data(server: RunningServer) -> Path:
    return server.app.settings.data_dir


def _fine_tune(gpt: bytes = b"PK gpt", sovits: bytes = b"05 sovits", **fields: str) -> aiohttp.FormData:
    form = aiohttp.FormData(default_to_multipart=True)
    for key, value in fields.items():
        form.add_field(key, value)
    form.add_field("gpt", gpt, filename="dad-e15.ckpt", content_type="application/octet-stream")
    form.add_field("sovits", sovits, filename="dad_e8.pth", content_type="application/octet-stream")
    return form


async def _install(http: aiohttp.ClientSession, server: RunningServer, model: str = "v2pro") -> dict[str, Any]:
    async with http.post(f"{server.http_url}/api/models/install", json={"model": model}, headers=_auth(server)) as r:
        assert r.status == 202, await r.text()
        job: dict[str, Any] = await r.json()
    return job


async def test_install_states_the_space_then_downloads_converts_and_lists_the_model(
    start_server: StartServer, http: aiohttp.ClientSession, model_files: ModelFiles, tmp_path: Path
) -> None:
    base_url, files = model_files
    server = await start_server(jobs=make_jobs(tmp_path / "data", base_url))
    async with http.get(f"{server.http_url}/api/models") as response:
        models = await response.json()
    assert models["installed"] == [] and models["job"] is None
    assert models["catalogue"] == [{"id": "v2pro", "version": "v2Pro", "installed": False}]

    async with http.get(f"{server.http_url}/api/models/v2pro/plan") as response:
        plan = await response.json()
    sizes = {path: len(body) for path, body in files.content.items()}
    assert {f["path"]: f["bytes"] for f in plan["files"]} == sizes, "unknown sizes come from HEAD requests"
    assert plan["download_bytes"] == sum(sizes.values()) and plan["enough_space"] is True
    assert plan["disk_bytes"] > plan["download_bytes"] and plan["free_bytes"] > plan["disk_bytes"]

    async with http.post(f"{server.http_url}/api/models/install", json={"model": "v2pro"}) as response:
        assert response.status == 401
    job = await _install(http, server)
    assert job["kind"] == "install-model" and job["model_id"] == "v2pro" and job["disk_bytes"] == plan["disk_bytes"]
    seen: list[str] = []

    def note_phase_until_finished(job: dict[str, Any]) -> bool:
        seen.append(job["phase"])
        return finished(job)

    job = await follow(http, server.http_url, job, note_phase_until_finished)
    assert job["state"] == "succeeded", job
    assert job["progress"] == 1.0 and job["peak_rss_mb"] > 0
    assert "downloading" in seen and "converting" in seen

    data = _data(server)
    assert (data / "downloads" / "s1v3.ckpt").read_bytes() == BLOB
    (call,) = calls(data)
    assert call["hubert_dir"] == str(data / "downloads" / "chinese-hubert-base")
    assert call["sv"] == str(data / "downloads" / "sv" / "pretrained_eres2netv2w24s4ep4.ckpt")
    assert leftovers(data) == []
    async with http.get(f"{server.http_url}/api/models") as response:
        models = await response.json()
    assert [m["id"] for m in models["installed"]] == ["v2pro"] and models["catalogue"][0]["installed"]
    assert models["job"]["id"] == job["id"]
    async with http.post(
        f"{server.http_url}/api/models/install", json={"model": "v2pro"}, headers=_auth(server)
    ) as response:
        assert response.status == 409 and (await response.json())["code"] == "already-installed"
    async with http.get(f"{server.http_url}/api/jobs") as response:
        listing = await response.json()
    assert listing["current"] is None and [j["id"] for j in listing["jobs"]] == [job["id"]]
    assert "params" not in listing["jobs"][0], "a job's private parameters are not sent"


async def test_a_model_no_voice_speaks_with_is_removed(
    start_server: StartServer, http: aiohttp.ClientSession, model_files: ModelFiles, tmp_path: Path
) -> None:
    base_url, _ = model_files
    server = await start_server(jobs=make_jobs(tmp_path / "data", base_url))
    assert (await follow(http, server.http_url, await _install(http, server), finished))["state"] == "succeeded"
    data = _data(server)
    folder_bytes = sum(p.stat().st_size for p in (data / "models" / "v2pro").rglob("*") if p.is_file())
    url = f"{server.http_url}/api/models/v2pro"
    async with http.delete(url) as response:
        assert response.status == 401
    (data / "voices" / "dad").mkdir(parents=True)  # a voice enrolled on the model
    (data / "voices" / "dad" / "voice.json").write_text(json.dumps({"model_id": "v2pro"}))

    async with http.delete(url, headers=_auth(server)) as response:
        assert response.status == 409
        refused = await response.json()
    assert refused["code"] == "model-in-use" and refused["voices"] == ["dad"] and "dad" in refused["error"]
    assert (data / "models" / "v2pro" / "manifest.json").is_file()

    shutil.rmtree(data / "voices" / "dad")
    async with http.delete(url, headers=_auth(server)) as response:
        assert response.status == 200
        removed = await response.json()
    assert removed == {"model": "v2pro", "freed_bytes": folder_bytes, "shared_removed": []}
    async with http.get(f"{server.http_url}/api/models") as response:
        assert (await response.json())["installed"] == []
    for model in ("v2pro", "shared"):
        async with http.delete(f"{server.http_url}/api/models/{model}", headers=_auth(server)) as response:
            assert response.status == 404 and (await response.json())["code"] == "unknown-model"
    async with http.delete(f"{server.http_url}/api/models/..", headers=_auth(server)) as response:
        assert response.status in (400, 404)


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"model": "v9"}, 400, "unknown-model"),
        ({"model": "../v2pro"}, 400, "bad-request"),
        ({}, 400, "bad-request"),
        ({"model": "v2pro", "replace": "yes"}, 400, "bad-request"),
    ],
)
async def test_a_bad_install_request_is_refused_clearly(
    start_server: StartServer, http: aiohttp.ClientSession, body: dict[str, Any], status: int, code: str
) -> None:
    server = await start_server()
    async with http.post(f"{server.http_url}/api/models/install", json=body, headers=_auth(server)) as response:
        assert response.status == status
        answer = await response.json()
    assert answer["code"] == code and answer["error"]
    assert not (_data(server) / "jobs").exists() or list((_data(server) / "jobs").iterdir()) == []


async def test_an_interrupted_download_resumes_where_it_stopped(
    start_server: StartServer, http: aiohttp.ClientSession, model_files: ModelFiles, tmp_path: Path
) -> None:
    base_url, files = model_files
    data = tmp_path / "data"
    (data / "downloads").mkdir(parents=True)
    (data / "downloads" / "s1v3.ckpt.part").write_bytes(BLOB[:3000])  # from a worker killed mid-download
    files.drop_once.add("chinese-hubert-base/pytorch_model.bin")  # and a connection that drops now
    server = await start_server(jobs=make_jobs(data, base_url))
    async with http.get(f"{server.http_url}/api/models/v2pro/plan") as response:
        plan = await response.json()
    assert {f["path"]: f["on_disk"] for f in plan["files"]}["s1v3.ckpt"] == 3000
    assert plan["download_bytes"] == sum(len(body) for body in files.content.values()) - 3000
    job = await follow(http, server.http_url, await _install(http, server), finished)
    assert job["state"] == "succeeded", job
    assert ("s1v3.ckpt", "bytes=3000-") in files.requests
    assert ("chinese-hubert-base/pytorch_model.bin", "bytes=3-") in files.requests
    assert (data / "downloads" / "s1v3.ckpt").read_bytes() == BLOB and leftovers(data) == []


async def test_a_job_cut_off_by_a_restart_resumes_at_the_next_start(
    start_server: StartServer, http: aiohttp.ClientSession, model_files: ModelFiles, tmp_path: Path
) -> None:
    base_url, files = model_files
    data = tmp_path / "data"
    make_gate(data)
    first = await start_server(jobs=make_jobs(data, base_url, "gated"))
    job = await follow(http, first.http_url, await _install(http, first), at_gate)
    await first.app.stop()  # mid-conversion: the worker is stopped and its staging folder removed
    assert leftovers(data) == []
    record = json.loads((data / "jobs" / f"{job['id']}.json").read_text())
    assert record["state"] == "running" and "resumes when the server starts again" in record["message"]
    downloads = [request for request in files.requests if not request[0].startswith("HEAD")]

    second = await start_server(jobs=make_jobs(data, base_url, "instant"))
    job = await follow(http, second.http_url, job, finished)
    assert job["state"] == "succeeded", job
    assert [r for r in files.requests if not r[0].startswith("HEAD")] == downloads, "nothing downloaded twice"
    assert len(calls(data)) == 2 and leftovers(data) == []


async def test_cancel_stops_the_worker_and_leaves_nothing_half_written(
    start_server: StartServer, http: aiohttp.ClientSession, model_files: ModelFiles, tmp_path: Path
) -> None:
    base_url, _ = model_files
    data = tmp_path / "data"
    make_gate(data)
    server = await start_server(jobs=make_jobs(data, base_url, "gated"))
    job = await follow(http, server.http_url, await _install(http, server), at_gate)
    assert any(p.name.startswith(".tmp-v2pro") for p in (data / "models").iterdir()), "the conversion is staged"
    cancel_url = f"{server.http_url}/api/jobs/{job['id']}/cancel"
    async with http.post(cancel_url) as response:
        assert response.status == 401
    async with http.post(cancel_url, headers=_auth(server)) as response:
        assert response.status == 200
    job = await follow(http, server.http_url, job, finished)
    assert job["state"] == "cancelled" and job["phase"] == "done"
    assert leftovers(data) == [] and [p.name for p in (data / "models").iterdir()] == [".lock"]
    async with http.post(cancel_url, headers=_auth(server)) as response:
        assert (await response.json())["state"] == "cancelled", "cancelling an ended job changes nothing"
    async with http.post(f"{server.http_url}/api/jobs/nope/cancel", headers=_auth(server)) as response:
        assert response.status == 404 and (await response.json())["code"] == "unknown-job"


async def test_one_job_at_a_time_and_speech_goes_on_while_it_converts(
    start_server: StartServer, http: aiohttp.ClientSession, model_files: ModelFiles, tmp_path: Path
) -> None:
    base_url, _ = model_files
    data = tmp_path / "data"
    make_gate(data)
    server = await start_server(jobs=make_jobs(data, base_url, "gated"))
    job = await follow(http, server.http_url, await _install(http, server), at_gate)

    async with http.post(
        f"{server.http_url}/api/models/install", json={"model": "v2pro"}, headers=_auth(server)
    ) as response:
        assert response.status == 200 and (await response.json())["id"] == job["id"], "the same install"
    async with http.post(
        f"{server.http_url}/api/models/import", data=_fine_tune(name="Dad"), headers=_auth(server)
    ) as response:
        assert response.status == 409
        busy = await response.json()
    assert busy["code"] == "job-running" and busy["job"]["id"] == job["id"]
    async with http.delete(f"{server.http_url}/api/models/v2pro", headers=_auth(server)) as response:
        assert response.status == 409 and (await response.json())["code"] == "job-running"  # it may be this one

    text = "Dinner is ready. Please come down!"
    async with server.client() as client:  # the worker holds the conversion; speech is not held
        await client.write_event(Synthesize(text, voice=SynthesizeVoice(name="mum")).event())
        reply = await read_reply(client)
    assert reply.error is None and reply.pcm == expected_pcm("mum", "default", text)

    await asyncio.to_thread(open_gate, data)
    job = await follow(http, server.http_url, job, finished)
    assert job["state"] == "succeeded"


async def test_a_disk_without_room_is_refused_before_anything_is_written(
    start_server: StartServer,
    http: aiohttp.ClientSession,
    model_files: ModelFiles,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    base_url, files = model_files
    data = tmp_path / "data"
    server = await start_server(jobs=make_jobs(data, base_url))
    monkeypatch.setattr(shutil, "disk_usage", lambda path: _Usage(10**9, 10**9 - 50_000, 50_000))
    async with http.post(
        f"{server.http_url}/api/models/install", json={"model": "v2pro"}, headers=_auth(server)
    ) as response:
        assert response.status == 507
        refusal = await response.json()
    assert refusal["code"] == "insufficient-storage" and "0.0 GB free" in refusal["error"]
    assert refusal["plan"]["enough_space"] is False and refusal["plan"]["free_bytes"] == 50_000
    assert not (data / "downloads").exists() and not (data / "jobs").exists()
    assert [r for r in files.requests if not r[0].startswith("HEAD")] == []


async def test_a_disk_that_fills_up_while_converting_fails_the_job_cleanly(
    start_server: StartServer, http: aiohttp.ClientSession, model_files: ModelFiles, tmp_path: Path
) -> None:
    base_url, _ = model_files
    data = tmp_path / "data"
    server = await start_server(jobs=make_jobs(data, base_url, "disk_full"))
    job = await follow(http, server.http_url, await _install(http, server), finished)
    assert job["state"] == "failed" and job["code"] == "insufficient-storage", job
    assert "disk of the data folder is full" in job["error"] and "free some space" in job["error"]
    assert leftovers(data) == [] and [p.name for p in (data / "models").iterdir()] == [".lock"]


async def test_a_disk_that_fills_up_while_downloading_fails_the_job_cleanly(
    start_server: StartServer, http: aiohttp.ClientSession, model_files: ModelFiles, tmp_path: Path
) -> None:
    base_url, _ = model_files
    data = tmp_path / "data"
    # The worker may write files of at most 4 kB: the 10 kB GPT checkpoint hits EFBIG mid-download.
    prelude = (
        "import resource, runpy, signal; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
        "resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096)); "
        "runpy.run_module('wyoming_server.jobs.worker', run_name='__main__')"
    )
    server = await start_server(jobs=make_jobs(data, base_url, worker_command=[sys.executable, "-c", prelude]))
    job = await follow(http, server.http_url, await _install(http, server), finished)
    assert job["state"] == "failed" and job["code"] == "insufficient-storage", job
    assert "partial downloads were removed" in job["error"]
    assert leftovers(data) == [] and not (data / "models" / "v2pro").exists()
    assert calls(data) == [], "no conversion without the files"


async def test_enrolling_without_a_model_points_at_the_install(
    start_server: StartServer, http: aiohttp.ClientSession
) -> None:
    server = await start_server()
    server.library.behaviour.model_missing = True
    async with http.post(f"{server.http_url}/api/voices", data=enrollment_form(), headers=_auth(server)) as response:
        assert response.status == 409
        answer = await response.json()
    assert answer["code"] == "no-model"
    assert "Install the cloning model" in answer["error"] and "edge_tts_clone.install_model" in answer["error"]


class _Usage(NamedTuple):
    total: int
    used: int
    free: int
