"""Server down, token rotated, restarts mid-announcement and garbage (issue 6, item 6).

HA's harness fails a test on any blocking call in the event loop, on lingering tasks and on
lingering timers, so these tests also show the integration stays clean in every failure.
"""

from __future__ import annotations

import logging

import pytest
from homeassistant.components import tts
from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.edge_tts_clone.const import UPDATE_INTERVAL

from .conftest import TTS_ENTITY
from .fake_server import FakeServer, expected_stream_pcm, parse_wav
from .test_tts import speak


async def poll(hass: HomeAssistant) -> None:
    """Let the coordinator's next scheduled refresh run to completion."""
    async_fire_time_changed(hass, dt_util.utcnow() + UPDATE_INTERVAL)
    await hass.async_block_till_done(wait_background_tasks=True)


def _state(hass: HomeAssistant) -> str:
    state = hass.states.get(TTS_ENTITY)
    assert state is not None
    return state.state


async def test_unavailable_while_down_then_recovers(
    hass: HomeAssistant,
    fake_server: FakeServer,
    loaded_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Server stops: entity unavailable, logged once; server back: available, logged once."""
    assert _state(hass) != STATE_UNAVAILABLE
    await fake_server.stop()
    caplog.clear()
    await poll(hass)
    await poll(hass)
    assert _state(hass) == STATE_UNAVAILABLE
    failures = [
        r for r in caplog.records if r.levelno >= logging.ERROR and "Error fetching" in r.getMessage()
    ]
    assert len(failures) == 1

    # tts.speak skips an unavailable entity; a media id made earlier (e.g. queued) still fails cleanly.
    media_id = tts.generate_media_source_id(
        hass, "Anyone there?", engine=TTS_ENTITY, options={"voice": "mum", "preferred_format": "wav"}
    )
    with pytest.raises(HomeAssistantError) as caught:
        await tts.async_get_media_source_audio(hass, media_id)
    assert caught.value.translation_key == "server_unavailable"
    with pytest.raises(HomeAssistantError) as caught:
        await hass.services.async_call(
            "edge_tts_clone",
            "announce",
            {"entity_id": "media_player.kitchen", "message": "Hi"},
            blocking=True,
        )
    assert caught.value.translation_key == "server_unavailable"

    await fake_server.start()
    await poll(hass)
    assert _state(hass) != STATE_UNAVAILABLE
    assert sum("recovered" in r.getMessage() for r in caplog.records) == 1


async def test_setup_retries_while_server_is_down(
    hass: HomeAssistant, fake_server: FakeServer, config_entry: MockConfigEntry
) -> None:
    """A server that is off when HA starts: the entry waits and retries (ConfigEntryNotReady)."""
    await fake_server.stop()
    assert not await hass.config_entries.async_setup(config_entry.entry_id)
    assert config_entry.state is ConfigEntryState.SETUP_RETRY


async def test_rejected_token_at_setup_starts_reauth(
    hass: HomeAssistant, fake_server: FakeServer, config_entry: MockConfigEntry
) -> None:
    """401 at setup: ConfigEntryAuthFailed, and HA opens the re-auth flow."""
    fake_server.token = "rotated"
    assert not await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    assert config_entry.state is ConfigEntryState.SETUP_ERROR
    flows = hass.config_entries.flow.async_progress_by_handler("edge_tts_clone")
    assert [flow["context"]["source"] for flow in flows] == [SOURCE_REAUTH]


async def test_token_rotated_while_running_starts_reauth(
    hass: HomeAssistant, fake_server: FakeServer, loaded_entry: MockConfigEntry
) -> None:
    """401 on a later poll also asks the user for the new token."""
    fake_server.token = "rotated"
    await poll(hass)
    flows = hass.config_entries.flow.async_progress_by_handler("edge_tts_clone")
    assert [flow["context"]["source"] for flow in flows] == [SOURCE_REAUTH]


@pytest.mark.parametrize("mode", ["drop", "garbage", "huge"])
async def test_broken_replies_fail_cleanly_and_next_request_works(
    hass: HomeAssistant, fake_server: FakeServer, loaded_entry: MockConfigEntry, mode: str
) -> None:
    """Restart mid-audio, junk bytes, an absurd payload_length: a translated error, then normal service.

    The failed attempt must not be cached: the same message afterwards gets full audio.
    """
    fake_server.wyoming_mode = mode
    media_id = await speak(hass, "The garage door is open.", {"voice": "mum"})
    with pytest.raises(HomeAssistantError) as caught:
        await tts.async_get_media_source_audio(hass, media_id)
    assert caught.value.translation_key == "synthesis_interrupted"

    fake_server.wyoming_mode = "ok"
    _, audio = await tts.async_get_media_source_audio(hass, media_id)
    assert parse_wav(audio)[4] == expected_stream_pcm("The garage door is open.", "mum")
    await poll(hass)
    assert _state(hass) != STATE_UNAVAILABLE


async def test_server_restart_during_announcement(
    hass: HomeAssistant, fake_server: FakeServer, loaded_entry: MockConfigEntry
) -> None:
    """The server goes away after the first half of the audio and comes back: HA keeps working."""
    fake_server.wyoming_mode = "drop"
    media_id = await speak(hass, "Storm warning. Close the windows.", {"voice": "dad"})
    with pytest.raises(HomeAssistantError):
        await tts.async_get_media_source_audio(hass, media_id)
    assert fake_server.audio_sent.is_set()
    await fake_server.stop()
    fake_server.wyoming_mode = "ok"
    await fake_server.start()
    await poll(hass)
    media_id = await speak(hass, "Storm warning. Close the windows.", {"voice": "dad"})
    _, audio = await tts.async_get_media_source_audio(hass, media_id)
    assert parse_wav(audio)[4] == expected_stream_pcm("Storm warning. Close the windows.", "dad")


async def test_non_streaming_broken_reply(
    hass: HomeAssistant, fake_server: FakeServer, config_entry: MockConfigEntry
) -> None:
    """The one-shot path handles a dropped connection the same way."""
    fake_server.streaming = False
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    fake_server.wyoming_mode = "drop"
    media_id = await speak(hass, "Bedtime.", {"voice": "dad"})
    with pytest.raises(HomeAssistantError) as caught:
        await tts.async_get_media_source_audio(hass, media_id)
    assert caught.value.translation_key == "synthesis_interrupted"
