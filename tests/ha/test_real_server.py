"""End to end against the real `edge-tts-clone serve` process (stock voice) on 127.0.0.1.

The server comes from the main venv that tests/run_all.sh builds first
(`<repo>/.venv/bin/edge-tts-clone`). Set EDGE_TTS_CLONE_SERVE to another command prefix
(e.g. "python -m wyoming_server") to run it from elsewhere. A missing server is a failure,
not a skip: this is the one test that proves both sides agree on docs/http-api.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import shlex
import time
import wave
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from homeassistant import config_entries
from homeassistant.components import tts
from homeassistant.components.tts.entity import TextToSpeechEntity, TTSAudioRequest
from homeassistant.components.tts.helper import get_engine_instance
from homeassistant.const import CONF_HOST
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_mock_service
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from custom_components.edge_tts_clone.const import CONF_HTTP_PORT, CONF_TOKEN, CONF_WYOMING_PORT, DOMAIN
from custom_components.edge_tts_clone.wire import ServerVoice

from .fake_server import parse_wav

REPO = Path(__file__).resolve().parents[2]
STARTUP_DEADLINE_S = 120.0
"""First start loads the stock Piper voice; generous for a loaded 2-core CI machine."""


def _serve_command() -> list[str]:
    prefix = os.environ.get("EDGE_TTS_CLONE_SERVE")
    if prefix:
        return shlex.split(prefix)
    binary = REPO / ".venv" / "bin" / "edge-tts-clone"
    if not binary.exists():
        pytest.fail(
            f"{binary} is missing: run tests/run_all.sh, which installs the server before the HA tests"
        )
    return [str(binary)]


@dataclass
class RealServer:
    """A running server process and how to reach it."""

    wyoming_port: int
    http_port: int
    token: str
    log: list[str]


async def _wait_until_ready(process: asyncio.subprocess.Process, server: RealServer) -> None:
    """Poll health and the Wyoming port until both answer, the process dies, or the deadline passes."""
    deadline = time.monotonic() + STARTUP_DEADLINE_S
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if process.returncode is not None:
                pytest.fail(
                    f"edge-tts-clone serve exited with {process.returncode}:\n" + "".join(server.log[-40:])
                )
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with session.get(f"http://127.0.0.1:{server.http_port}/api/health") as response:
                    if response.status == 200:
                        _, writer = await asyncio.open_connection("127.0.0.1", server.wyoming_port)
                        writer.close()
                        await writer.wait_closed()
                        return
            await asyncio.sleep(0.2)  # polling an external process's readiness, not synchronizing tests
    pytest.fail("edge-tts-clone serve did not become ready:\n" + "".join(server.log[-40:]))


def _wav_of_silence(seconds: float, rate_hz: int = 16000) -> bytes:
    """A valid WAV file (the server reads its header before anything else)."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate_hz)
        wav.writeframes(bytes(2 * int(seconds * rate_hz)))
    return buffer.getvalue()


@pytest.fixture
async def real_server(
    hass: HomeAssistant, socket_enabled: None, unused_tcp_port_factory: Callable[[], int], tmp_path: Path
) -> AsyncGenerator[RealServer]:
    """`edge-tts-clone serve` on two free ports with a fresh data folder."""
    data_dir = tmp_path / "server-data"
    server = RealServer(unused_tcp_port_factory(), unused_tcp_port_factory(), "", [])
    process = await asyncio.create_subprocess_exec(
        *_serve_command(),
        "serve",
        "--uri",
        f"tcp://127.0.0.1:{server.wyoming_port}",
        "--http-port",
        str(server.http_port),
        "--data-dir",
        str(data_dir),
        # Models "download" from the server's own admin port, which has none: a job fails at once (HTTP 404).
        "--models-base-url",
        f"http://127.0.0.1:{server.http_port}/no-models/",
        # Not the repo: ./voices is the default data folder, and `-m` would import ./wyoming_server.
        cwd=tmp_path,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )

    async def collect_log() -> None:
        assert process.stdout is not None
        async for line in process.stdout:
            server.log.append(line.decode(errors="replace"))

    log_task = asyncio.create_task(collect_log())
    try:
        await _wait_until_ready(process, server)
        token_file = data_dir / "admin_token"
        server.token = (await hass.async_add_executor_job(token_file.read_text)).strip()
        yield server
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 15)
            except TimeoutError:
                process.kill()
                await process.wait()
        await log_task


