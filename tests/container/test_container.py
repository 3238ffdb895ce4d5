"""The server image, built for real and run under dockerd: it speaks, enrolls, keeps voices, stops on time.

The real `wyoming` client talks to the published port; a voice is enrolled through the admin API
with the tiny converted model copied into the data volume, and a tiny fine-tune is converted inside
the image (which has no torch) and spoken with.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Describe, Info
from wyoming.tts import Synthesize, SynthesizeVoice

from tests.reliability.tiny_data import CONSENT, clip_text, enrollment_clip
from tests.support.tiny_models.checkpoints import TinyCheckpoints
from tests.support.tiny_models.model_folders import copy_model_folder

from .docker_cli import STOP_TIMEOUT_S, Container, docker, image_under_test, remove_volume, unique_name

READ_TIMEOUT_S = 120.0
GPT_SOVITS_RATE_HZ = 32000
LONG_TEXT = " ".join(f"This is sentence number {n} of a long announcement for the whole house." for n in range(12))


@pytest.fixture
def image() -> str:
    """The image tests/container/build_image.sh built."""
    return image_under_test()


@pytest.fixture
def data_volume(tiny_model_v2: Path, image: str, tmp_path: Path) -> Iterator[str]:
    """A fresh named volume holding the tiny converted model as models/v2, owned by the image's user."""
    volume = unique_name("edge-tts-clone-test-data")
    source = tmp_path / "model"
    copy_model_folder(tiny_model_v2, source / "v2")
    docker(
        "run", "--rm", "-v", f"{volume}:/data", "-v", f"{source}:/src:ro", "--entrypoint", "sh", image,
        "-c", "mkdir -p /data/models && cp -r /src/. /data/models/",  # v2 and its shared HuBERT
    )  # fmt: skip
    yield volume
    remove_volume(volume)


@pytest.fixture
def containers() -> Iterator[list[Container]]:
    """Containers started by a test, removed after it."""
    started: list[Container] = []
    yield started
    for container in started:
        container.remove()


async def _describe(port: int) -> Info:
    async with AsyncTcpClient("127.0.0.1", port) as client:
        await client.write_event(Describe().event())
        while True:
            event = await asyncio.wait_for(client.read_event(), READ_TIMEOUT_S)
            assert event is not None, "the server closed the connection"
            if Info.is_type(event.type):
                return Info.from_event(event)


async def _speak(port: int, text: str, voice: str | None = None) -> tuple[AudioStart, bytes]:
    async with AsyncTcpClient("127.0.0.1", port) as client:
        await client.write_event(Synthesize(text, voice=SynthesizeVoice(name=voice) if voice else None).event())
        start = await asyncio.wait_for(client.read_event(), READ_TIMEOUT_S)
        assert start is not None and AudioStart.is_type(start.type), start
        pcm = b""
        while not AudioStop.is_type((event := await _next(client)).type):
            pcm += AudioChunk.from_event(event).audio
        return AudioStart.from_event(start), pcm


async def _next(client: AsyncTcpClient) -> Event:
    event = await asyncio.wait_for(client.read_event(), READ_TIMEOUT_S)
    assert event is not None, "the server closed the connection"
    assert not Error.is_type(event.type), event.data
    return event


def _voice_ids(info: Info) -> set[str]:
    return {voice.name for voice in info.tts[0].voices}


async def _enroll(container: Container, token: str) -> dict[str, object]:
    form = aiohttp.FormData()
    form.add_field("name", "Mum")
    form.add_field("text", clip_text("mum"))
    form.add_field("language", "en")
    form.add_field("consent", CONSENT)
    form.add_field("audio", enrollment_clip("mum"), filename="mum.wav", content_type="audio/wav")
    async with aiohttp.ClientSession() as session, session.post(
        f"{container.http_url}/api/voices", data=form, headers={"Authorization": f"Bearer {token}"}
    ) as response:
        body: dict[str, object] = await response.json()
        assert response.status == 201, body
        return body


def test_image_is_the_runtime_install_run_by_a_user(image: str) -> None:
    config = json.loads(docker("image", "inspect", "--format", "{{json .Config}}", image))
    assert config["User"] == "edge-tts-clone"
    assert set(config["ExposedPorts"]) == {"10210/tcp", "10211/tcp"}
    assert set(config["Volumes"]) == {"/data"}
    assert config["Healthcheck"]["Test"] == ["CMD", "python3", "-m", "wyoming_server.cli.health"]
    probe = "import importlib.util as u; print(u.find_spec('torch') is None, u.find_spec('onnxruntime') is not None)"
    assert docker("run", "--rm", "--entrypoint", "python3", image, "-c", probe).split() == ["True", "True"]


