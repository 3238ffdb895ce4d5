"""Diagnostics through HA's own endpoint: useful content, and never the admin token."""

from __future__ import annotations

import json

from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import get_diagnostics_for_config_entry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from .fake_server import SERVER_ID, TOKEN, FakeServer


async def test_diagnostics_redact_token(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    fake_server: FakeServer,
    loaded_entry: MockConfigEntry,
) -> None:
    """Health and voices are included; the token appears nowhere in the download."""
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, loaded_entry)
    assert TOKEN not in json.dumps(diagnostics)
    assert diagnostics["entry"]["data"]["token"] == "**REDACTED**"
    assert diagnostics["entry"]["data"]["wyoming_port"] == fake_server.wyoming_port
    server = diagnostics["server"]
    assert server["available"] is True
    assert server["health"]["server_id"] == SERVER_ID
    assert server["wyoming"]["supports_streaming"] is True
    assert [voice["voice_id"] for voice in server["voices"]] == ["joe", "mum", "dad"]
    assert server["voices"][1]["styles"] == ["default", "calm"]
