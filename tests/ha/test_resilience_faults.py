"""More of issue 6 item 6: an admin API answering garbage, a token rejected during an action, a server
that stalls mid-reply. Every case ends in a translated error or a failed refresh, never an
exception escaping into HA, a hung request or a blocking call (the conftest's loop guard); and
service comes back by itself once the server behaves.
"""

from __future__ import annotations

import logging
from pathlib import Path
from unittest.mock import patch

import pytest
from homeassistant.components import tts
from homeassistant.config_entries import SOURCE_REAUTH
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.edge_tts_clone.client import EdgeTtsCloneClient

from .fake_server import FakeServer, fake_pcm, parse_wav
from .test_resilience import poll
from .test_services import media_dir
from .test_tts import speak

__all__ = ["media_dir"]

SHORT_TIMEOUT_S = 0.3
"""Stands in for the integration's 10 s (HTTP) and 60 s (audio idle) limits, so a stall ends fast."""


@pytest.mark.parametrize("mode", ["html", "wrong-json", "truncated", "error-html"])
async def test_admin_api_garbage_marks_the_server_down_until_it_recovers(
    hass: HomeAssistant,
    fake_server: FakeServer,
    loaded_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
    mode: str,
) -> None:
    """A proxy's HTML page, JSON of the wrong shape, half a body, a 502: refresh fails, logged once, back."""
    fake_server.http_mode = mode
    caplog.clear()
    await poll(hass)
    await poll(hass)
    assert not loaded_entry.runtime_data.last_update_success
    assert sum("Error fetching" in r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR) == 1
    assert not [r for r in caplog.records if r.exc_info], "no traceback for a garbage answer"

    with pytest.raises(HomeAssistantError) as caught:  # actions fail with a message, not a traceback
        await hass.services.async_call("edge_tts_clone", "delete_voice", {"voice": "dad"}, blocking=True)
    assert caught.value.translation_key == "server_error"

    fake_server.http_mode = "ok"
    await poll(hass)
    assert loaded_entry.runtime_data.last_update_success
    media_id = await speak(hass, "Back to normal.", {"voice": "mum"})
    _, audio = await tts.async_get_media_source_audio(hass, media_id)
    assert parse_wav(audio)[4] == fake_pcm("Back to normal.", "mum")


@pytest.mark.parametrize("action", ["delete_voice", "enroll_voice"])
async def test_token_rejected_during_an_action_starts_reauth(
    hass: HomeAssistant, fake_server: FakeServer, loaded_entry: MockConfigEntry, media_dir: Path, action: str
) -> None:
    """The token was rotated between polls: the action fails with `invalid_auth` and re-auth opens."""
    fake_server.token = "rotated"
    data: dict[str, object] = {"voice": "dad"}
    if action == "enroll_voice":
        data = {
            "name": "Grandma",
            "audio": "media-source://media_source/local/voices/grandma.wav",
            "transcript": "Hello, this is Grandma speaking.",
            "language": "en",
            "consent": True,
        }
    with pytest.raises(HomeAssistantError) as caught:
        await hass.services.async_call(
            "edge_tts_clone", action, data, blocking=True, return_response=action == "enroll_voice"
        )
    assert caught.value.translation_key == "invalid_auth"
    await hass.async_block_till_done()
    flows = hass.config_entries.flow.async_progress_by_handler("edge_tts_clone")
    assert [flow["context"]["source"] for flow in flows] == [SOURCE_REAUTH]
    assert fake_server.uploads == [] and "dad" in fake_server.voices  # nothing happened on the server


async def test_wyoming_stall_mid_reply_times_out_and_is_not_cached(
    hass: HomeAssistant, fake_server: FakeServer, loaded_entry: MockConfigEntry
) -> None:
    """audio-start, then nothing: the request ends with `synthesis_interrupted` after the idle limit."""
    fake_server.wyoming_mode = "hang"
    with patch("custom_components.edge_tts_clone.wyoming_link.AUDIO_IDLE_TIMEOUT_S", SHORT_TIMEOUT_S):
        media_id = await speak(hass, "The parcel has arrived.", {"voice": "dad"})
        with pytest.raises(HomeAssistantError) as caught:
            await tts.async_get_media_source_audio(hass, media_id)
    assert caught.value.translation_key == "synthesis_interrupted"
    fake_server.wyoming_mode = "ok"
    _, audio = await tts.async_get_media_source_audio(hass, media_id)
    assert parse_wav(audio)[4] == fake_pcm("The parcel has arrived.", "dad")


async def test_admin_api_stall_fails_the_refresh(
    hass: HomeAssistant, fake_server: FakeServer, loaded_entry: MockConfigEntry
) -> None:
    """An admin API that accepts the connection and never answers: the poll gives up, HA goes on."""
    fake_server.http_mode = "hang"
    with patch.dict(EdgeTtsCloneClient._request.__kwdefaults__, {"timeout_s": SHORT_TIMEOUT_S}):
        await poll(hass)
        assert not loaded_entry.runtime_data.last_update_success
    fake_server.http_mode = "ok"
    await poll(hass)
    assert loaded_entry.runtime_data.last_update_success
