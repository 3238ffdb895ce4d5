"""The real `edge-tts-clone serve` killed (SIGKILL) in the middle of an announcement, then restarted.

Issue 6 item 6 against the real process rather than the fake: the announcement that was cut off
fails with a translated error (no half WAV is cached or played as if whole), the coordinator marks
the server down while it is gone, and speech comes back once it restarts on the same ports.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable
from pathlib import Path
from unittest.mock import patch

import pytest
from homeassistant import config_entries
from homeassistant.components import tts
from homeassistant.const import CONF_HOST
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from pytest_homeassistant_custom_component.common import MockConfigEntry
from wyoming.event import Event

from custom_components.edge_tts_clone import wyoming_link
from custom_components.edge_tts_clone.const import CONF_HTTP_PORT, CONF_TOKEN, CONF_WYOMING_PORT, DOMAIN

from .fake_server import parse_wav
from .test_real_server import RealServer, _serve_command, _wait_until_ready
from .test_resilience import poll

ANNOUNCEMENT = " ".join(f"This is sentence number {n} of a long announcement." for n in range(1, 16))


class RestartableServer:
    """One data folder and two ports; the process on them can be killed and started again."""

    def __init__(self, tmp_path: Path, wyoming_port: int, http_port: int) -> None:
        self.tmp_path = tmp_path
        self.data_dir = tmp_path / "server-data"
        self.info = RealServer(wyoming_port, http_port, "", [])
        self.process: asyncio.subprocess.Process | None = None
        self._log_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start `serve` and wait until both ports answer."""
        process = await asyncio.create_subprocess_exec(
            *_serve_command(),
            "serve",
            "--uri",
            f"tcp://127.0.0.1:{self.info.wyoming_port}",
            "--http-port",
            str(self.info.http_port),
            "--data-dir",
            str(self.data_dir),
            "--cache-size-mb",
            "0",
            cwd=self.tmp_path,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        self.process = process

        async def collect_log() -> None:
            assert process.stdout is not None
            async for line in process.stdout:
                self.info.log.append(line.decode(errors="replace"))

        self._log_task = asyncio.create_task(collect_log())
        await _wait_until_ready(process, self.info)

    async def kill(self) -> None:
        """SIGKILL, as a crash or a power cut would."""
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()
        if self._log_task is not None:
            await self._log_task
            self._log_task = None

    async def stop(self) -> None:
        """SIGTERM at the end of the test."""
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), 15)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        await self.kill()


@pytest.fixture
async def server(
    hass: HomeAssistant, socket_enabled: None, unused_tcp_port_factory: Callable[[], int], tmp_path: Path
) -> AsyncGenerator[RestartableServer]:
    """The real server, started once; the test kills and restarts it."""
    restartable = RestartableServer(tmp_path, unused_tcp_port_factory(), unused_tcp_port_factory())
    await restartable.start()
    token_file = restartable.data_dir / "admin_token"
    restartable.info.token = (await hass.async_add_executor_job(token_file.read_text)).strip()
    try:
        yield restartable
    finally:
        await restartable.stop()


async def _set_up(hass: HomeAssistant, server: RestartableServer) -> tuple[MockConfigEntry, str, str]:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": config_entries.SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {
            CONF_HOST: "127.0.0.1",
            CONF_WYOMING_PORT: server.info.wyoming_port,
            CONF_HTTP_PORT: server.info.http_port,
            CONF_TOKEN: server.info.token,
        },
    )
    entry = result["result"]
    assert entry.state is config_entries.ConfigEntryState.LOADED
    stock = next(voice for voice in entry.runtime_data.data.voices if voice.builtin)
    engine = next(s.entity_id for s in hass.states.async_all("tts") if "edge_tts_clone" in s.entity_id)
    return entry, engine, stock.voice_id


async def test_server_killed_mid_announcement_then_restarted(
    hass: HomeAssistant, server: RestartableServer
) -> None:
    entry, engine_id, voice = await _set_up(hass, server)
    media_id = tts.generate_media_source_id(
        hass, ANNOUNCEMENT, engine=engine_id, options={"voice": voice, "preferred_format": "wav"}, cache=True
    )
    real_read_event = wyoming_link.read_event
    chunks_seen = 0

    async def read_then_kill(reader: asyncio.StreamReader) -> Event | None:
        """The first audio chunk has reached HA: the server dies right then (power cut, OOM kill)."""
        nonlocal chunks_seen
        event = await real_read_event(reader)
        if event is not None and event.type == "audio-chunk":
            chunks_seen += 1
            if chunks_seen == 1:
                await server.kill()
        return event

    with (
        patch.object(wyoming_link, "read_event", read_then_kill),
        pytest.raises(HomeAssistantError) as caught,
    ):
        await tts.async_get_media_source_audio(hass, media_id)
    assert caught.value.translation_key == "synthesis_interrupted"
    assert chunks_seen >= 1

    await poll(hass)
    assert not entry.runtime_data.last_update_success

    await server.start()
    await poll(hass)
    assert entry.runtime_data.last_update_success

    # The same cached media id again: complete audio, so the cut-off reply was not kept in HA's cache.
    _, audio = await tts.async_get_media_source_audio(hass, media_id)
    rate, width, channels, _, pcm = parse_wav(audio)
    assert (width, channels) == (2, 1)
    assert len(pcm) > 15 * rate * width  # fifteen sentences: well over fifteen seconds of speech
