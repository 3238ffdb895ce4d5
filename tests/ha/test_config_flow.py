"""One test per config-flow step and abort reason, against the fake server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable
from ipaddress import ip_address
from unittest.mock import patch

from homeassistant import config_entries
from homeassistant.const import CONF_HOST
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers.service_info.zeroconf import ZeroconfServiceInfo
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.edge_tts_clone.client import EdgeTtsCloneClient
from custom_components.edge_tts_clone.const import (
    CONF_DEFAULT_SPEED,
    CONF_DEFAULT_VOICE,
    CONF_HTTP_PORT,
    CONF_TOKEN,
    CONF_WYOMING_PORT,
    DOMAIN,
)

from .conftest import entry_data
from .fake_server import SERVER_ID, FakeServer


def _zeroconf(server: FakeServer, server_id: str | None = SERVER_ID) -> ZeroconfServiceInfo:
    properties = {"http_port": str(server.http_port), "version": "0.1.0"}
    if server_id is not None:
        properties["server_id"] = server_id
    return ZeroconfServiceInfo(
        ip_address=ip_address("127.0.0.1"),
        ip_addresses=[ip_address("127.0.0.1")],
        port=server.wyoming_port,
        hostname="kitchen-pi.local.",
        type="_wyoming._tcp.local.",
        name="edge-tts-clone-kitchen._wyoming._tcp.local.",
        properties=properties,
    )


async def _user_flow(hass: HomeAssistant, data: dict[str, object]) -> config_entries.ConfigFlowResult:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": config_entries.SOURCE_USER})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    return await hass.config_entries.flow.async_configure(result["flow_id"], data)


async def test_user_step_creates_entry(hass: HomeAssistant, fake_server: FakeServer) -> None:
    """Correct details: one entry whose unique id is the server's id, and it loads."""
    result = await _user_flow(hass, entry_data(fake_server))
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "edge-tts-clone (127.0.0.1)"
    assert result["data"] == entry_data(fake_server)
    assert result["result"].unique_id == SERVER_ID
    await hass.async_block_till_done()
    assert result["result"].state is config_entries.ConfigEntryState.LOADED


async def test_user_step_cannot_connect(
    hass: HomeAssistant, fake_server: FakeServer, unused_tcp_port_factory: Callable[[], int]
) -> None:
    """Nothing listens on the HTTP port: cannot_connect, and the form is shown again."""
    data = {**entry_data(fake_server), CONF_HTTP_PORT: unused_tcp_port_factory()}
    result = await _user_flow(hass, data)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "cannot_connect"}


async def test_user_step_wyoming_port_closed(
    hass: HomeAssistant, fake_server: FakeServer, unused_tcp_port_factory: Callable[[], int]
) -> None:
    """The admin API answers but Wyoming does not: still cannot_connect."""
    data = {**entry_data(fake_server), CONF_WYOMING_PORT: unused_tcp_port_factory()}
    result = await _user_flow(hass, data)
    assert result["errors"] == {"base": "cannot_connect"}


def _form_values(result: config_entries.ConfigFlowResult) -> dict[str, object]:
    """Every value a form would show in the browser: defaults and suggested values."""
    schema = result["data_schema"]
    assert schema is not None
    values: dict[str, object] = {}
    for key in schema.schema:
        if callable(key.default):
            values[str(key)] = key.default()
        if key.description and "suggested_value" in key.description:
            values[str(key)] = key.description["suggested_value"]
    return values


async def test_user_step_invalid_auth(hass: HomeAssistant, fake_server: FakeServer) -> None:
    """A wrong token is reported as such (and not shown again), then the right one succeeds."""
    result = await _user_flow(hass, entry_data(fake_server, token="wrong"))
    assert result["errors"] == {"base": "invalid_auth"}
    assert CONF_TOKEN not in _form_values(result)
    assert _form_values(result)[CONF_HOST] == "127.0.0.1"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], entry_data(fake_server))
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_user_step_not_edge_tts_clone(hass: HomeAssistant, fake_server: FakeServer) -> None:
    """A Wyoming server without our program (e.g. plain wyoming-piper) is refused."""
    fake_server.program_name = "piper"
    result = await _user_flow(hass, entry_data(fake_server))
    assert result["errors"] == {"base": "not_edge_tts_clone"}


