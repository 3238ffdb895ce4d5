"""Config flow (manual, zeroconf, re-auth, reconfigure) and options flow for edge_tts_clone.

Every step that takes connection details checks them against the server before saving:
`GET /api/health` (is it ours, which `server_id`), Wyoming `describe`, `GET /api/auth`.
The server's `server_id` is the unique id, so one server is configured once. Adding the
integration by hand while a discovered server waits offers that server first. The admin token
is never sent back to the browser: forms leave it empty, and empty means "unchanged".
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import voluptuous as vol
from homeassistant.config_entries import SOURCE_ZEROCONF, ConfigFlow, ConfigFlowResult, OptionsFlow
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
    ZEROCONF_INSTANCE_PREFIX,
    ZEROCONF_SERVER_ID,
)
from .coordinator import EdgeTtsCloneConfigEntry
from .errors import CannotConnect, InvalidAuth, NotEdgeTtsClone, ProtocolError, ServerError
from .wire import ServerHealth

_LOGGER = logging.getLogger(__name__)

_PORT = vol.All(vol.Coerce(int), vol.Range(min=1, max=65535))
_TOKEN_SELECTOR = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))
_CONNECTION_KEYS = (CONF_HOST, CONF_WYOMING_PORT, CONF_HTTP_PORT)
# Discovery details ride in the discovery flow's title placeholders, where the user step finds them.
_PLACEHOLDER_HOST = "host"
_PLACEHOLDER_WYOMING_PORT = "wyoming_port"
_PLACEHOLDER_HTTP_PORT = "http_port"
CONF_SERVER = "server"


def _connection_schema(*, token_required: bool) -> vol.Schema:
    """Host, ports and token; the token has no default, so a stored one never reaches the browser."""
    token_key = vol.Required(CONF_TOKEN) if token_required else vol.Optional(CONF_TOKEN)
    return vol.Schema(
        {
            vol.Required(CONF_HOST): str,
            vol.Required(CONF_WYOMING_PORT, default=DEFAULT_WYOMING_PORT): _PORT,
            vol.Required(CONF_HTTP_PORT, default=DEFAULT_HTTP_PORT): _PORT,
            token_key: _TOKEN_SELECTOR,
        }
    )


def _without_token(data: Mapping[str, Any]) -> dict[str, Any]:
    """What a form may show again: everything but the token."""
    return {key: data[key] for key in _CONNECTION_KEYS if key in data}


_TOKEN_SCHEMA = vol.Schema({vol.Required(CONF_TOKEN): _TOKEN_SELECTOR})


async def _async_validate(hass: HomeAssistant, data: Mapping[str, Any]) -> tuple[ServerHealth | None, dict[str, str]]:
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


def _title(name: str) -> str:
    return f"edge-tts-clone ({name})"


def server_name(instance: str, fallback: str) -> str:
    """`kitchen` from the zeroconf name `edge-tts-clone-kitchen._wyoming._tcp.local.`."""
    label = instance.split(".", 1)[0]
    return label.removeprefix(ZEROCONF_INSTANCE_PREFIX) or fallback


def _admin_url(host: str, http_port: int) -> str:
    return f"http://{host}:{http_port}"


class EdgeTtsCloneConfigFlow(ConfigFlow, domain=DOMAIN):
    """Adds one edge-tts-clone server."""

    VERSION = 1

    def __init__(self) -> None:
        """Discovery details are kept between the zeroconf step and its confirmation."""
        self._discovered: dict[str, Any] = {}
        self._name = ""

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: EdgeTtsCloneConfigEntry) -> EdgeTtsCloneOptionsFlow:
        """Default voice and speed."""
        return EdgeTtsCloneOptionsFlow()

    # ---- by hand -------------------------------------------------------------------------

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Manual setup; a discovered server that waits for its token is offered first."""
        if user_input is None and self._pending_discoveries():
            return await self.async_step_choose()
        return await self._async_connection_step("user", user_input)

    async def async_step_choose(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Continue with a discovered server, or type the address anyway."""
        return self.async_show_menu(
            step_id="choose",
            menu_options=["discovered", "manual"],
            description_placeholders={"servers": self._pending_list()},
        )

    async def async_step_manual(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Host, both ports and the admin token, typed in."""
        return await self._async_connection_step("manual", user_input)

    async def _async_connection_step(self, step_id: str, user_input: dict[str, Any] | None) -> ConfigFlowResult:
        errors: dict[str, str] = {}
        if user_input is not None:
            health, errors = await _async_validate(self.hass, user_input)
            if health is not None:
                # A discovery card for the same server does not block this; it closes with the new entry.
                await self.async_set_unique_id(health.server_id, raise_on_progress=False)
                self._abort_if_unique_id_configured(updates=_without_token(user_input))
                return self.async_create_entry(title=_title(user_input[CONF_HOST]), data=user_input)
        schema = self.add_suggested_values_to_schema(
            _connection_schema(token_required=True), _without_token(user_input or {})
        )
        return self.async_show_form(step_id=step_id, data_schema=schema, errors=errors)

    async def async_step_discovered(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Continue with a server that discovery found: pick it (when several) and give its token."""
        pending = self._pending_discoveries()
        if not pending:
            return await self.async_step_manual()
        errors: dict[str, str] = {}
        if user_input is not None and (found := pending.get(user_input[CONF_SERVER])) is not None:
            data = {
                CONF_HOST: found[_PLACEHOLDER_HOST],
                CONF_WYOMING_PORT: int(found[_PLACEHOLDER_WYOMING_PORT]),
                CONF_HTTP_PORT: int(found[_PLACEHOLDER_HTTP_PORT]),
                CONF_TOKEN: user_input[CONF_TOKEN],
            }
            health, errors = await _async_validate(self.hass, data)
            if health is not None:
                if health.server_id != user_input[CONF_SERVER]:
                    return self.async_abort(reason="wrong_server")
                await self.async_set_unique_id(health.server_id, raise_on_progress=False)
                self._abort_if_unique_id_configured(updates=_without_token(data))
                return self.async_create_entry(title=_title(found["name"]), data=data)
        choices = [
            SelectOptionDict(value=server_id, label=f"{found['name']} ({found[_PLACEHOLDER_HOST]})")
            for server_id, found in pending.items()
        ]
        schema = vol.Schema(
            {
                vol.Required(CONF_SERVER, default=choices[0]["value"]): SelectSelector(
                    SelectSelectorConfig(options=choices, mode=SelectSelectorMode.DROPDOWN)
                ),
                vol.Required(CONF_TOKEN): _TOKEN_SELECTOR,
            }
        )
        return self.async_show_form(step_id="discovered", data_schema=schema, errors=errors)

    def _pending_discoveries(self) -> dict[str, Mapping[str, str]]:
        """Server id -> details of each of our discovery flows still waiting for a token."""
        pending: dict[str, Mapping[str, str]] = {}
        for flow in self._async_in_progress(include_uninitialized=True, match_context={"source": SOURCE_ZEROCONF}):
            context = flow["context"]
            details = context.get("title_placeholders") or {}
            server_id = context.get("unique_id")
            if server_id and {"name", _PLACEHOLDER_HOST, _PLACEHOLDER_HTTP_PORT} <= set(details):
                pending[server_id] = details
        return pending

    def _pending_list(self) -> str:
        return ", ".join(
            f"{found['name']} ({found[_PLACEHOLDER_HOST]})" for found in self._pending_discoveries().values()
        )

    # ---- discovery -----------------------------------------------------------------------

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
        self._name = server_name(discovery_info.name, discovery_info.host)
        self.context["title_placeholders"] = {
            "name": self._name,
            _PLACEHOLDER_HOST: discovery_info.host,
            _PLACEHOLDER_WYOMING_PORT: str(self._discovered[CONF_WYOMING_PORT]),
            _PLACEHOLDER_HTTP_PORT: str(http_port),
        }
        return await self.async_step_zeroconf_confirm()

    async def async_step_zeroconf_confirm(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask for the admin token of the discovered server, and say which card to use."""
        errors: dict[str, str] = {}
        if user_input is not None:
            data = {**self._discovered, CONF_TOKEN: user_input[CONF_TOKEN]}
            health, errors = await _async_validate(self.hass, data)
            if health is not None:
                if health.server_id != self.unique_id:
                    return self.async_abort(reason="wrong_server")
                return self.async_create_entry(title=_title(self._name), data=data)
        return self.async_show_form(
            step_id="zeroconf_confirm",
            data_schema=_TOKEN_SCHEMA,
            errors=errors,
            description_placeholders={
                "name": self._name,
                "host": self._discovered[CONF_HOST],
                "admin_url": _admin_url(self._discovered[CONF_HOST], self._discovered[CONF_HTTP_PORT]),
            },
        )

    # ---- an existing entry -----------------------------------------------------------------

    async def async_step_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """The server rejected the stored token."""
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask for the new admin token."""
        entry = self._get_reauth_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            health, errors = await _async_validate(self.hass, {**entry.data, CONF_TOKEN: user_input[CONF_TOKEN]})
            if health is not None:
                await self.async_set_unique_id(health.server_id)
                self._abort_if_unique_id_mismatch(reason="wrong_server")
                return self.async_update_reload_and_abort(entry, data_updates={CONF_TOKEN: user_input[CONF_TOKEN]})
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=_TOKEN_SCHEMA,
            errors=errors,
            description_placeholders={
                "host": entry.data[CONF_HOST],
                "admin_url": _admin_url(entry.data[CONF_HOST], entry.data[CONF_HTTP_PORT]),
            },
        )

    async def async_step_reconfigure(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Change host, ports or token of the same server; an empty token keeps the stored one."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            data = {**user_input, CONF_TOKEN: user_input.get(CONF_TOKEN) or entry.data[CONF_TOKEN]}
            health, errors = await _async_validate(self.hass, data)
            if health is not None:
                await self.async_set_unique_id(health.server_id)
                self._abort_if_unique_id_mismatch(reason="wrong_server")
                return self.async_update_reload_and_abort(entry, title=_title(data[CONF_HOST]), data_updates=data)
        schema = self.add_suggested_values_to_schema(
            _connection_schema(token_required=False), _without_token(user_input or entry.data)
        )
        return self.async_show_form(step_id="reconfigure", data_schema=schema, errors=errors)


class EdgeTtsCloneOptionsFlow(OptionsFlow):
    """Default voice (from the server's voices) and default speed."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """One form; the voice list comes from the running entry when it has one.

        The current values are suggestions, not defaults: a field the user empties stays empty.
        """
        if user_input is not None:
            return self.async_create_entry(data=user_input)
        options = self.config_entry.options
        voice_choices: list[SelectOptionDict] = []
        coordinator = getattr(self.config_entry, "runtime_data", None)
        if coordinator is not None and coordinator.data is not None:
            voice_choices = [
                SelectOptionDict(value=voice.voice_id, label=voice.name) for voice in coordinator.data.voices
            ]
        current_voice = options.get(CONF_DEFAULT_VOICE)
        if current_voice and all(choice["value"] != current_voice for choice in voice_choices):
            voice_choices.append(SelectOptionDict(value=current_voice, label=current_voice))
        schema = vol.Schema(
            {
                vol.Optional(CONF_DEFAULT_VOICE): SelectSelector(
                    SelectSelectorConfig(options=voice_choices, mode=SelectSelectorMode.DROPDOWN, custom_value=True)
                ),
                vol.Required(CONF_DEFAULT_SPEED, default=DEFAULT_SPEED): NumberSelector(
                    NumberSelectorConfig(min=MIN_SPEED, max=MAX_SPEED, step=0.05, mode=NumberSelectorMode.SLIDER)
                ),
            }
        )
        return self.async_show_form(step_id="init", data_schema=self.add_suggested_values_to_schema(schema, options))
