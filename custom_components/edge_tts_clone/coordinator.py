"""Runtime state of one server: the coordinator (which holds the client) and its config entry type.

The coordinator polls every 30 s and right after enroll/delete. The base class logs the first
failed refresh once at ERROR and the recovery at INFO, so a server that is down for hours does
not flood the log; an outage longer than `UNREACHABLE_ISSUE_AFTER` also raises a repair issue,
which goes away by itself when the server answers again. A rejected token starts the
re-authentication flow (`ConfigEntryAuthFailed`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeAlias

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryAuthFailed, HomeAssistantError, ServiceValidationError
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed
from homeassistant.util import dt as dt_util

from .client import EdgeTtsCloneClient
from .const import DOMAIN, UNREACHABLE_ISSUE_AFTER, UPDATE_INTERVAL
from .errors import EdgeTtsCloneError, InvalidAuth
from .wire import ServerHealth, ServerVoice, WyomingInfo

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ServerState:
    """Everything the coordinator knows about the server after one refresh."""

    health: ServerHealth
    info: WyomingInfo
    voices: tuple[ServerVoice, ...]
    skipped: tuple[Mapping[str, Any], ...] = field(default=())
    """Voice packs the server could not read, with its reasons."""

    def voice(self, voice_id: str) -> ServerVoice | None:
        """The voice with this id, if the server has it."""
        return next((voice for voice in self.voices if voice.voice_id == voice_id), None)

    def check_choice(self, voice_id: str | None, style: str | None) -> None:
        """`ServiceValidationError` naming what is wrong when the voice or its style does not exist."""
        if voice_id is None:
            return
        voice = self.voice(voice_id)
        if voice is None:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="unknown_voice",
                translation_placeholders={"voice": voice_id},
            )
        if style and style not in voice.styles:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="unknown_style",
                translation_placeholders={"voice": voice_id, "style": style, "styles": ", ".join(voice.styles)},
            )


EdgeTtsCloneConfigEntry: TypeAlias = "ConfigEntry[EdgeTtsCloneCoordinator]"


def unreachable_issue_id(entry: ConfigEntry[Any]) -> str:
    """The repair issue raised while this entry's server stays unreachable."""
    return f"server_unreachable_{entry.entry_id}"


class EdgeTtsCloneCoordinator(DataUpdateCoordinator[ServerState]):
    """Health, Wyoming `info` and the voice list of one server; the one holder of its client."""

    config_entry: EdgeTtsCloneConfigEntry

    def __init__(self, hass: HomeAssistant, entry: EdgeTtsCloneConfigEntry, client: EdgeTtsCloneClient) -> None:
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
        self._unreachable_since: datetime | None = None

    async def _async_update_data(self) -> ServerState:
        """Ask the server for everything the entity shows; `UpdateFailed` if it is down."""
        try:
            health = await self.client.async_health()
            await self.client.async_check_auth()
            info = await self.client.async_describe()
            voices, skipped = await self.client.async_list_voices()
        except InvalidAuth as err:
            self._note_reachable()
            raise ConfigEntryAuthFailed(translation_domain=DOMAIN, translation_key="invalid_auth") from err
        except EdgeTtsCloneError as err:
            self._note_unreachable()
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="update_failed",
                translation_placeholders={"host": self.client.host, "reason": str(err)},
            ) from err
        self._note_reachable()
        if health.server_id != self.config_entry.unique_id and health.server_id != self._reported_foreign_id:
            self._reported_foreign_id = health.server_id
            _LOGGER.warning(
                "The server at %s now reports id %s, not %s: another server may have taken its address",
                self.client.host,
                health.server_id,
                self.config_entry.unique_id,
            )
        return ServerState(health=health, info=info, voices=voices, skipped=skipped)

    async def async_ensure_reachable(self) -> None:
        """Fail now, with a reason, when the server does not answer (a cheap Wyoming `describe`).

        Actions call this before handing a media player a URL: otherwise the player would
        only meet the outage later, as an empty answer nobody reports.
        """
        try:
            await self.client.async_describe()
        except EdgeTtsCloneError as err:
            await self.async_request_refresh()
            raise self.unavailable_error() from err

    def unavailable_error(self) -> HomeAssistantError:
        """The translated error for "the server is not reachable"."""
        return HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="server_unavailable",
            translation_placeholders={"host": self.client.host},
        )

    @callback
    def _note_unreachable(self) -> None:
        now = dt_util.utcnow()
        if self._unreachable_since is None:
            self._unreachable_since = now
        if now - self._unreachable_since < UNREACHABLE_ISSUE_AFTER:
            return
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            unreachable_issue_id(self.config_entry),
            is_fixable=False,
            severity=ir.IssueSeverity.ERROR,
            translation_key="server_unreachable",
            translation_placeholders={
                "title": self.config_entry.title,
                "host": self.client.host,
                "minutes": str(int(UNREACHABLE_ISSUE_AFTER.total_seconds() // 60)),
            },
        )

    @callback
    def _note_reachable(self) -> None:
        if self._unreachable_since is not None:
            self._unreachable_since = None
            ir.async_delete_issue(self.hass, DOMAIN, unreachable_issue_id(self.config_entry))
