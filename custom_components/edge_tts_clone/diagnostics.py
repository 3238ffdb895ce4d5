"""Diagnostics: connection settings (token redacted), options, server health and voices."""

from __future__ import annotations

import dataclasses
from typing import Any, Final

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.core import HomeAssistant

from .const import CONF_TOKEN
from .coordinator import EdgeTtsCloneConfigEntry

TO_REDACT: Final = {CONF_TOKEN}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: EdgeTtsCloneConfigEntry
) -> dict[str, Any]:
    """What a bug report needs; never the admin token."""
    coordinator = entry.runtime_data
    state = coordinator.data
    return {
        "entry": {
            "title": entry.title,
            "data": async_redact_data(dict(entry.data), TO_REDACT),
            "options": dict(entry.options),
        },
        "server": {
            "available": coordinator.last_update_success,
            "last_error": repr(coordinator.last_exception) if coordinator.last_exception else None,
            "health": dataclasses.asdict(state.health) if state else None,
            "wyoming": dataclasses.asdict(state.info) if state else None,
            "voices": [dataclasses.asdict(voice) for voice in state.voices] if state else [],
            "skipped_voices": [dict(item) for item in state.skipped] if state else [],
        },
    }
