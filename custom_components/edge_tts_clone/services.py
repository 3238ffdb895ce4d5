"""Actions `edge_tts_clone.announce`, `enroll_voice` and `delete_voice` (registered once in async_setup).

`announce` speaks through our TTS entity with a chosen voice: media players get
`media_player.play_media` with `announce: true`, Assist satellites get
`assist_satellite.announce` with a TTS media-source id, so they speak in that voice and not
in their pipeline's. Voice management goes to the server's admin HTTP API.
Each action is one row of `ACTIONS`: a schema, a handler and whether it answers with data.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, Final

import voluptuous as vol
from homeassistant.components import tts
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import ATTR_ENTITY_ID
from homeassistant.core import HomeAssistant, ServiceCall, ServiceResponse, SupportsResponse, callback
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.typing import VolDictType

from .audio_source import async_load_audio
from .const import (
    ATTR_AUDIO,
    ATTR_CACHE,
    ATTR_CONFIG_ENTRY_ID,
    ATTR_CONSENT,
    ATTR_FORCE,
    ATTR_LANGUAGE,
    ATTR_MESSAGE,
    ATTR_NAME,
    ATTR_PREANNOUNCE,
    ATTR_SPEED,
    ATTR_STYLE,
    ATTR_TRANSCRIPT,
    ATTR_VOICE,
    ATTR_VOICE_ID,
    DOMAIN,
    MAX_SPEED,
    MIN_SPEED,
    OPTION_SPEED,
    OPTION_STYLE,
    OPTION_VOICE,
    SERVICE_ANNOUNCE,
    SERVICE_DELETE_VOICE,
    SERVICE_ENROLL_VOICE,
)
from .coordinator import EdgeTtsCloneConfigEntry
from .errors import CannotConnect, EdgeTtsCloneError, InvalidAuth, ServerError
from .targets import referenced_entity_ids
from .wire import EnrollRequest

_LOGGER = logging.getLogger(__name__)

_VOICE_ID = vol.All(cv.string, vol.Match(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"))
"""The server's slug rule for voice ids (docs/http-api.md)."""
_ENTRY_FIELD: Final[VolDictType] = {vol.Optional(ATTR_CONFIG_ENTRY_ID): cv.string}

ANNOUNCE_SCHEMA: Final = vol.Schema(
    {
        **_ENTRY_FIELD,
        **cv.ENTITY_SERVICE_FIELDS,
        vol.Required(ATTR_MESSAGE): vol.All(cv.string, vol.Length(min=1)),
        vol.Optional(ATTR_VOICE): _VOICE_ID,
        vol.Optional(ATTR_STYLE): cv.string,
        vol.Optional(ATTR_SPEED): vol.All(vol.Coerce(float), vol.Range(min=MIN_SPEED, max=MAX_SPEED)),
        vol.Optional(ATTR_LANGUAGE): cv.string,
        vol.Optional(ATTR_CACHE, default=True): cv.boolean,
        vol.Optional(ATTR_PREANNOUNCE): cv.boolean,
    }
)
ENROLL_SCHEMA: Final = vol.Schema(
    {
        **_ENTRY_FIELD,
        vol.Optional(ATTR_NAME): vol.All(cv.string, vol.Length(min=1, max=80)),
        vol.Required(ATTR_AUDIO): cv.string,
        vol.Required(ATTR_TRANSCRIPT): vol.All(cv.string, vol.Length(min=1)),
        vol.Required(ATTR_LANGUAGE): cv.string,
        vol.Required(ATTR_CONSENT): cv.boolean,
        vol.Optional(ATTR_STYLE): cv.string,
        vol.Optional(ATTR_VOICE_ID): _VOICE_ID,
        vol.Optional(ATTR_FORCE, default=False): cv.boolean,
    }
)
CONSENT_STATEMENT: Final = (
    "{who} agreed that their voice may be recorded and cloned "
    "(confirmed in Home Assistant with the edge_tts_clone.enroll_voice action)"
)

