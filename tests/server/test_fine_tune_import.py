"""Importing a person's fine-tune over the admin API: upload, convert in a job, optionally enroll.

The checkpoints are streamed to disk under their own cap; refusals leave nothing behind; a
checkpoint that is damaged inside fails its job with the converter's words and no half model.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.support.fakes import wav_bytes
from tests.support.job_converters import CORRUPT_MARK, calls
from tests.support.jobs import finished, follow, leftovers, make_jobs, model_files
from tests.support.model_server import ServedFiles
from tests.support.servers import RunningServer, StartServer

__all__ = ["model_files"]

pytestmark = pytest.mark.slow

ModelFiles = tuple[str, ServedFiles]
CONSENT = "Dad agrees to his voice being cloned"
SV_PATH = "sv/pretrained_eres2netv2w24s4ep4.ckpt"


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP client."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        yield session


def _auth(server: RunningServer) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.token}"}


def _form(gpt: bytes | None = b"PK gpt", sovits: bytes | None = b"05 sovits", **fields: Any) -> aiohttp.FormData:
    form = aiohttp.FormData(default_to_multipart=True)
    audio = fields.pop("audio", None)
    for key, value in fields.items():
        form.add_field(key, value)
    if gpt is not None:
        form.add_field("gpt", gpt, filename="dad-e15.ckpt", content_type="application/octet-stream")
    if sovits is not None:
        form.add_field("sovits", sovits, filename="dad_e8_s200.pth", content_type="application/octet-stream")
    if audio is not None:
        form.add_field("audio", audio, filename="dad.wav", content_type="audio/wav")
    return form


async def _post(http: aiohttp.ClientSession, server: RunningServer, data: Any) -> tuple[int, dict[str, Any]]:
    async with http.post(f"{server.http_url}/api/models/import", data=data, headers=_auth(server)) as response:
        return response.status, await response.json()


async def test_a_fine_tune_and_a_clip_become_a_model_and_a_voice(
    start_server: StartServer, http: aiohttp.ClientSession, model_files: ModelFiles, tmp_path: Path
) -> None:
    base_url, files = model_files
    data = tmp_path / "data"
    server = await start_server(jobs=make_jobs(data, base_url))
    clip = wav_bytes(4.0)
    form = _form(name="Dad", text="The kettle is on.", language="en", consent=CONSENT, audio=clip)
    status, job = await _post(http, server, form)
    assert status == 202, job
    assert job["kind"] == "import-fine-tune" and job["model_id"] == "dad-ft"
    job = await follow(http, server.http_url, job, finished)
    assert job["state"] == "succeeded", job
    assert job["voice_id"] == "dad" and job["report"]["accepted"] and "voice dad uses it" in job["message"]

    (call,) = calls(data)
    assert call["gpt"] == str(data / "jobs" / job["id"] / "gpt.ckpt"), "the uploaded file, converted in place"
    assert call["sv"] == str(data / "downloads" / SV_PATH), "a v2Pro file gets the speaker-verification net"
    assert call["hubert_dir"] == str(data / "downloads" / "chinese-hubert-base")
    assert server.library.enrolled_audio == [clip]
    assert not (data / "jobs" / job["id"]).exists(), "the uploads go once the job ends"
    assert leftovers(data) == []
    async with http.get(f"{server.http_url}/api/models") as response:
        assert [m["id"] for m in (await response.json())["installed"]] == ["dad-ft"]
    assert not [r for r in files.requests if "s1v3" in r[0]], "an import fetches only the helper networks"


async def test_a_v2_fine_tune_needs_no_speaker_verification_net(
    start_server: StartServer, http: aiohttp.ClientSession, model_files: ModelFiles, tmp_path: Path
) -> None:
    base_url, files = model_files
    data = tmp_path / "data"
    server = await start_server(jobs=make_jobs(data, base_url))
    status, job = await _post(http, server, _form(sovits=b"PK v2 sovits", model_id="mum-v2"))
    assert status == 202, job
    job = await follow(http, server.http_url, job, finished)
    assert job["state"] == "succeeded" and job["voice_id"] is None, job
    assert calls(data)[0]["sv"] is None
    assert not [r for r in files.requests if r[0].endswith(SV_PATH)]


@pytest.mark.parametrize(
    ("form", "status", "code", "words"),
    [
        (_form(gpt=b"<html>", name="Dad"), 415, "unsupported-media", "'gpt' is not a GPT-SoVITS"),
        (_form(sovits=b"ZZ not a zip", name="Dad"), 415, "unsupported-media", "'sovits' is not"),
        (_form(sovits=None, name="Dad"), 400, "bad-request", "missing: sovits"),
        (_form(gpt=b"", name="Dad"), 400, "bad-request", "'gpt' is empty"),
        (_form(), 400, "bad-request", "'model_id'"),
        (_form(model_id="../models"), 400, "bad-request", "'model_id'"),
        (_form(model_id="v2pro"), 400, "bad-request", "official model"),
        (_form(name="Dad", audio=wav_bytes(3.0), language="en"), 400, "bad-request", "consent"),
        (_form(name="Dad", audio=b"<html>", language="en", consent=CONSENT), 415, "unsupported-media", "WAV"),
        (_form(name="Dad", audio=wav_bytes(61.0), language="en", consent=CONSENT), 413, "too-large", "61.0 s"),
    ],
)
async def test_a_bad_upload_is_refused_clearly_and_leaves_nothing(
    start_server: StartServer,
    http: aiohttp.ClientSession,
    model_files: ModelFiles,
    tmp_path: Path,
    form: aiohttp.FormData,
    status: int,
    code: str,
    words: str,
) -> None:
    base_url, _ = model_files
    data = tmp_path / "data"
    server = await start_server(jobs=make_jobs(data, base_url))
    answer_status, answer = await _post(http, server, form)
    assert (answer_status, answer["code"]) == (status, code), answer
    assert words in answer["error"]
    assert leftovers(data) == [] and list((data / "jobs").iterdir()) == []
    assert calls(data) == [] and server.app.jobs.current is None


async def test_an_upload_over_the_fine_tune_cap_is_cut_off(
    start_server: StartServer, http: aiohttp.ClientSession, model_files: ModelFiles, tmp_path: Path
) -> None:
    base_url, _ = model_files
    data = tmp_path / "data"
    server = await start_server(jobs=make_jobs(data, base_url), max_fine_tune_bytes=64 * 1024)
    big = b"PK" + bytes(100 * 1024)
    status, answer = await _post(http, server, _form(gpt=big, model_id="big"))
    assert (status, answer["code"]) == (413, "too-large") and "0.0625 MB" in answer["error"]

    async def chunked() -> AsyncIterator[bytes]:  # no Content-Length: the cap applies as bytes arrive
        yield b'--b\r\nContent-Disposition: form-data; name="gpt"; filename="g.ckpt"\r\n\r\nPK'
        for _ in range(10):
            yield bytes(16 * 1024)
        yield b"\r\n--b--\r\n"

    headers = {**_auth(server), "Content-Type": "multipart/form-data; boundary=b"}
    async with http.post(f"{server.http_url}/api/models/import", data=chunked(), headers=headers) as response:
        assert response.status == 413
    assert leftovers(data) == [] and list((data / "jobs").iterdir()) == []


async def test_a_checkpoint_damaged_inside_fails_its_job_with_the_converters_words(
    start_server: StartServer, http: aiohttp.ClientSession, model_files: ModelFiles, tmp_path: Path
) -> None:
    base_url, _ = model_files
    data = tmp_path / "data"
    server = await start_server(jobs=make_jobs(data, base_url))
    status, job = await _post(http, server, _form(gpt=b"PK" + CORRUPT_MARK, model_id="broken"))
    assert status == 202
    job = await follow(http, server.http_url, job, finished)
    assert job["state"] == "failed" and job["code"] == "conversion-failed", job
    assert "dad-e15.ckpt" not in job["error"] and "is not a GPT-SoVITS checkpoint" in job["error"]
    assert leftovers(data) == [] and not (data / "models" / "broken").exists()
    assert not (data / "jobs" / job["id"]).exists()
