"""mDNS (zeroconf) announcement so Home Assistant discovers the server by itself.

Uses the `zeroconf` package directly (not `wyoming.zeroconf`, which pins an old zeroconf and
cannot set TXT properties): type `_wyoming._tcp.local.`, instance `edge-tts-clone-<name>`, and
the TXT properties docs/http-api.md lists, so our integration finds the admin port and the
server id without asking. Only meaningful for a tcp:// Wyoming endpoint.
"""

from __future__ import annotations

import logging
import re
import socket
from typing import Any, Final

_LOGGER = logging.getLogger(__name__)

SERVICE_TYPE: Final = "_wyoming._tcp.local."
INSTANCE_PREFIX: Final = "edge-tts-clone-"
MDNS_GROUP_IP: Final = "224.0.0.251"
_MAX_LABEL_BYTES: Final = 63


def instance_name(name: str) -> str:
    """`edge-tts-clone-<name>` made DNS-label safe (name "" = this host's name)."""
    base = name.strip() or socket.gethostname().split(".")[0]
    cleaned = re.sub(r"[^A-Za-z0-9-]+", "-", base).strip("-").lower() or "server"
    return (INSTANCE_PREFIX + cleaned)[:_MAX_LABEL_BYTES]


def txt_properties(*, http_port: int | None, server_id: str, version: str) -> dict[str, str]:
    """The TXT record of the contract (http_port is empty when the admin API is off)."""
    return {
        "http_port": "" if http_port is None else str(http_port),
        "server_id": server_id,
        "version": version,
    }


def detect_host_ip() -> str:
    """The IPv4 address of the interface that routes to the mDNS group (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.setblocking(False)
        try:
            probe.connect((MDNS_GROUP_IP, 1))
            address: str = probe.getsockname()[0]
        except OSError:
            address = "127.0.0.1"
    return address


class ZeroconfAnnouncer:
    """Registers the service on start and unregisters it on stop."""

    def __init__(
        self,
        *,
        name: str,
        host_ip: str,
        port: int,
        properties: dict[str, str],
        interfaces: list[str] | None = None,
    ) -> None:
        self.instance = instance_name(name)
        self.host_ip = host_ip
        self.port = port
        self.properties = properties
        self._interfaces = interfaces
        self._zeroconf: Any = None
        self._info: Any = None

    def service_info(self) -> Any:
        """The zeroconf `AsyncServiceInfo` that is (or would be) registered."""
        from zeroconf.asyncio import AsyncServiceInfo

        return AsyncServiceInfo(
            SERVICE_TYPE,
            f"{self.instance}.{SERVICE_TYPE}",
            addresses=[socket.inet_aton(self.host_ip)],
            port=self.port,
            properties=self.properties,
            server=f"{self.instance}.local.",
        )

    async def start(self) -> None:
        """Announce the service."""
        from zeroconf import InterfaceChoice
        from zeroconf.asyncio import AsyncZeroconf

        self._zeroconf = AsyncZeroconf(interfaces=self._interfaces or InterfaceChoice.All)
        self._info = self.service_info()
        await self._zeroconf.async_register_service(self._info)
        _LOGGER.info("Zeroconf: announced %s at %s:%d", self.instance, self.host_ip, self.port)

    async def stop(self) -> None:
        """Withdraw the announcement."""
        if self._zeroconf is None:
            return
        try:
            if self._info is not None:
                await self._zeroconf.async_unregister_service(self._info)
        finally:
            await self._zeroconf.async_close()
            self._zeroconf = None