async def test_user_step_already_configured(hass: HomeAssistant, config_entry: MockConfigEntry) -> None:
    """The same server (same server_id) cannot be added twice."""
    result = await _user_flow(hass, dict(config_entry.data))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_zeroconf_confirm_creates_entry(hass: HomeAssistant, fake_server: FakeServer) -> None:
    """Discovery fills host and ports from mDNS; the card is titled with the server's name; the user types the token."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_ZEROCONF}, data=_zeroconf(fake_server)
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "zeroconf_confirm"
    assert result["description_placeholders"] == {
        "name": "kitchen",
        "host": "127.0.0.1",
        "admin_url": f"http://127.0.0.1:{fake_server.http_port}",
    }
    (card,) = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert card["context"]["title_placeholders"]["name"] == "kitchen"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_TOKEN: "wrong"})
    assert result["errors"] == {"base": "invalid_auth"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_TOKEN: fake_server.token}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "edge-tts-clone (kitchen)"
    assert result["data"] == entry_data(fake_server)
    assert result["result"].unique_id == SERVER_ID
    await hass.async_block_till_done()


async def test_zeroconf_already_in_progress(hass: HomeAssistant, fake_server: FakeServer) -> None:
    """The same server announced twice while its card waits: one card."""
    for expected in (FlowResultType.FORM, FlowResultType.ABORT):
        result = await hass.config_entries.flow.async_init(
            DOMAIN, context={"source": config_entries.SOURCE_ZEROCONF}, data=_zeroconf(fake_server)
        )
        assert result["type"] is expected
    assert result["reason"] == "already_in_progress"


async def test_zeroconf_confirm_wrong_server(hass: HomeAssistant, fake_server: FakeServer) -> None:
    """Another server took the announced address before the token was typed: refused."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_ZEROCONF}, data=_zeroconf(fake_server)
    )
    fake_server.server_id = "another-server"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_TOKEN: fake_server.token})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "wrong_server"


async def _discovery_card(hass: HomeAssistant, server: FakeServer) -> str:
    """A discovery card waiting for its token; returns its flow id."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_ZEROCONF}, data=_zeroconf(server)
    )
    assert result["step_id"] == "zeroconf_confirm"
    return result["flow_id"]


async def test_user_step_offers_the_discovered_server(hass: HomeAssistant, fake_server: FakeServer) -> None:
    """'Add integration' while a card waits: offered at once, and continuing it closes the card."""
    card = await _discovery_card(hass, fake_server)
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": config_entries.SOURCE_USER})
    assert result["type"] is FlowResultType.MENU
    assert result["step_id"] == "choose"
    assert result["menu_options"] == ["discovered", "manual"]
    assert result["description_placeholders"] == {"servers": "kitchen (127.0.0.1)"}
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": "discovered"})
    assert result["type"] is FlowResultType.FORM and result["step_id"] == "discovered"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"server": SERVER_ID, CONF_TOKEN: "wrong"}
    )
    assert result["errors"] == {"base": "invalid_auth"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"server": SERVER_ID, CONF_TOKEN: fake_server.token}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "edge-tts-clone (kitchen)"
    assert result["data"] == entry_data(fake_server)
    await hass.async_block_till_done()
    assert all(flow["flow_id"] != card for flow in hass.config_entries.flow.async_progress())


async def test_discovered_step_wrong_server(hass: HomeAssistant, fake_server: FakeServer) -> None:
    """The address of the discovered server now answers with another server's id: refused."""
    await _discovery_card(hass, fake_server)
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": config_entries.SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": "discovered"})
    fake_server.server_id = "another-server"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"server": SERVER_ID, CONF_TOKEN: fake_server.token}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "wrong_server"


