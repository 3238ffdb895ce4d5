"""The TTS entity: audio through tts.speak, voices, options on the wire, streaming."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import pytest
from homeassistant.components import tts
from homeassistant.components.tts.entity import TTSAudioRequest
from homeassistant.components.tts.helper import get_engine_instance
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
    async_mock_service,
)
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from custom_components.edge_tts_clone.const import CONF_DEFAULT_SPEED, CONF_DEFAULT_VOICE, UPDATE_INTERVAL
from custom_components.edge_tts_clone.tts import EdgeTtsCloneTtsEntity

from .conftest import TTS_ENTITY
from .fake_server import RATE_HZ, FakeServer, fake_pcm, parse_wav, voice_json


async def speak(hass: HomeAssistant, message: str, options: dict[str, Any]) -> str:
    """`tts.speak` to a mocked media player; returns the media-source id it was given."""
    calls = async_mock_service(hass, "media_player", "play_media")
    await hass.services.async_call(
        "tts",
        "speak",
        {
            "entity_id": TTS_ENTITY,
            "media_player_entity_id": "media_player.kitchen",
            "message": message,
            "cache": False,
            "options": {"preferred_format": "wav", **options},
        },
        blocking=True,
    )
    assert len(calls) == 1
    assert calls[0].data["announce"] is True
    media_id: str = calls[0].data["media_content_id"]
    assert media_id.startswith(f"media-source://tts/{TTS_ENTITY}?")
    return media_id


def tts_options(media_id: str) -> dict[str, Any]:
    """The options HA encoded in a TTS media-source id."""
    query = parse_qs(urlparse(media_id).query)
    options: dict[str, Any] = json.loads(query["tts_options"][0])
    return options


def as_wav(media_id: str) -> str:
    """The same media-source id asking for WAV (there is no ffmpeg to make mp3 in the tests)."""
    url = urlparse(media_id)
    query = parse_qs(url.query)
    options = {**json.loads(query["tts_options"][0]), "preferred_format": "wav"}
    query["tts_options"] = [json.dumps(options)]
    return url._replace(query=urlencode(query, doseq=True)).geturl()


async def test_speak_in_chosen_voice(
    hass: HomeAssistant, fake_server: FakeServer, loaded_entry: MockConfigEntry
) -> None:
    """tts.speak with voice mum: the server gets voice mum and HA gets mum's audio as a complete WAV.

    A text known whole goes as one `synthesize` even to a streaming server, so HA only ever
    gets complete audio (a cut-off reply is an error, not a short file).
    """
    message = "Dinner is ready. Come down!"
    media_id = await speak(hass, message, {"voice": "mum"})
    extension, audio = await tts.async_get_media_source_audio(hass, media_id)
    assert extension == "wav"
    rate, width, channels, data_size, pcm = parse_wav(audio)
    assert (rate, width, channels) == (RATE_HZ, 2, 1)
    assert pcm == fake_pcm(message, "mum")
    assert data_size == len(pcm)
    request = fake_server.requests[-1]
    assert request.streaming is False
    assert request.voice == {"name": "mum"}
    assert request.extras is None
    assert request.text == message


async def test_non_streaming_server_gets_one_synthesize(
    hass: HomeAssistant, fake_server: FakeServer, config_entry: MockConfigEntry
) -> None:
    """A server started with --no-streaming gets plain `synthesize`; the WAV has exact sizes."""
    fake_server.streaming = False
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    message = "Lights out in ten minutes."
    media_id = await speak(hass, message, {"voice": "dad"})
    _, audio = await tts.async_get_media_source_audio(hass, media_id)
    _, _, _, data_size, pcm = parse_wav(audio)
    assert pcm == fake_pcm(message, "dad")
    assert data_size == len(pcm)
    assert [(request.streaming, request.text) for request in fake_server.requests] == [(False, message)]


async def test_options_reach_the_server(
    hass: HomeAssistant, fake_server: FakeServer, loaded_entry: MockConfigEntry
) -> None:
    """speed, seed and style travel in the namespaced `edge_tts_clone` field; style also as speaker."""
    media_id = await speak(hass, "Good night.", {"voice": "mum", "speed": 1.25, "seed": 7, "style": "calm"})
    await tts.async_get_media_source_audio(hass, media_id)
    request = fake_server.requests[-1]
    assert request.voice == {"name": "mum", "speaker": "calm"}
    assert request.extras == {"speed": 1.25, "seed": 7, "style": "calm"}


async def test_options_flow_defaults_apply(
    hass: HomeAssistant, fake_server: FakeServer, loaded_entry: MockConfigEntry
) -> None:
    """Without a voice option, the options flow's default voice and speed are used."""
    hass.config_entries.async_update_entry(
        loaded_entry, options={CONF_DEFAULT_VOICE: "dad", CONF_DEFAULT_SPEED: 0.8}
    )
    await hass.async_block_till_done()
    media_id = await speak(hass, "Time for school.", {})
    await tts.async_get_media_source_audio(hass, media_id)
    request = fake_server.requests[-1]
    assert request.voice == {"name": "dad"}
    assert request.extras == {"speed": 0.8}
    state = hass.states.get(TTS_ENTITY)
    assert state is not None