async def test_container_speaks_enrolls_and_keeps_voices(
    image: str, data_volume: str, containers: list[Container]
) -> None:
    first = Container(unique_name("edge-tts-clone-test"), image, mounts=[f"{data_volume}:/data"])
    containers.append(first.start())
    first.wait_healthy()
    info = await _describe(first.wyoming_port)
    assert "joe" in _voice_ids(info), "a fresh volume speaks with the stock voice"
    start, pcm = await _speak(first.wyoming_port, "Dinner is ready.")
    assert start.width == 2 and start.channels == 1 and len(pcm) > start.rate * 2 // 2

    token = first.read_file("/data/admin_token").strip()
    enrolled = await _enroll(first, token)
    assert enrolled["voice"]["id"] == "mum"  # type: ignore[index]
    start, pcm = await _speak(first.wyoming_port, "Dinner is ready.", voice="mum")
    assert start.rate == GPT_SOVITS_RATE_HZ and len(pcm) > 0

    stop_s = first.stop()
    assert stop_s < STOP_TIMEOUT_S, f"docker stop took {stop_s:.1f} s: SIGTERM did not stop the server"
    assert first.state()["ExitCode"] == 0, "the server exited by itself, not by SIGKILL"
    docker("start", first.name)
    first.wait_healthy()
    assert {"joe", "mum"} <= _voice_ids(await _describe(first.wyoming_port)), "the voice survived a restart"

    # An image upgrade is a new container on the same volume.
    assert first.stop() < STOP_TIMEOUT_S and first.state()["ExitCode"] == 0
    first.remove()
    second = Container(unique_name("edge-tts-clone-test"), image, mounts=[f"{data_volume}:/data"])
    containers.append(second.start())
    second.wait_healthy()
    assert {"joe", "mum"} <= _voice_ids(await _describe(second.wyoming_port)), "the voice survived a new container"
    start, pcm = await _speak(second.wyoming_port, "Good night.", voice="mum")
    assert start.rate == GPT_SOVITS_RATE_HZ and len(pcm) > 0
    assert second.read_file("/data/admin_token").strip() == token, "the admin token is kept"


async def test_sigterm_during_a_reply_ends_it_cleanly_within_ten_seconds(
    image: str, containers: list[Container]
) -> None:
    volume = unique_name("edge-tts-clone-test-data")
    container = Container(
        unique_name("edge-tts-clone-test"),
        image,
        mounts=[f"{volume}:/data"],
        environment={"EDGE_TTS_CLONE_SHUTDOWN_GRACE": "2", "EDGE_TTS_CLONE_MAX_TEXT_CHARS": "5000"},
    )
    containers.append(container.start())
    try:
        container.wait_healthy()
        async with AsyncTcpClient("127.0.0.1", container.wyoming_port) as client:
            await client.write_event(Synthesize(LONG_TEXT).event())
            first = await asyncio.wait_for(client.read_event(), READ_TIMEOUT_S)
            assert first is not None and AudioStart.is_type(first.type)
            stop_seconds: list[float] = []
            stopper = threading.Thread(target=lambda: stop_seconds.append(container.stop()))
            stopper.start()
            last: Event | None = None
            while (event := await asyncio.wait_for(client.read_event(), READ_TIMEOUT_S)) is not None:
                last = event
            await asyncio.to_thread(stopper.join)
        assert last is not None
        ended_cleanly = AudioStop.is_type(last.type) or (
            Error.is_type(last.type) and Error.from_event(last).code == "busy"
        )
        assert ended_cleanly, f"the reply ended with {last.type} {last.data}, not audio-stop or a busy error"
        assert stop_seconds[0] < STOP_TIMEOUT_S, f"docker stop took {stop_seconds[0]:.1f} s"
        assert container.state()["ExitCode"] == 0, "the server exited by itself, not by SIGKILL"
        assert "Stopped" in container.logs()
    finally:
        container.remove()
        remove_volume(volume)


async def test_the_image_converts_a_fine_tune_without_torch_and_speaks_with_it(
    image: str, tiny_checkpoints: TinyCheckpoints, tiny_templates: Path, containers: list[Container], tmp_path: Path
) -> None:
    """What an add-on household does: a person's GPT-SoVITS fine-tune becomes a voice inside the image."""
    source = tmp_path / "src"
    source.mkdir()
    shutil.copy(tiny_checkpoints.gpt, source / "mum.ckpt")
    shutil.copy(tiny_checkpoints.sovits_v2, source / "mum.pth")
    shutil.copytree(tiny_checkpoints.hubert, source / "hubert")
    shutil.copytree(tiny_templates, source / "templates")  # the tiny sizes; the image ships the released ones
    (source / "mum.wav").write_bytes(enrollment_clip("mum"))
    for path in [source, *source.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)  # readable by the image's unprivileged user
    volume = unique_name("edge-tts-clone-test-data")
    try:
        docker(
            "run", "--rm", "-v", f"{volume}:/data", "-v", f"{source}:/src:ro", image,
            "voices", "add", "--data-dir", "/data", "--name", "Mum", "--audio", "/src/mum.wav", "--language", "en",
            "--text", clip_text("mum"), "--consent", CONSENT, "--gpt", "/src/mum.ckpt", "--sovits", "/src/mum.pth",
            "--hubert-dir", "/src/hubert", "--templates", "/src/templates",
        )  # fmt: skip
        container = Container(unique_name("edge-tts-clone-test"), image, mounts=[f"{volume}:/data"])
        containers.append(container.start())
        container.wait_healthy()
        assert "mum" in _voice_ids(await _describe(container.wyoming_port))
        start, pcm = await _speak(container.wyoming_port, "Dinner is ready.", voice="mum")
        assert start.rate == GPT_SOVITS_RATE_HZ and len(pcm) > 0
    finally:
        for container in containers:
            container.remove()
        containers.clear()
        remove_volume(volume)
