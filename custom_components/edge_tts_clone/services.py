"""Actions `announce`, `enroll_voice`, `delete_voice` and `install_model` (registered once in async_setup).

`announce` speaks through our TTS entity with a chosen voice: media players get
`media_player.play_media` with `announce: true`, Assist satellites get
`assist_satellite.announce` with a TTS media-source id, so they speak in that voice and not
in their pipeline's. Voice and model management go to the server's admin HTTP API; installing a
model and importing a fine-tune run as jobs on the server, which an action can wait for.
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
from .checkpoint_source import async_find_fine_tune
from .const import (
    ATTR_AUDIO,
    ATTR_CACHE,
    ATTR_CONFIG_ENTRY_ID,
    ATTR_CONSENT,
    ATTR_FORCE,
    ATTR_GPT,
    ATTR_LANGUAGE,
    ATTR_MESSAGE,
    ATTR_MODEL,
    ATTR_NAME,
    ATTR_PREANNOUNCE,
    ATTR_REPLACE,
    ATTR_SOVITS,
    ATTR_SPEED,
    ATTR_STYLE,
    ATTR_TRANSCRIPT,
    ATTR_VOICE,
    ATTR_VOICE_ID,
    ATTR_WAIT,
    DEFAULT_MODEL,
    DOMAIN,
    MAX_SPEED,
    MIN_SPEED,
    MODELS,
    OPTION_SPEED,
    OPTION_STYLE,
    OPTION_VOICE,
    SERVICE_ANNOUNCE,
    SERVICE_DELETE_VOICE,
    SERVICE_ENROLL_VOICE,
    SERVICE_INSTALL_MODEL,
)
from .coordinator import EdgeTtsCloneConfigEntry
from .errors import CannotConnect, EdgeTtsCloneError, InvalidAuth, ServerError
from .targets import referenced_entity_ids
from .wire import EnrollRequest, FineTuneRequest, ServerJob

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
        vol.Optional(ATTR_GPT): cv.string,
        vol.Optional(ATTR_SOVITS): cv.string,
    }
)
CONSENT_STATEMENT: Final = (
    "{who} agreed that their voice may be recorded and cloned "
    "(confirmed in Home Assistant with the edge_tts_clone.enroll_voice action)"
)

DELETE_SCHEMA: Final = vol.Schema({**_ENTRY_FIELD, vol.Required(ATTR_VOICE): _VOICE_ID})
INSTALL_SCHEMA: Final = vol.Schema(
    {
        **_ENTRY_FIELD,
        vol.Optional(ATTR_MODEL, default=DEFAULT_MODEL): vol.In(MODELS),
        vol.Optional(ATTR_REPLACE, default=False): cv.boolean,
        vol.Optional(ATTR_WAIT, default=False): cv.boolean,
    }
)


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
    fine_tune = call.data.get(ATTR_GPT), call.data.get(ATTR_SOVITS)
    if any(fine_tune) and (not all(fine_tune) or call.data.get(ATTR_VOICE_ID) or not name):
        raise _error("fine_tune_fields")
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
    if fine_tune[0] and fine_tune[1]:
        return await _async_enroll_with_fine_tune(hass, entry, fine_tune[0], fine_tune[1], request)
    try:
        result = await entry.runtime_data.client.async_enroll_voice(request)
    except ServerError as err:
        if err.code == "rejected" or err.status == 422:
            reasons = _reasons(err.report) or err.message
            raise _error("voice_rejected", reasons=reasons) from err
        if err.code == "no-model":
            raise _error("no_model") from err
        raise _server_failure(entry, err) from err
    except EdgeTtsCloneError as err:
        raise _server_failure(entry, err) from err
    await entry.runtime_data.async_refresh()
    voice_id = result.voice.get("id")
    return {"voice_id": voice_id if isinstance(voice_id, str) else "", "report": dict(result.report)}


async def _async_enroll_with_fine_tune(
    hass: HomeAssistant, entry: EdgeTtsCloneConfigEntry, gpt: str, sovits: str, enroll: EnrollRequest
) -> ServiceResponse:
    """Upload the person's fine-tune with the clip; the server converts it, then enrolls the voice with it."""
    gpt_path, sovits_path = await async_find_fine_tune(hass, gpt, sovits)
    client = entry.runtime_data.client
    try:
        job = await client.async_import_fine_tune(FineTuneRequest(gpt_path, sovits_path, enroll))
        job = await client.async_wait_for_job(job)
    except EdgeTtsCloneError as err:
        raise _job_refusal(entry, err) from err
    if job.code == "rejected":
        raise _error("voice_rejected", reasons=_reasons(job.report) or job.error or "")
    _raise_unless_succeeded(job)
    await entry.runtime_data.async_refresh()
    return {"voice_id": job.voice_id or "", "report": dict(job.report or {}), "model_id": job.model_id}


async def _async_install_model(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    entry = _entry_for_call(hass, call)
    client = entry.runtime_data.client
    try:
        job = await client.async_install_model(call.data[ATTR_MODEL], call.data[ATTR_REPLACE])
        if call.data[ATTR_WAIT]:
            job = await client.async_wait_for_job(job)
    except EdgeTtsCloneError as err:
        raise _job_refusal(entry, err) from err
    if call.data[ATTR_WAIT]:
        _raise_unless_succeeded(job)
    return job.as_response()


def _job_refusal(entry: EdgeTtsCloneConfigEntry, err: EdgeTtsCloneError) -> HomeAssistantError:
    """A translated error for a job the server would not start (or lost track of)."""
    if isinstance(err, ServerError) and err.code == "already-installed":
        return _error("model_installed", message=err.message)
    if isinstance(err, ServerError) and err.code == "job-running":
        return _error("job_running", message=err.message)
    if isinstance(err, ServerError) and err.code == "insufficient-storage":
        return _error("not_enough_space", message=err.message)
    return _server_failure(entry, err)


def _raise_unless_succeeded(job: ServerJob) -> None:
    placeholders = {"model": job.model_id, "reason": job.error or job.message}
    if job.state == "failed":
        raise HomeAssistantError(
            translation_domain=DOMAIN, translation_key="job_failed", translation_placeholders=placeholders
        )
    if job.state == "cancelled":
        raise HomeAssistantError(
            translation_domain=DOMAIN, translation_key="job_cancelled", translation_placeholders=placeholders
        )
    if job.state != "succeeded":
        raise HomeAssistantError(
            translation_domain=DOMAIN, translation_key="job_still_running", translation_placeholders=placeholders
        )


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
    Action(SERVICE_INSTALL_MODEL, INSTALL_SCHEMA, _async_install_model, SupportsResponse.OPTIONAL),
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