async def test_manual_step_while_a_card_waits(hass: HomeAssistant, fake_server: FakeServer) -> None:
    """Typing the discovered server's details by hand works too (no 'already in progress')."""
    card = await _discovery_card(hass, fake_server)
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": config_entries.SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": "manual"})
    assert result["type"] is FlowResultType.FORM and result["step_id"] == "manual"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], entry_data(fake_server))
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["result"].unique_id == SERVER_ID
    await hass.async_block_till_done()
    assert all(flow["flow_id"] != card for flow in hass.config_entries.flow.async_progress())


async def test_zeroconf_already_configured_updates_address(
    hass: HomeAssistant, fake_server: FakeServer, config_entry: MockConfigEntry
) -> None:
    """A known server seen again is not offered twice; a changed port is stored."""
    hass.config_entries.async_update_entry(config_entry, data={**config_entry.data, CONF_HTTP_PORT: 1})
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_ZEROCONF}, data=_zeroconf(fake_server)
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert config_entry.data[CONF_HTTP_PORT] == fake_server.http_port
    assert config_entry.data[CONF_TOKEN] == fake_server.token


async def test_zeroconf_without_server_id(hass: HomeAssistant, fake_server: FakeServer) -> None:
    """An announcement without our TXT record is not ours."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": config_entries.SOURCE_ZEROCONF},
        data=_zeroconf(fake_server, server_id=None),
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "not_edge_tts_clone"


async def test_zeroconf_server_without_admin_api(hass: HomeAssistant, fake_server: FakeServer) -> None:
    """An empty http_port means the admin API is off: nothing this integration can use."""
    info = _zeroconf(fake_server)
    info.properties["http_port"] = ""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_ZEROCONF}, data=info
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "no_admin_api"


async def test_reauth_stores_new_token(
    hass: HomeAssistant, fake_server: FakeServer, loaded_entry: MockConfigEntry
) -> None:
    """The token was rotated on the server: re-auth asks for it and reloads the entry."""
    fake_server.token = "rotated-token"
    result = await loaded_entry.start_reauth_flow(hass)
    assert result["step_id"] == "reauth_confirm"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_TOKEN: "still-wrong"})
    assert result["errors"] == {"base": "invalid_auth"}
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_TOKEN: "rotated-token"})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert loaded_entry.data[CONF_TOKEN] == "rotated-token"
    await hass.async_block_till_done()
    assert loaded_entry.state is config_entries.ConfigEntryState.LOADED


async def test_reconfigure_changes_connection(
    hass: HomeAssistant, fake_server: FakeServer, loaded_entry: MockConfigEntry
) -> None:
    """Reconfigure validates the new details and keeps the same entry."""
    fake_server.token = "new-token"
    result = await loaded_entry.start_reconfigure_flow(hass)
    assert result["step_id"] == "reconfigure"
    assert _form_values(result) == {
        CONF_HOST: "127.0.0.1",
        CONF_WYOMING_PORT: fake_server.wyoming_port,
        CONF_HTTP_PORT: fake_server.http_port,
    }
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], entry_data(fake_server, token="new-token")
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert loaded_entry.data[CONF_TOKEN] == "new-token"
    await hass.async_block_till_done()
    assert loaded_entry.state is config_entries.ConfigEntryState.LOADED


async def test_reconfigure_never_shows_the_token_and_empty_keeps_it(
    hass: HomeAssistant, fake_server: FakeServer, loaded_entry: MockConfigEntry
) -> None:
    """The stored token never goes to the browser; leaving the field empty keeps it."""
    result = await loaded_entry.start_reconfigure_flow(hass)
    assert CONF_TOKEN not in _form_values(result)
    assert fake_server.token not in str(result)
    data = {key: value for key, value in entry_data(fake_server).items() if key != CONF_TOKEN}
    result = await hass.config_entries.flow.async_configure(result["flow_id"], data)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert loaded_entry.data[CONF_TOKEN] == fake_server.token
    await hass.async_block_till_done()


async def test_reconfigure_to_another_server_aborts(
    hass: HomeAssistant,
    fake_server: FakeServer,
    loaded_entry: MockConfigEntry,
    unused_tcp_port_factory: Callable[[], int],
) -> None:
    """Pointing the entry at a different server (other server_id) is refused."""
    other = FakeServer(unused_tcp_port_factory(), unused_tcp_port_factory())
    other.server_id = "another-server"
    await other.start()
    try:
        result = await loaded_entry.start_reconfigure_flow(hass)
        result = await hass.config_entries.flow.async_configure(result["flow_id"], entry_data(other))
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "wrong_server"
        assert loaded_entry.data[CONF_HTTP_PORT] == fake_server.http_port
    finally:
        await other.stop()


async def test_options_flow_offers_server_voices(hass: HomeAssistant, loaded_entry: MockConfigEntry) -> None:
    """The default-voice list is the server's voices; the choice is saved as options."""
    result = await hass.config_entries.options.async_init(loaded_entry.entry_id)
    assert result["type"] is FlowResultType.FORM
    assert result["data_schema"] is not None
    voice_selector = result["data_schema"].schema[CONF_DEFAULT_VOICE]
    assert [option["value"] for option in voice_selector.config["options"]] == ["joe", "mum", "dad"]
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_DEFAULT_VOICE: "mum", CONF_DEFAULT_SPEED: 1.2}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert loaded_entry.options == {CONF_DEFAULT_VOICE: "mum", CONF_DEFAULT_SPEED: 1.2}
    assert loaded_entry.data[CONF_HOST] == "127.0.0.1"


