"""Config flow (manual, zeroconf, re-auth, reconfigure) and options flow for edge_tts_clone.

Every step that takes connection details checks them against the server before saving:
`GET /api/health` (is it ours, which `server_id`), Wyoming `describe`, `GET /api/auth`.
The server's `server_id` is the unique id, so one server is configured once.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import voluptuous as vol
from homeassistant.config_entries import ConfigFlow, ConfigFlowResult, OptionsFlow
from homeassistant.const import CONF_HOST
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.selector import (
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
from homeassistant.helpers.service_info.zeroconf import ZeroconfServiceInfo

from .client import EdgeTtsCloneClient
from .const import (
    CONF_DEFAULT_SPEED,
    CONF_DEFAULT_VOICE,
    CONF_HTTP_PORT,
    CONF_TOKEN,
    CONF_WYOMING_PORT,
    DEFAULT_HTTP_PORT,
    DEFAULT_SPEED,
    DEFAULT_WYOMING_PORT,
    DOMAIN,
    MAX_SPEED,
    MIN_SPEED,
    ZEROCONF_HTTP_PORT,
    ZEROCONF_SERVER_ID,
)
from .errors import CannotConnect, InvalidAuth, NotEdgeTtsClone, ProtocolError, ServerError
from .models import EdgeTtsCloneConfigEntry, ServerHealth

_LOGGER = logging.getLogger(__name__)

_PORT = vol.All(vol.Coerce(int), vol.Range(min=1, max=65535))
_TOKEN_SELECTOR = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))


def _connection_schema(defaults: Mapping[str, Any]) -> vol.Schema:
    return vol.Schema(
        {
            vol.Required(CONF_HOST, default=defaults.get(CONF_HOST, vol.UNDEFINED)): str,
            vol.Required(
                CONF_WYOMING_PORT, default=defaults.get(CONF_WYOMING_PORT, DEFAULT_WYOMING_PORT)
            ): _PORT,
            vol.Required(CONF_HTTP_PORT, default=defaults.get(CONF_HTTP_PORT, DEFAULT_HTTP_PORT)): _PORT,
            vol.Required(CONF_TOKEN, default=defaults.get(CONF_TOKEN, vol.UNDEFINED)): _TOKEN_SELECTOR,
        }
    )


_TOKEN_SCHEMA = vol.Schema({vol.Required(CONF_TOKEN): _TOKEN_SELECTOR})


async def _async_validate(
    hass: HomeAssistant, data: Mapping[str, Any]
) -> tuple[ServerHealth | None, dict[str, str]]:
    """Talk to the server; its health on success, else the form errors to show."""
    client = EdgeTtsCloneClient(
        async_get_clientsession(hass),
        data[CONF_HOST],
        data[CONF_WYOMING_PORT],
        data[CONF_HTTP_PORT],
        data[CONF_TOKEN],
    )
    try:
        health = await client.async_health()
        await client.async_describe()
        await client.async_check_auth()
    except InvalidAuth:
        return None, {"base": "invalid_auth"}
    except CannotConnect as err:
        _LOGGER.debug("cannot connect to %s: %s", data[CONF_HOST], err)
        return None, {"base": "cannot_connect"}
    except (NotEdgeTtsClone, ProtocolError, ServerError) as err:
        _LOGGER.debug("%s is not an edge-tts-clone server: %s", data[CONF_HOST], err)
        return None, {"base": "not_edge_tts_clone"}
    except Exception:  # a flow must always answer with a form
        _LOGGER.exception("Unexpected error while checking %s", data[CONF_HOST])
        return None, {"base": "unknown"}
    return health, {}


def _title(host: str) -> str:
    return f"edge-tts-clone ({host})"


class EdgeTtsCloneConfigFlow(ConfigFlow, domain=DOMAIN):
    """Adds one edge-tts-clone server."""

    VERSION = 1

    def __init__(self) -> None:
        """Discovery details are kept between the zeroconf step and its confirmation."""
        self._discovered: dict[str, Any] = {}

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: EdgeTtsCloneConfigEntry) -> EdgeTtsCloneOptionsFlow:
        """Default voice and speed."""
        return EdgeTtsCloneOptionsFlow()

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Manual setup: host, both ports and the admin token."""
        errors: dict[str, str] = {}
        if user_input is not None:
            health, errors = await _async_validate(self.hass, user_input)
            if health is not None:
                await self.async_set_unique_id(health.server_id)
                self._abort_if_unique_id_configured(updates=_connection_updates(user_input))
                return self.async_create_entry(title=_title(user_input[CONF_HOST]), data=user_input)
        return self.async_show_form(
            step_id="user", data_schema=_connection_schema(user_input or {}), errors=errors
        )

    async def async_step_zeroconf(self, discovery_info: ZeroconfServiceInfo) -> ConfigFlowResult:
        """A server announced itself; its TXT record carries the admin port and server id."""
        properties = discovery_info.properties
        server_id = properties.get(ZEROCONF_SERVER_ID)
        if not server_id:
            return self.async_abort(reason="not_edge_tts_clone")
        port_text = properties.get(ZEROCONF_HTTP_PORT, str(DEFAULT_HTTP_PORT))
        if not port_text:  # the server runs without its admin API: nothing to manage voices with
            return self.async_abort(reason="no_admin_api")
        try:
            http_port = int(port_text)
        except ValueError:
            return self.async_abort(reason="not_edge_tts_clone")
        self._discovered = {
            CONF_HOST: discovery_info.host,
            CONF_WYOMING_PORT: discovery_info.port or DEFAULT_WYOMING_PORT,
            CONF_HTTP_PORT: http_port,
        }
        await self.async_set_unique_id(server_id)
        self._abort_if_unique_id_configured(updates=self._discovered)
        self.context["title_placeholders"] = {"name": discovery_info.host}
        return await self.async_step_zeroconf_confirm()

    async def async_step_zeroconf_confirm(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask for the admin token of the discovered server."""
        errors: dict[str, str] = {}
        if user_input is not None:
            data = {**self._discovered, CONF_TOKEN: user_input[CONF_TOKEN]}
            health, errors = await _async_validate(self.hass, data)
            if health is not None:
                if health.server_id != self.unique_id:
                    return self.async_abort(reason="wrong_server")
                return self.async_create_entry(title=_title(data[CONF_HOST]), data=data)
        return self.async_show_form(
            step_id="zeroconf_confirm",
            data_schema=_TOKEN_SCHEMA,
            errors=errors,
            description_placeholders={
                "host": self._discovered[CONF_HOST],
                "http_port": str(self._discovered[CONF_HTTP_PORT]),
            },
        )

    async def async_step_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """The server rejected the stored token."""
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask for the new admin token."""
        entry = self._get_reauth_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            health, errors = await _async_validate(
                self.hass, {**entry.data, CONF_TOKEN: user_input[CONF_TOKEN]}
            )
            if health is not None:
                await self.async_set_unique_id(health.server_id)
                self._abort_if_unique_id_mismatch(reason="wrong_server")
                return self.async_update_reload_and_abort(
                    entry, data_updates={CONF_TOKEN: user_input[CONF_TOKEN]}
                )
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=_TOKEN_SCHEMA,
            errors=errors,
            description_placeholders={"host": entry.data[CONF_HOST]},
        )

    async def async_step_reconfigure(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Change host, ports or token of the same server."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            health, errors = await _async_validate(self.hass, user_input)
            if health is not None:
                await self.async_set_unique_id(health.server_id)
                self._abort_if_unique_id_mismatch(reason="wrong_server")
                return self.async_update_reload_and_abort(
                    entry, title=_title(user_input[CONF_HOST]), data_updates=user_input
                )
        return self.async_show_form(
            step_id="reconfigure", data_schema=_connection_schema(user_input or entry.data), errors=errors
        )


def _connection_updates(data: Mapping[str, Any]) -> dict[str, Any]:
    """What a rediscovered server may change in an existing entry (never the token)."""
    return {key: data[key] for key in (CONF_HOST, CONF_WYOMING_PORT, CONF_HTTP_PORT)}


class EdgeTtsCloneOptionsFlow(OptionsFlow):
    """Default voice (from the server's voices) and default speed."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """One form; the voice list comes from the running entry when it has one."""
        if user_input is not None:
            return self.async_create_entry(data=user_input)
        options = self.config_entry.options
        voice_choices: list[SelectOptionDict] = []
        runtime = getattr(self.config_entry, "runtime_data", None)
        if runtime is not None and runtime.coordinator.data is not None:
            voice_choices = [
                SelectOptionDict(value=voice.voice_id, label=voice.name)
                for voice in runtime.coordinator.data.voices
            ]
        current_voice = options.get(CONF_DEFAULT_VOICE)
        if current_voice and all(choice["value"] != current_voice for choice in voice_choices):
            voice_choices.append(SelectOptionDict(value=current_voice, label=current_voice))
        voice_key = (
            vol.Optional(CONF_DEFAULT_VOICE, default=current_voice)
            if current_voice
            else vol.Optional(CONF_DEFAULT_VOICE)
        )
        schema = vol.Schema(
            {
                voice_key: SelectSelector(
                    SelectSelectorConfig(
                        options=voice_choices, mode=SelectSelectorMode.DROPDOWN, custom_value=True
                    )
                ),
                vol.Required(
                    CONF_DEFAULT_SPEED, default=options.get(CONF_DEFAULT_SPEED, DEFAULT_SPEED)
                ): NumberSelector(
                    NumberSelectorConfig(
                        min=MIN_SPEED, max=MAX_SPEED, step=0.05, mode=NumberSelectorMode.SLIDER
                    )
                ),
            }
        )
        return self.async_show_form(step_id="init", data_schema=schema)
