"""The admin HTTP API and web page (aiohttp), served by the same process as the Wyoming server.

Contract: docs/http-api.md. `create_admin_app` builds the application; `AdminSite` runs it.
"""

from __future__ import annotations

import logging
from importlib import resources
from typing import Final

from aiohttp import web

from . import service_api, voices_api
from .context import CONTEXT_KEY, AdminContext
from .errors import ApiError, auth_middleware, error_middleware, security_headers_middleware

__all__ = ["AdminContext", "AdminSite", "create_admin_app"]

_LOGGER = logging.getLogger(__name__)

WRITE_METHODS: Final = frozenset({"POST", "PATCH", "PUT", "DELETE"})
PUBLIC_WRITES: Final = frozenset({("POST", "/api/tts")})
"""Writes anyone on the network may make (speaking a test sentence changes nothing)."""
TOKEN_CHECKED_READS: Final = frozenset({("GET", "/api/auth")})
STATIC_FILES: Final = {"app.js": "application/javascript", "style.css": "text/css"}
MAX_HEADER_FIELD_BYTES: Final = 8190


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
    service_api.add_routes(app)
    app.router.add_get("/", _index)
    app.router.add_get("/static/{name}", _static)
    return app


class AdminSite:
    """Runs the admin application on host:port (port 0 picks a free one)."""

    def __init__(self, app: web.Application, host: str, port: int) -> None:
        self._app = app
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None

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
        self._runner = web.AppRunner(
            self._app,
            handler_cancellation=True,
            access_log=None,
            max_field_size=MAX_HEADER_FIELD_BYTES,
            shutdown_timeout=2.0,
        )
        await self._runner.setup()
        self._site = web.TCPSite(
            self._runner,
            self._host,
            self._port,
        )
        await self._site.start()
        _LOGGER.info("Admin API and web page on http://%s:%d/", self._host, self.port)

    async def stop(self) -> None:
        """Stop serving."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