def _media_id(hass: HomeAssistant, message: str, options: dict[str, Any]) -> str:
    """A media-source id for our engine, as a media browser or an earlier call would hold it."""
    return tts.generate_media_source_id(
        hass, message, engine=TTS_ENTITY, options={"preferred_format": "wav", **options}, cache=False
    )


@pytest.mark.parametrize(
    ("options", "key", "placeholders"),
    [
        ({"voice": "mum", "speed": 5}, "invalid_option", {"min_speed": "0.5", "max_speed": "2.0"}),
        ({"voice": "nobody"}, "unknown_voice", {"voice": "nobody"}),
        (
            {"voice": "joe", "style": "shouty"},
            "unknown_style",
            {"voice": "joe", "style": "shouty", "styles": "default"},
        ),
    ],
)
async def test_bad_options_are_refused_with_the_right_reason(
    hass: HomeAssistant,
    fake_server: FakeServer,
    loaded_entry: MockConfigEntry,
    options: dict[str, Any],
    key: str,
    placeholders: dict[str, str],
) -> None:
    """tts.speak fails at once, and a media id fails when fetched; nothing reaches the server.

    An unknown style names the voice's styles, as the announce action does (not "no voice joe").
    """
    calls = async_mock_service(hass, "media_player", "play_media")
    with pytest.raises(ServiceValidationError) as caught:
        await hass.services.async_call(
            "tts",
            "speak",
            {
                "entity_id": TTS_ENTITY,
                "media_player_entity_id": "media_player.kitchen",
                "message": "Hi.",
                "options": options,
            },
            blocking=True,
        )
    assert (caught.value.translation_key, caught.value.translation_placeholders) == (key, placeholders)
    with pytest.raises(HomeAssistantError) as fetched:
        await tts.async_get_media_source_audio(hass, _media_id(hass, "Hi.", options))
    assert fetched.value.translation_key == key
    assert calls == [] and fake_server.requests == []


async def test_unknown_voice_reported_by_the_server(
    hass: HomeAssistant, fake_server: FakeServer, loaded_entry: MockConfigEntry
) -> None:
    """A voice deleted on the server since the last poll: the server's `unknown-voice` names it."""
    media_id = _media_id(hass, "Hello.", {"voice": "dad"})
    del fake_server.voices["dad"]
    with pytest.raises(HomeAssistantError) as caught:
        await tts.async_get_media_source_audio(hass, media_id)
    assert caught.value.translation_key == "unknown_voice"
    assert caught.value.translation_placeholders == {"voice": "dad"}