DELETE_SCHEMA: Final = vol.Schema({**_ENTRY_FIELD, vol.Required(ATTR_VOICE): _VOICE_ID})


def _error(key: str, **placeholders: str) -> ServiceValidationError:
    return ServiceValidationError(
        translation_domain=DOMAIN, translation_key=key, translation_placeholders=placeholders or None
    )


def _entry_for_call(hass: HomeAssistant, call: ServiceCall) -> EdgeTtsCloneConfigEntry:
    """The entry named by `config_entry_id`, else the only loaded one."""
    if entry_id := call.data.get(ATTR_CONFIG_ENTRY_ID):
        entry = hass.config_entries.async_get_entry(entry_id)
        if entry is None or entry.domain != DOMAIN:
            raise _error("entry_not_found", entry_id=entry_id)
        if entry.state is not ConfigEntryState.LOADED:
            raise _error("entry_not_loaded", entry_id=entry_id)
        return entry
    loaded = [entry for entry in hass.config_entries.async_entries(DOMAIN) if entry.state is ConfigEntryState.LOADED]
    if not loaded:
        raise _error("no_server")
    if len(loaded) > 1:
        raise _error("several_servers")
    return loaded[0]


def _server_failure(entry: EdgeTtsCloneConfigEntry, err: EdgeTtsCloneError) -> HomeAssistantError:
    """A translated HA error for a failed admin API call."""
    coordinator = entry.runtime_data
    if isinstance(err, InvalidAuth):
        entry.async_start_reauth(coordinator.hass)
        return HomeAssistantError(translation_domain=DOMAIN, translation_key="invalid_auth")
    if isinstance(err, CannotConnect):
        return coordinator.unavailable_error()
    if isinstance(err, ServerError) and err.status is not None and err.status < 500:
        return _error("request_refused", message=err.message)
    return HomeAssistantError(
        translation_domain=DOMAIN,
        translation_key="server_error",
        translation_placeholders={"reason": str(err)},
    )


