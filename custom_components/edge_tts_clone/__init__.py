"""edge_tts_clone: speak in the voices of your household, from a local edge-tts-clone server.

The integration only talks over the network: Wyoming for speech, the admin HTTP API for
voice management (contract: docs/http-api.md). It never imports the server package.
"""

from __future__ import annotations

from homeassistant.const import CONF_HOST, Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.typing import ConfigType

from .client import EdgeTtsCloneClient
from .const import CONF_HTTP_PORT, CONF_TOKEN, CONF_WYOMING_PORT, DOMAIN
from .coordinator import EdgeTtsCloneConfigEntry, EdgeTtsCloneCoordinator, unreachable_issue_id
from .services import async_setup_services

PLATFORMS: list[Platform] = [Platform.TTS]
CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the actions once, whether or not a server is configured yet."""
    async_setup_services(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: EdgeTtsCloneConfigEntry) -> bool:
    """Connect to the server; not ready (retried) while it is down, re-auth if the token is refused."""
    client = EdgeTtsCloneClient(
        async_get_clientsession(hass),
        entry.data[CONF_HOST],
        entry.data[CONF_WYOMING_PORT],
        entry.data[CONF_HTTP_PORT],
        entry.data[CONF_TOKEN],
    )
    coordinator = EdgeTtsCloneCoordinator(hass, entry, client)
    await coordinator.async_config_entry_first_refresh()
    entry.runtime_data = coordinator
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    return True


async def async_unload_entry(hass: HomeAssistant, entry: EdgeTtsCloneConfigEntry) -> bool:
    """Remove the TTS entity; the coordinator stops polling with the entry, and its outage issue goes."""
    unloaded = await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
    if unloaded:
        ir.async_delete_issue(hass, DOMAIN, unreachable_issue_id(entry))
    return unloaded
