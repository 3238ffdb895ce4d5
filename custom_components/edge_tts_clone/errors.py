"""Errors the client raises; HA-facing code maps them to translated HA exceptions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class EdgeTtsCloneError(Exception):
    """Base class: talking to the server failed."""


class CannotConnect(EdgeTtsCloneError):
    """The server is unreachable, timed out, or dropped the connection."""


class Unreachable(CannotConnect):
    """Not even a connection could be opened: the server is down or the address is wrong."""


class InvalidAuth(EdgeTtsCloneError):
    """The server rejected the admin token (HTTP 401)."""


class NotEdgeTtsClone(EdgeTtsCloneError):
    """Something answered, but not as an edge-tts-clone server would."""


class ProtocolError(EdgeTtsCloneError):
    """The server sent something that breaks the wire contract (garbage, oversized event)."""


class ServerError(EdgeTtsCloneError):
    """The server understood the request and refused it (`error` event or HTTP 4xx/5xx)."""

    def __init__(
        self,
        message: str,
        code: str | None = None,
        status: int | None = None,
        report: Mapping[str, Any] | None = None,
    ) -> None:
        """Keep the server's code (e.g. `unknown-voice`), HTTP status and quality report."""
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.report = report
