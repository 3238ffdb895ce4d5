"""Server down, token rotated, restarts mid-announcement and garbage.

HA's harness fails a test on any blocking call in the event loop, on lingering tasks and on
lingering timers, so these tests also show the integration stays clean in every failure.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.components import tts
from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
    async_mock_service,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.edge_tts_clone.const import DOMAIN, UNREACHABLE_ISSUE_AFTER, UPDATE_INTERVAL

from .conftest import TTS_ENTITY
from .fake_server import FakeServer, fake_pcm, parse_wav
from .test_tts import speak


async def poll(hass: HomeAssistant) -> None:
    """Let the coordinator's next scheduled refresh run to completion."""
    async_fire_time_changed(hass, dt_util.utcnow() + UPDATE_INTERVAL)
    await hass.async_block_till_done(wait_background_tasks=True)


def _state(hass: HomeAssistant) -> str:
    state = hass.states.get(TTS_ENTITY)
    assert state is not None
    return state.state


def _issue(hass: HomeAssistant, entry: MockConfigEntry) -> ir.IssueEntry | None:
    return ir.async_get(hass).async_get_issue(DOMAIN, f"server_unreachable_{entry.entry_id}")


async def test_server_down_fails_loudly_then_recovers(
    hass: HomeAssistant,
    fake_server: FakeServer,
    loaded_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Server stops: tts.speak, a media id and announce all fail with the reason; logged once;
    a repair issue after five minutes; server back: the issue goes, recovery logged once.

    The entity stays available: HA would skip an unavailable engine in tts.speak without a word.
    """
    caplog.clear()
    await fake_server.stop()
    await poll(hass)
    await poll(hass)
    assert _state(hass) != STATE_UNAVAILABLE
    assert not loaded_entry.runtime_data.last_update_success
    failures = [r for r in caplog.records if r.levelno >= logging.ERROR and "Error fetching" in r.getMessage()]
    assert len(failures) == 1
    assert "Cannot read the state of the edge-tts-clone server at 127.0.0.1" in failures[0].getMessage()
    assert _issue(hass, loaded_entry) is None  # a minute is not "a while"

    played = async_mock_service(hass, "media_player", "play_media")
    with pytest.raises(HomeAssistantError) as caught:
        await hass.services.async_call(
            "tts",
            "speak",
            {"entity_id": TTS_ENTITY, "media_player_entity_id": "media_player.kitchen", "message": "Hello?"},
            blocking=True,
        )
    assert caught.value.translation_key == "server_unavailable"
    media_id = tts.generate_media_source_id(
        hass, "Anyone there?", engine=TTS_ENTITY, options={"voice": "mum", "preferred_format": "wav"}
    )
    with pytest.raises(HomeAssistantError) as caught:
        await tts.async_get_media_source_audio(hass, media_id)
    assert caught.value.translation_key == "server_unavailable"
    with pytest.raises(HomeAssistantError) as caught:
        await hass.services.async_call(
            DOMAIN, "announce", {"entity_id": "media_player.kitchen", "message": "Hi"}, blocking=True
        )
    assert caught.value.translation_key == "server_unavailable"
    assert played == []

    freezer.tick(UNREACHABLE_ISSUE_AFTER)
    await poll(hass)
    issue = _issue(hass, loaded_entry)
    assert issue is not None
    assert issue.translation_key == "server_unreachable"
    assert issue.severity is ir.IssueSeverity.ERROR and not issue.is_fixable
    assert issue.translation_placeholders == {"title": loaded_entry.title, "host": "127.0.0.1", "minutes": "5"}

    await fake_server.start()
    await poll(hass)
    assert loaded_entry.runtime_data.last_update_success
    assert _issue(hass, loaded_entry) is None
    assert sum("recovered" in r.getMessage() for r in caplog.records) == 1


async def test_unloading_removes_the_outage_issue(
    hass: HomeAssistant, fake_server: FakeServer, loaded_entry: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """An entry that is unloaded (or removed) leaves no repair issue behind."""
    await fake_server.stop()
    await poll(hass)
    freezer.tick(UNREACHABLE_ISSUE_AFTER + timedelta(seconds=1))
    await poll(hass)
    assert _issue(hass, loaded_entry) is not None
    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    assert _issue(hass, loaded_entry) is None


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
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == [SOURCE_REAUTH]


async def test_token_rotated_while_running_starts_reauth(
    hass: HomeAssistant, fake_server: FakeServer, loaded_entry: MockConfigEntry
) -> None:
    """401 on a later poll also asks the user for the new token."""
    fake_server.token = "rotated"
    await poll(hass)
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
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
    assert parse_wav(audio)[4] == fake_pcm("The garage door is open.", "mum")
    await poll(hass)
    assert loaded_entry.runtime_data.last_update_success


async def test_speech_cut_off_is_an_http_error_not_a_short_file(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    fake_server: FakeServer,
    loaded_entry: MockConfigEntry,
) -> None:
    """What a media player sees: a server stopped mid-speech answers 500, never 200 with half the audio.

    The same URL path, with the server whole again, gives the complete WAV with 200.
    """
    client = await hass_client()
    message = "Storm warning. Close the windows."

    async def fetch() -> tuple[int, bytes]:
        answer = await client.post(
            "/api/tts_get_url",
            json={
                "engine_id": TTS_ENTITY,
                "message": message,
                "cache": False,
                "options": {"voice": "dad", "preferred_format": "wav"},
            },
        )
        assert answer.status == 200
        path = (await answer.json())["path"]
        audio = await client.get(path)
        return audio.status, await audio.read()

    fake_server.wyoming_mode = "drop"
    status, body = await fetch()
    assert fake_server.audio_sent.is_set()  # the server did send half of it
    assert (status, body) == (500, b"")

    fake_server.wyoming_mode = "ok"
    status, body = await fetch()
    assert status == 200
    assert parse_wav(body)[4] == fake_pcm(message, "dad")


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
    assert parse_wav(audio)[4] == fake_pcm("Storm warning. Close the windows.", "dad")


async def test_non_streaming_broken_reply(
    hass: HomeAssistant, fake_server: FakeServer, config_entry: MockConfigEntry
) -> None:
    """A server started with --no-streaming handles a dropped connection the same way."""
    fake_server.streaming = False
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    fake_server.wyoming_mode = "drop"
    media_id = await speak(hass, "Bedtime.", {"voice": "dad"})
    with pytest.raises(HomeAssistantError) as caught:
        await tts.async_get_media_source_audio(hass, media_id)
    assert caught.value.translation_key == "synthesis_interrupted"
