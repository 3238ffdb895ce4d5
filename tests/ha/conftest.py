"""Fixtures for the edge_tts_clone HA tests: a fake server on 127.0.0.1 and a loaded entry."""

from __future__ import annotations

import threading
from collections.abc import AsyncGenerator, Callable, Generator
from pathlib import Path
from unittest.mock import patch

import pytest
from homeassistant.const import CONF_HOST
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

# HA's loader imports the top-level package `custom_components`; importing ours before the
# `hass` fixture puts the repository's package there (not phcc's testing_config one).
import custom_components.edge_tts_clone  # noqa: F401
from custom_components.edge_tts_clone.const import CONF_HTTP_PORT, CONF_TOKEN, CONF_WYOMING_PORT, DOMAIN

from .deprecation_guard import guard_deprecations
from .fake_server import SERVER_ID, TOKEN, FakeServer
from .loop_guard import guard_loop_thread


@pytest.fixture(autouse=True)
def no_deprecated_calls() -> Generator[list[str]]:
    """Fail the test if HA reports a deprecated call by this integration (defined first: it sees every fixture)."""
    with guard_deprecations() as found:
        yield found
    assert not found, f"deprecated Home Assistant API used: {found}"


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let HA load integrations from custom_components/."""


@pytest.fixture(autouse=True)
def loop_blocking_calls() -> Generator[list[str]]:
    """Fail the test if the integration did blocking I/O on the event loop's thread."""
    with guard_loop_thread(threading.get_ident()) as found:
        yield found
    assert not found, f"blocking calls in the event loop: {sorted(set(found))}"


@pytest.fixture(autouse=True)
def mock_tts_cache_dir(tmp_path: Path) -> Generator[Path]:
    """Keep HA's TTS file cache in the test's temp folder."""
    cache_dir = tmp_path / "tts"
    cache_dir.mkdir()
    with (
        patch("homeassistant.components.tts._init_tts_cache_dir", return_value=str(cache_dir)),
        patch("homeassistant.components.tts._get_cache_files", return_value={}),
    ):
        yield cache_dir


@pytest.fixture
async def fake_server(
    socket_enabled: None, unused_tcp_port_factory: Callable[[], int]
) -> AsyncGenerator[FakeServer]:
    """A running fake edge-tts-clone server on two free ports of 127.0.0.1."""
    server = FakeServer(unused_tcp_port_factory(), unused_tcp_port_factory())
    await server.start()
    yield server
    await server.stop()


def entry_data(server: FakeServer, token: str = TOKEN) -> dict[str, object]:
    """Config entry data pointing at `server`."""
    return {
        CONF_HOST: "127.0.0.1",
        CONF_WYOMING_PORT: server.wyoming_port,
        CONF_HTTP_PORT: server.http_port,
        CONF_TOKEN: token,
    }


@pytest.fixture
def config_entry(hass: HomeAssistant, fake_server: FakeServer) -> MockConfigEntry:
    """An entry for the fake server, added but not set up."""
    entry = MockConfigEntry(
        domain=DOMAIN, title="edge-tts-clone (127.0.0.1)", unique_id=SERVER_ID, data=entry_data(fake_server)
    )
    entry.add_to_hass(hass)
    return entry


@pytest.fixture
async def loaded_entry(hass: HomeAssistant, config_entry: MockConfigEntry) -> MockConfigEntry:
    """The entry, set up against the fake server."""
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    return config_entry


TTS_ENTITY = "tts.edge_tts_clone_127_0_0_1_cloned_voices"