async def _async_announce(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    entry = _entry_for_call(hass, call)
    coordinator = entry.runtime_data
    engine = er.async_get(hass).async_get_entity_id("tts", DOMAIN, f"{entry.unique_id}-tts")
    if engine is None:
        raise _error("entry_not_loaded", entry_id=entry.entry_id)
    if coordinator.data is not None:
        coordinator.data.check_choice(call.data.get(ATTR_VOICE), call.data.get(ATTR_STYLE))
    targets = referenced_entity_ids(hass, call)
    players = sorted(entity for entity in targets if entity.startswith("media_player."))
    satellites = sorted(entity for entity in targets if entity.startswith("assist_satellite."))
    if not players and not satellites:
        raise _error("no_targets")
    await coordinator.async_ensure_reachable()  # fail the automation now, not silently on the speaker

    options: dict[str, Any] = {}
    for field, option in ((ATTR_VOICE, OPTION_VOICE), (ATTR_STYLE, OPTION_STYLE), (ATTR_SPEED, OPTION_SPEED)):
        if call.data.get(field) is not None:
            options[option] = call.data[field]
    message: str = call.data[ATTR_MESSAGE]
    try:
        media_id = tts.generate_media_source_id(
            hass,
            message,
            engine=engine,
            language=call.data.get(ATTR_LANGUAGE),
            options=options,
            cache=call.data[ATTR_CACHE],
        )
    except HomeAssistantError as err:
        raise _error("invalid_announcement", reason=str(err)) from err

    calls: list[Coroutine[Any, Any, ServiceResponse]] = []
    if players:
        calls.append(
            hass.services.async_call(
                "media_player",
                "play_media",
                {
                    ATTR_ENTITY_ID: players,
                    "media_content_id": media_id,
                    "media_content_type": "music",
                    "announce": True,
                },
                blocking=True,
                context=call.context,
            )
        )
    if satellites:
        satellite_data: dict[str, Any] = {
            ATTR_ENTITY_ID: satellites,
            "message": message,
            "media_id": media_id,
        }
        if call.data.get(ATTR_PREANNOUNCE) is not None:
            satellite_data["preannounce"] = call.data[ATTR_PREANNOUNCE]
        calls.append(
            hass.services.async_call(
                "assist_satellite", "announce", satellite_data, blocking=True, context=call.context
            )
        )
    _LOGGER.debug("announcing on %s with options %s", players + satellites, options)
    await asyncio.gather(*calls)
    return None


async def _async_enroll_voice(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    entry = _entry_for_call(hass, call)
    if call.data[ATTR_CONSENT] is not True:
        raise _error("consent_required")
    name: str | None = call.data.get(ATTR_NAME)
    if not name and not call.data.get(ATTR_VOICE_ID):
        raise _error("name_required")
    audio = await async_load_audio(hass, call.data[ATTR_AUDIO])
    who = name or call.data[ATTR_VOICE_ID]
    request = EnrollRequest(
        name=name,
        consent_statement=CONSENT_STATEMENT.format(who=who),
        audio=audio.data,
        filename=audio.filename,
        transcript=call.data[ATTR_TRANSCRIPT],
        language=call.data[ATTR_LANGUAGE],
        style=call.data.get(ATTR_STYLE),
        voice_id=call.data.get(ATTR_VOICE_ID),
        force=call.data[ATTR_FORCE],
    )
    try:
        result = await entry.runtime_data.client.async_enroll_voice(request)
    except ServerError as err:
        if err.code == "rejected" or err.status == 422:
            reasons = _reasons(err.report) or err.message
            raise _error("voice_rejected", reasons=reasons) from err
        raise _server_failure(entry, err) from err
    except EdgeTtsCloneError as err:
        raise _server_failure(entry, err) from err
    await entry.runtime_data.async_refresh()
    voice_id = result.voice.get("id")
    return {"voice_id": voice_id if isinstance(voice_id, str) else "", "report": dict(result.report)}


def _reasons(report: Mapping[str, Any] | None) -> str:
    reasons = report.get("reasons") if report else None
    return "; ".join(str(reason) for reason in reasons) if isinstance(reasons, list) else ""


async def _async_delete_voice(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    entry = _entry_for_call(hass, call)
    voice: str = call.data[ATTR_VOICE]
    try:
        await entry.runtime_data.client.async_delete_voice(voice)
    except ServerError as err:
        if err.status == 404 or err.code == "unknown-voice":
            raise _error("unknown_voice", voice=voice) from err
        if err.code == "builtin":
            raise _error("builtin_voice", voice=voice) from err
        raise _server_failure(entry, err) from err
    except EdgeTtsCloneError as err:
        raise _server_failure(entry, err) from err
    await entry.runtime_data.async_refresh()
    return None


@dataclass(frozen=True, slots=True)
class Action:
    """One action of this integration: its schema, its handler and whether it answers with data."""

    name: str
    schema: vol.Schema
    handler: Callable[[HomeAssistant, ServiceCall], Coroutine[Any, Any, ServiceResponse]]
    supports_response: SupportsResponse = SupportsResponse.NONE


ACTIONS: Final = (
    Action(SERVICE_ANNOUNCE, ANNOUNCE_SCHEMA, _async_announce),
    Action(SERVICE_ENROLL_VOICE, ENROLL_SCHEMA, _async_enroll_voice, SupportsResponse.OPTIONAL),
    Action(SERVICE_DELETE_VOICE, DELETE_SCHEMA, _async_delete_voice),
)


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register every action of `ACTIONS` (once, from `async_setup`)."""
    for action in ACTIONS:
        hass.services.async_register(
            DOMAIN,
            action.name,
            partial(action.handler, hass),
            schema=action.schema,
            supports_response=action.supports_response,
        )