async def test_real_server_end_to_end(
    hass: HomeAssistant, hass_ws_client: WebSocketGenerator, real_server: RealServer
) -> None:
    """Config flow, voices, speech (one-shot and streaming) and a refused delete, all for real."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": config_entries.SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {
            CONF_HOST: "127.0.0.1",
            CONF_WYOMING_PORT: real_server.wyoming_port,
            CONF_HTTP_PORT: real_server.http_port,
            CONF_TOKEN: real_server.token,
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    await hass.async_block_till_done()
    entry = result["result"]
    assert entry.state is config_entries.ConfigEntryState.LOADED

    voices: tuple[ServerVoice, ...] = entry.runtime_data.data.voices
    stock = next((voice for voice in voices if voice.builtin), None)
    assert stock is not None, voices
    engine = next(
        state.entity_id for state in hass.states.async_all("tts") if "edge_tts_clone" in state.entity_id
    )

    client = await hass_ws_client(hass)
    language = stock.languages[0]
    await client.send_json_auto_id({"type": "tts/engine/voices", "engine_id": engine, "language": language})
    message = await client.receive_json()
    assert {"voice_id": stock.voice_id, "name": stock.name} in message["result"]["voices"]

    calls = async_mock_service(hass, "media_player", "play_media")
    await hass.services.async_call(
        "tts",
        "speak",
        {
            "entity_id": engine,
            "media_player_entity_id": "media_player.kitchen",
            "message": "Dinner is ready. Please come to the table.",
            "cache": False,
            "options": {"voice": stock.voice_id, "preferred_format": "wav"},
        },
        blocking=True,
    )
    _, audio = await tts.async_get_media_source_audio(hass, calls[0].data["media_content_id"])
    rate, width, channels, _, pcm = parse_wav(audio)
    assert width == 2 and channels == 1 and rate >= 16000
    assert len(pcm) > rate * width  # more than a second of speech for two sentences
    assert any(pcm[i : i + 2] != b"\x00\x00" for i in range(0, len(pcm), 2))

    entity = get_engine_instance(hass, engine)
    assert isinstance(entity, TextToSpeechEntity)

    async def text() -> AsyncGenerator[str]:
        yield "First sentence. "
        yield "Second one."

    response = await entity.async_stream_tts_audio(
        TTSAudioRequest(language=language, options={"voice": stock.voice_id}, message_gen=text())
    )
    streamed = b"".join([chunk async for chunk in response.data_gen])
    assert len(parse_wav(streamed)[4]) > 0

    with pytest.raises(ServiceValidationError) as caught:
        await hass.services.async_call(DOMAIN, "delete_voice", {"voice": stock.voice_id}, blocking=True)
    assert caught.value.translation_key == "builtin_voice"


async def test_real_server_model_jobs(hass: HomeAssistant, real_server: RealServer, tmp_path: Path) -> None:
    """A fresh server has no model: enrolling points at install_model, whose job the action follows to its end."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        data={
            CONF_HOST: "127.0.0.1",
            CONF_WYOMING_PORT: real_server.wyoming_port,
            CONF_HTTP_PORT: real_server.http_port,
            CONF_TOKEN: real_server.token,
        },
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    hass.config.config_dir = str(tmp_path)
    await hass.async_add_executor_job((tmp_path / "mum.wav").write_bytes, _wav_of_silence(2.0))
    enroll = {"name": "Mum", "audio": "mum.wav", "transcript": "Hello there.", "language": "en", "consent": True}
    with pytest.raises(ServiceValidationError) as refused:
        await hass.services.async_call(DOMAIN, "enroll_voice", enroll, blocking=True, return_response=True)
    assert refused.value.translation_key == "no_model"

    with pytest.raises(HomeAssistantError) as failed:
        await hass.services.async_call(DOMAIN, "install_model", {"wait": True}, blocking=True, return_response=True)
    assert failed.value.translation_key == "job_failed"
    placeholders = failed.value.translation_placeholders or {}
    assert placeholders["model"] == "v2pro" and "HTTP 404" in placeholders["reason"]
    started = await hass.services.async_call(DOMAIN, "install_model", {}, blocking=True, return_response=True)
    assert started is not None and started["model_id"] == "v2pro" and started["state"] in ("running", "failed")
