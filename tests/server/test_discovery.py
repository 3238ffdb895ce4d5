"""Zeroconf: the announcement Home Assistant discovers (resolved for real on the loopback interface)."""

from __future__ import annotations

import pytest
from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

from tests.support.servers import StartServer
from wyoming_server.server.discovery import SERVICE_TYPE, instance_name, txt_properties


@pytest.mark.parametrize(
    ("name", "instance"),
    [
        ("kitchen", "edge-tts-clone-kitchen"),
        ("Living Room.local", "edge-tts-clone-living-room-local"),
        ("x" * 80, ("edge-tts-clone-" + "x" * 80)[:63]),
    ],
)
def test_instance_names_are_dns_labels(name: str, instance: str) -> None:
    assert instance_name(name) == instance


def test_txt_properties_follow_the_contract() -> None:
    assert txt_properties(http_port=10211, server_id="abc", version="0.1.0") == {
        "http_port": "10211",
        "server_id": "abc",
        "version": "0.1.0",
    }
    assert txt_properties(http_port=None, server_id="abc", version="0.1.0")["http_port"] == ""


async def test_the_server_announces_itself_with_its_ports_and_id(start_server: StartServer) -> None:
    server = await start_server(zeroconf="kitchen")
    zeroconf = AsyncZeroconf(interfaces=["127.0.0.1"])
    try:
        info = AsyncServiceInfo(SERVICE_TYPE, f"edge-tts-clone-kitchen.{SERVICE_TYPE}")
        assert await info.async_request(zeroconf.zeroconf, 5000), "the announcement was not found"
    finally:
        await zeroconf.async_close()
    assert info.port == server.port
    assert info.parsed_addresses() == ["127.0.0.1"]
    properties = {key.decode(): (value or b"").decode() for key, value in info.properties.items()}
    assert properties == {
        "http_port": str(server.app.http_port),
        "server_id": server.app.server_id,
        "version": "0.1.0",
    }
