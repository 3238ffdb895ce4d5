"""The admin HTTP API and web page (aiohttp), served by the same process as the Wyoming server.

Contract: docs/http-api.md. `create_admin_app` builds the application; `AdminSite` runs it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from importlib import resources
from typing import Final

from aiohttp import web

from . import models_api, pronunciations_api, service_api, voices_api
from .context import CONTEXT_KEY, AdminContext
from .errors import ApiError, auth_middleware, error_middleware, security_headers_middleware

__all__ = ["AdminContext", "AdminSite", "create_admin_app"]

_LOGGER = logging.getLogger(__name__)

WRITE_METHODS: Final = frozenset({"POST", "PATCH", "PUT", "DELETE"})
PUBLIC_WRITES: Final = frozenset({("POST", "/api/tts")})
"""Writes anyone on the network may make (speaking a test sentence changes nothing)."""
TOKEN_CHECKED_READS: Final = frozenset({("GET", "/api/auth"), ("GET", pronunciations_api.PATH)})
STATIC_FILES: Final = {
    "page.js": "application/javascript",
    "app.js": "application/javascript",
    "models.js": "application/javascript",
    "style.css": "text/css",
}
MAX_HEADER_FIELD_BYTES: Final = 8190
TURN_AWAY_RESPONSE: Final = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nConnection: close\r\n"
    b'Content-Length: 64\r\n\r\n{"error": "too many connections; try again", "code": "busy"}    '
)
TURN_AWAY_LOG_INTERVAL_S: Final = 60.0


def _is_protected(request: web.Request) -> bool:
    key = (request.method, request.path)
    if request.method in WRITE_METHODS:
        return key not in PUBLIC_WRITES
    return key in TOKEN_CHECKED_READS


def _page_file(name: str) -> str:
    return resources.files("wyoming_server.server.web").joinpath(name).read_text(encoding="utf-8")


async def _index(request: web.Request) -> web.Response:
    return web.Response(text=_page_file("index.html"), content_type="text/html", charset="utf-8")


async def _static(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    content_type = STATIC_FILES.get(name)
    if content_type is None:
        raise ApiError(404, "not-found", "no such file")
    return web.Response(text=_page_file(name), content_type=content_type, charset="utf-8")


def create_admin_app(context: AdminContext) -> web.Application:
    """The aiohttp application: every route of docs/http-api.md, JSON errors, token auth, no CORS."""
    app = web.Application(
        middlewares=[
            security_headers_middleware,
            error_middleware,
            auth_middleware(context.token, _is_protected),
        ],
        client_max_size=context.limits.max_upload_bytes + 64 * 1024,
    )
    app[CONTEXT_KEY] = context
    voices_api.add_routes(app)
    models_api.add_routes(app)
    service_api.add_routes(app)
    pronunciations_api.add_routes(app)
    app.router.add_get("/", _index)
    app.router.add_get("/static/{name}", _static)
    return app


class _TurnAway(asyncio.Protocol):
    """A connection past the cap: answered 503 and closed at once, before any parsing."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.WriteTransport)
        transport.write(TURN_AWAY_RESPONSE)
        transport.close()


class _CappedSite(web.BaseSite):
    """A TCP site holding at most `max_connections` HTTP connections.

    aiohttp accepts without limit, so a flood of connections (each kept until the header
    timeout) could use up the process's file descriptors, which Wyoming needs as well.
    """

    def __init__(self, runner: web.AppRunner, host: str, port: int, max_connections: int) -> None:
        super().__init__(runner)
        self._host = host
        self._port = port
        self._max_connections = max_connections
        self._last_log = -TURN_AWAY_LOG_INTERVAL_S

    @property
    def name(self) -> str:
        """As aiohttp's TCPSite names itself."""
        return f"http://{self._host}:{self._port}"

    async def start(self) -> None:
        """Register with the runner and listen."""
        await super().start()
        server = self._runner.server
        assert server is not None
        self._server = await asyncio.get_running_loop().create_server(
            lambda: self._protocol(server), self._host, self._port, reuse_address=True
        )

    def _protocol(self, server: web.Server) -> asyncio.BaseProtocol:
        if len(server.connections) < self._max_connections:
            return server()
        now = time.monotonic()
        if now - self._last_log >= TURN_AWAY_LOG_INTERVAL_S:
            self._last_log = now
            _LOGGER.warning("Turning HTTP connections away: %d are open (the limit)", self._max_connections)
        return _TurnAway()


class AdminSite:
    """Runs the admin application on host:port (port 0 picks a free one)."""

    def __init__(
        self, app: web.Application, host: str, port: int, *, header_timeout_s: float, max_connections: int
    ) -> None:
        """`header_timeout_s` bounds how long a client may take to send a request's headers."""
        self._app = app
        self._host = host
        self._port = port
        self._header_timeout_s = header_timeout_s
        self._max_connections = max_connections
        self._runner: web.AppRunner | None = None

    @property
    def port(self) -> int:
        """The bound port."""
        if self._runner is None:
            return 0
        for address in self._runner.addresses:
            return int(address[1])
        return 0

    async def start(self) -> None:
        """Start serving."""
        # handler_cancellation: a client that hangs up cancels its handler, so /api/tts stops its synthesis.
        # keepalive_timeout: aiohttp has no timeout for the headers of a request, but it closes a
        # connection still waiting for a complete request when this timer (started at connect and
        # after each response) fires, however many bytes trickled in: that is our header timeout
        # (slowloris), and it closes connections that never send anything. Bodies have their own
        # deadline (Limits.http_body_timeout_s) in the handlers.
        self._runner = web.AppRunner(
            self._app,
            handler_cancellation=True,
            access_log=None,
            max_field_size=MAX_HEADER_FIELD_BYTES,
            keepalive_timeout=self._header_timeout_s,
            shutdown_timeout=2.0,
        )
        await self._runner.setup()
        await _CappedSite(self._runner, self._host, self._port, self._max_connections).start()
        _LOGGER.info("Admin API and web page on http://%s:%d/", self._host, self.port)

    async def stop(self) -> None:
        """Stop serving."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
