"""Home Assistant (its test harness, HA 2026.2) gets speech from the server running in its container.

Both ways in: our integration (config flow with the token read from the container, `tts.speak`,
streaming) and Home Assistant's own Wyoming integration.
"""

from __future__ import annotations

import io
import wave
from collections.abc import AsyncGenerator, Iterator

import pytest
from homeassistant import config_entries
from homeassistant.components import tts
from homeassistant.components.tts.entity import TextToSpeechEntity, TTSAudioRequest
from homeassistant.components.tts.helper import get_engine_instance
from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_mock_service

from custom_components.edge_tts_clone.const import CONF_HTTP_PORT, CONF_TOKEN, CONF_WYOMING_PORT, DOMAIN
from tests.container.docker_cli import HTTP_PORT, Container, image_under_test, remove_volume, unique_name


@pytest.fixture
def container() -> Iterator[Container]:
    """The server image on a fresh volume, healthy (synchronous: docker calls stay off HA's event loop)."""
    volume = unique_name("edge-tts-clone-ha-test-data")
    started = Container(unique_name("edge-tts-clone-ha-test"), image_under_test(), mounts=[f"{volume}:/data"])
    started.start()
    try:
        started.wait_healthy()
        yield started
    finally:
        started.remove()
        remove_volume(volume)


def _pcm(wav_bytes: bytes) -> tuple[int, bytes]:
    """Rate and samples of a WAV; a streamed one says 0 frames in its header, so take all after `data`."""
    with wave.open(io.BytesIO(wav_bytes)) as wav:
        assert wav.getsampwidth() == 2 and wav.getnchannels() == 1
        rate = wav.getframerate()
    return rate, wav_bytes[wav_bytes.index(b"data") + 8 :]


async def test_our_integration_speaks_through_the_container(
    hass: HomeAssistant, socket_enabled: None, container: Container
) -> None:
    token = (await hass.async_add_executor_job(container.read_file, "/data/admin_token")).strip()
    wyoming_port = await hass.async_add_executor_job(lambda: container.wyoming_port)
    http_port = await hass.async_add_executor_job(container.host_port, HTTP_PORT)
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": config_entries.SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_HOST: "127.0.0.1", CONF_WYOMING_PORT: wyoming_port, CONF_HTTP_PORT: http_port, CONF_TOKEN: token},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    await hass.async_block_till_done()
    engine = next(state.entity_id for state in hass.states.async_all("tts") if DOMAIN in state.entity_id)

    calls = async_mock_service(hass, "media_player", "play_media")
    await hass.services.async_call(
        "tts",
        "speak",
        {
            "entity_id": engine,
            "media_player_entity_id": "media_player.kitchen",
            "message": "Dinner is ready. Please come to the table.",
            "cache": False,
            "options": {"voice": "joe", "preferred_format": "wav"},
        },
        blocking=True,
    )
    _, audio = await tts.async_get_media_source_audio(hass, calls[0].data["media_content_id"])
    rate, pcm = _pcm(audio)
    assert len(pcm) > rate * 2, "more than a second of speech"

    entity = get_engine_instance(hass, engine)
    assert isinstance(entity, TextToSpeechEntity)

    async def text() -> AsyncGenerator[str]:
        yield "First sentence. "
        yield "Second one."

    response = await entity.async_stream_tts_audio(
        TTSAudioRequest(language="en", options={"voice": "joe"}, message_gen=text())
    )
    streamed = b"".join([chunk async for chunk in response.data_gen])
    assert len(streamed) > 44 + rate, "a WAV header and more than half a second of streamed speech"


async def test_home_assistants_wyoming_integration_speaks_through_the_container(
    hass: HomeAssistant, socket_enabled: None, container: Container
) -> None:
    port = await hass.async_add_executor_job(lambda: container.wyoming_port)
    assert await async_setup_component(hass, "homeassistant", {})
    entry = MockConfigEntry(domain="wyoming", data={CONF_HOST: "127.0.0.1", CONF_PORT: port})
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    (engine,) = [state.entity_id for state in hass.states.async_all("tts")]  # the Wyoming integration's only
    media_id = tts.generate_media_source_id(
        hass, "Good night.", engine=engine, options={"voice": "joe", "preferred_format": "wav"}, cache=False
    )
    extension, audio = await tts.async_get_media_source_audio(hass, media_id)
    rate, pcm = _pcm(audio)
    assert extension == "wav" and len(pcm) > rate // 2
