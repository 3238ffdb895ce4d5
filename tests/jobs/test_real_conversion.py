"""The real converter (torch) in the job worker, on tiny official-format checkpoints, end to end:
install the pretrained release and import a fine-tune over the admin API, then speak with the
voice the import enrolled, over Wyoming, through the real library."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import soundfile
from wyoming.client import AsyncTcpClient
from wyoming.tts import Synthesize, SynthesizeVoice

from tests.support.jobs import finished, follow
from tests.support.model_server import ServedFiles, serve_files
from tests.support.tiny_models.checkpoints import TinyCheckpoints
from tests.support.wire import read_reply
from wyoming_server.engine.gpt_sovits.manifest import Manifest
from wyoming_server.jobs.manager import JobManager
from wyoming_server.models.catalogue import RemoteFile
from wyoming_server.server.app import ServerApp
from wyoming_server.settings import ModelJobSettings, ServerSettings
from wyoming_server.voices.folder_library import open_library

pytestmark = pytest.mark.slow


@pytest.fixture
def tiny_release(tiny_checkpoints: TinyCheckpoints, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The tiny checkpoints served at the official paths; the catalogue's HuBERT sizes set to theirs."""
    hubert = tiny_checkpoints.hubert
    served = {
        "s1v3.ckpt": tiny_checkpoints.gpt.read_bytes(),
        "v2Pro/s2Gv2Pro.pth": tiny_checkpoints.sovits_v2pro.read_bytes(),
        "sv/pretrained_eres2netv2w24s4ep4.ckpt": tiny_checkpoints.sv.read_bytes(),
        "chinese-hubert-base/config.json": (hubert / "config.json").read_bytes(),
        "chinese-hubert-base/preprocessor_config.json": b"{}",
        "chinese-hubert-base/pytorch_model.bin": (hubert / "pytorch_model.bin").read_bytes(),
    }
    monkeypatch.setattr(
        "wyoming_server.models.catalogue.HUBERT_FILES",
        tuple(RemoteFile(path, len(body)) for path, body in served.items() if path.startswith("chinese-hubert")),
    )
    files: ServedFiles
    with serve_files() as (base_url, files):
        files.content.update(served)
        yield base_url


@pytest.fixture
async def server(tmp_path: Path, tiny_release: str) -> AsyncIterator[ServerApp]:
    """The real library and the real converter; models come from the local server."""
    data = tmp_path / "data"
    library = open_library(data, max_loaded_models=2, threads=1)
    settings = ServerSettings(data_dir=data, uri="tcp://127.0.0.1:0", http_host="127.0.0.1", http_port=0)
    jobs = JobManager(data, ModelJobSettings(base_url=tiny_release))  # the real catalogue and converter
    app = ServerApp(settings, library, jobs)
    await app.start()
    try:
        yield app
    finally:
        await app.stop()


async def test_install_then_import_a_fine_tune_and_speak_with_it(
    server: ServerApp, tiny_checkpoints: TinyCheckpoints, reference_clip: tuple[Any, int]
) -> None:
    url = f"http://127.0.0.1:{server.http_port}"
    data = server.settings.data_dir
    auth = {"Authorization": f"Bearer {(data / 'admin_token').read_text().strip()}"}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as http:
        async with http.post(f"{url}/api/models/install", json={"model": "v2pro"}, headers=auth) as response:
            assert response.status == 202, await response.text()
            job = await follow(http, url, await response.json(), finished)
        assert job["state"] == "succeeded", (job["code"], job["error"])
        assert Manifest.read(data / "models" / "v2pro").precision == ["int8"]

        samples, rate_hz = reference_clip
        clip = io.BytesIO()
        soundfile.write(clip, samples, rate_hz, format="WAV", subtype="PCM_16")
        form = aiohttp.FormData()
        for key, value in {
            "name": "Dad",
            "text": "这是一段参考音频。",
            "language": "zh",
            "consent": "I, Dad, agree that my family may use my voice at home.",
            "force": "true",  # a synthetic buzz is not speech
        }.items():
            form.add_field(key, value)
        form.add_field("gpt", tiny_checkpoints.gpt.read_bytes(), filename="dad-e15.ckpt")
        form.add_field("sovits", tiny_checkpoints.sovits_v2pro.read_bytes(), filename="dad_e8.pth")
        form.add_field("audio", clip.getvalue(), filename="dad.wav", content_type="audio/wav")
        async with http.post(f"{url}/api/models/import", data=form, headers=auth) as response:
            assert response.status == 202, await response.text()
            job = await follow(http, url, await response.json(), finished)
        assert job["state"] == "succeeded", (job["code"], job["error"])
        assert job["model_id"] == "dad-ft" and job["voice_id"] == "dad" and job["peak_rss_mb"] > 0

    async with AsyncTcpClient("127.0.0.1", server.wyoming_port) as client:
        await client.write_event(Synthesize("你好。", voice=SynthesizeVoice(name="dad")).event())
        reply = await read_reply(client)
    assert reply.error is None and len(reply.pcm) > 0
    assert server.library.resolve("dad").model_id == "dad-ft"