async def test_options_flow_default_voice_can_be_cleared(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    """The stored voice is a suggestion, not a default: an emptied field clears it."""
    hass.config_entries.async_update_entry(loaded_entry, options={CONF_DEFAULT_VOICE: "mum", CONF_DEFAULT_SPEED: 1.2})
    result = await hass.config_entries.options.async_init(loaded_entry.entry_id)
    assert _form_values(result) == {CONF_DEFAULT_VOICE: "mum", CONF_DEFAULT_SPEED: 1.2}
    result = await hass.config_entries.options.async_configure(result["flow_id"], {CONF_DEFAULT_SPEED: 1.2})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert loaded_entry.options == {CONF_DEFAULT_SPEED: 1.2}


async def test_user_step_unexpected_error(hass: HomeAssistant, fake_server: FakeServer) -> None:
    """A bug while checking the server still answers with a form (error `unknown`), never a crash."""
    with patch.object(EdgeTtsCloneClient, "async_health", side_effect=RuntimeError("bug")):
        result = await _user_flow(hass, entry_data(fake_server))
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "unknown"}


async def test_zeroconf_with_a_bad_admin_port(hass: HomeAssistant, fake_server: FakeServer) -> None:
    """A TXT http_port that is not a number is not our server's announcement."""
    info = _zeroconf(fake_server)
    info.properties["http_port"] = "ten"
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_ZEROCONF}, data=info
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "not_edge_tts_clone"


async def test_discovered_server_gone_before_the_choice(hass: HomeAssistant, fake_server: FakeServer) -> None:
    """The card was closed while the menu was open: 'discovered' falls back to the address form."""
    card = await _discovery_card(hass, fake_server)
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": config_entries.SOURCE_USER})
    hass.config_entries.flow.async_abort(card)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": "discovered"})
    assert result["type"] is FlowResultType.FORM and result["step_id"] == "manual"


async def test_options_flow_keeps_a_voice_the_server_no_longer_lists(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    """A default voice deleted on the server stays selectable (and visible) until the user changes it."""
    hass.config_entries.async_update_entry(loaded_entry, options={CONF_DEFAULT_VOICE: "grandpa"})
    result = await hass.config_entries.options.async_init(loaded_entry.entry_id)
    assert result["data_schema"] is not None
    voice_selector = result["data_schema"].schema[CONF_DEFAULT_VOICE]
    assert [option["value"] for option in voice_selector.config["options"]] == ["joe", "mum", "dad", "grandpa"]