@pytest.mark.parametrize(("language", "voice"), [("en", "joe"), ("zh", "dad")])
async def test_without_default_voice_first_voice_by_name_speaks(
    hass: HomeAssistant, fake_server: FakeServer, loaded_entry: MockConfigEntry, language: str, voice: str
) -> None:
    """No voice asked for and no default set: the first voice by name that speaks the language."""
    media_id = tts.generate_media_source_id(
        hass, "Hello.", engine=TTS_ENTITY, language=language, options={"preferred_format": "wav"}, cache=False
    )
    await tts.async_get_media_source_audio(hass, media_id)
    assert fake_server.requests[-1].voice == {"name": voice}


async def test_voices_listed_and_refreshed(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    fake_server: FakeServer,
    loaded_entry: MockConfigEntry,
) -> None:
    """One HA voice per person, by language; a new voice appears at the next poll, no reload."""
    client = await hass_ws_client(hass)

    async def voices(language: str) -> list[dict[str, str]]:
        await client.send_json_auto_id(
            {"type": "tts/engine/voices", "engine_id": TTS_ENTITY, "language": language}
        )
        msg = await client.receive_json()
        assert msg["success"], msg
        result: list[dict[str, str]] = msg["result"]["voices"]
        return result

    assert await voices("en") == [
        {"voice_id": "joe", "name": "Joe (stock)"},
        {"voice_id": "mum", "name": "Mum"},
    ]
    assert await voices("zh") == [{"voice_id": "dad", "name": "Dad"}, {"voice_id": "mum", "name": "Mum"}]
    entity = get_engine_instance(hass, TTS_ENTITY)
    assert entity is not None
    assert set(entity.supported_languages) >= {"en", "en-US", "en_US", "zh"}

    fake_server.voices["grandma"] = voice_json("grandma", "Grandma", ["zh-CN"], ["default"])
    async_fire_time_changed(hass, dt_util.utcnow() + UPDATE_INTERVAL)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert await voices("zh") == [
        {"voice_id": "dad", "name": "Dad"},
        {"voice_id": "grandma", "name": "Grandma"},
        {"voice_id": "mum", "name": "Mum"},
    ]
    assert "zh-CN" in entity.supported_languages


async def test_first_sentence_plays_before_the_text_is_complete(
    hass: HomeAssistant, fake_server: FakeServer, loaded_entry: MockConfigEntry
) -> None:
    """Streaming input: audio of sentence one arrives while the LLM is still 'writing'.

    The text source only yields sentence two after the test has received sentence one's
    audio; an implementation that waited for the whole text would deadlock here.
    """
    entity = get_engine_instance(hass, TTS_ENTITY)
    assert isinstance(entity, EdgeTtsCloneTtsEntity)
    assert entity.async_supports_streaming_input() is True
    first_audio_heard = asyncio.Event()

    async def llm_answer() -> AsyncGenerator[str]:
        yield "The washing "
        yield "is done. "
        await first_audio_heard.wait()
        yield "Please hang it up."

    response = await entity.async_stream_tts_audio(
        TTSAudioRequest(language="en", options={"voice": "mum"}, message_gen=llm_answer())
    )
    assert response.extension == "wav"
    chunks: list[bytes] = []
    async with asyncio.timeout(30):  # a deadlock guard, not a timing assertion
        async for chunk in response.data_gen:
            chunks.append(chunk)
            if len(chunks) == 2:
                first_audio_heard.set()
    assert chunks[1] == fake_pcm("The washing is done.", "mum")
    assert b"".join(chunks[1:]) == fake_pcm("The washing is done.", "mum") + fake_pcm(
        "Please hang it up.", "mum"
    )
    assert fake_server.requests[-1].chunks == ["The washing ", "is done. ", "Please hang it up."]


async def test_entity_metadata(hass: HomeAssistant, loaded_entry: MockConfigEntry) -> None:
    """Real name, unique id from the server id, options HA validates against."""
    entity = get_engine_instance(hass, TTS_ENTITY)
    assert isinstance(entity, EdgeTtsCloneTtsEntity)
    assert entity.name == "Cloned voices"
    assert entity.unique_id == f"{loaded_entry.unique_id}-tts"
    assert set(entity.supported_options or []) >= {"voice", "speed", "style", "seed"}
    assert entity.default_language == "en"
