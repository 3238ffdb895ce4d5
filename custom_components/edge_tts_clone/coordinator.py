"""Keeps the server's voice list fresh: polls every 30 s and right after enroll/delete.

A failed refresh makes the TTS entity unavailable; the next good one brings it back.
The base coordinator logs the first failure once at ERROR and the recovery at INFO, so
a server that is down for hours does not flood the log. A rejected token starts the
re-authentication flow (`ConfigEntryAuthFailed`).
"""

from __future__ import annotations

import logging

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryAuthFailed
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed

from .client import EdgeTtsCloneClient
from .const import DOMAIN, UPDATE_INTERVAL
from .errors import EdgeTtsCloneError, InvalidAuth
from .models import EdgeTtsCloneConfigEntry, ServerState

_LOGGER = logging.getLogger(__name__)


class EdgeTtsCloneCoordinator(DataUpdateCoordinator[ServerState]):
    """Health, Wyoming `info` and the voice list of one server."""

    config_entry: EdgeTtsCloneConfigEntry

    def __init__(
        self, hass: HomeAssistant, entry: EdgeTtsCloneConfigEntry, client: EdgeTtsCloneClient
    ) -> None:
        """One coordinator per config entry."""
        super().__init__(
            hass,
            _LOGGER,
            config_entry=entry,
            name=f"{DOMAIN} {client.host}",
            update_interval=UPDATE_INTERVAL,
        )
        self.client = client
        self._reported_foreign_id: str | None = None

    async def _async_update_data(self) -> ServerState:
        """Ask the server for everything the entity shows; `UpdateFailed` if it is down."""
        try:
            health = await self.client.async_health()
            await self.client.async_check_auth()
            info = await self.client.async_describe()
            voices, skipped = await self.client.async_list_voices()
        except InvalidAuth as err:
            raise ConfigEntryAuthFailed(translation_domain=DOMAIN, translation_key="invalid_auth") from err
        except EdgeTtsCloneError as err:
            raise UpdateFailed(f"{self.client.host}: {err}") from err
        if health.server_id != self.config_entry.unique_id and health.server_id != self._reported_foreign_id:
            self._reported_foreign_id = health.server_id
            _LOGGER.warning(
                "The server at %s now reports id %s, not %s: another server may have taken its address",
                self.client.host,
                health.server_id,
                self.config_entry.unique_id,
            )
        return ServerState(health=health, info=info, voices=voices, skipped=skipped)
