"""Failure codes shared by the Wyoming `error` event and the admin API (see docs/http-api.md)."""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    """The `code` of an `error` event; the contract lists exactly these."""

    UNKNOWN_VOICE = "unknown-voice"
    EMPTY_TEXT = "empty-text"
    TEXT_TOO_LONG = "text-too-long"
    TIMEOUT = "timeout"
    BAD_REQUEST = "bad-request"
    BUSY = "busy"
    ENGINE_ERROR = "engine-error"
    INTERNAL = "internal"


class RequestError(Exception):
    """A request that cannot be served, with a message a person can act on."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __repr__(self) -> str:
        return f"RequestError({self.code.value!r}, {self.message!r})"
