"""JSON errors, authentication and response hardening for the admin API (aiohttp middlewares)."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final

from aiohttp import web

from ..errors import ErrorCode, RequestError

_LOGGER = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_STATUS_OF_CODE: Final = {
    ErrorCode.BAD_REQUEST: 400,
    ErrorCode.EMPTY_TEXT: 400,
    ErrorCode.TEXT_TOO_LONG: 400,
    ErrorCode.UNKNOWN_VOICE: 404,
    ErrorCode.BUSY: 503,
    ErrorCode.TIMEOUT: 504,
    ErrorCode.ENGINE_ERROR: 500,
    ErrorCode.INTERNAL: 500,
}
_CODE_OF_STATUS: Final = {
    400: "bad-request",
    401: "unauthorized",
    404: "not-found",
    405: "method-not-allowed",
    408: "timeout",
    413: "too-large",
    415: "unsupported-media",
    422: "rejected",
}
PAGE_CSP: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "media-src 'self' blob:; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
)


class ApiError(Exception):
    """An admin API failure: HTTP status, machine code, message for a person, extra JSON fields."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra

    @classmethod
    def from_request_error(cls, err: RequestError) -> ApiError:
        """The HTTP form of a synthesis failure."""
        return cls(_STATUS_OF_CODE.get(err.code, 500), err.code.value, err.message)


def error_response(status: int, code: str, message: str, **extra: Any) -> web.Response:
    """`{"error": message, "code": code, ...}` with `status`."""
    return web.json_response({"error": message, "code": code, **extra}, status=status)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure becomes a JSON error; nothing escapes as an HTML page or a stack trace."""
    try:
        return await handler(request)
    except ApiError as err:
        return error_response(err.status, err.code, err.message, **err.extra)
    except RequestError as err:
        api = ApiError.from_request_error(err)
        return error_response(api.status, api.code, api.message)
    except web.HTTPException as err:
        if err.status < 400:
            raise
        code = _CODE_OF_STATUS.get(err.status, "http-error")
        message = {413: "the request body is too large", 404: "no such page or API route"}.get(
            err.status, err.reason
        )
        response = error_response(err.status, code, message)
        for header in ("Allow",):
            if header in err.headers:
                response.headers[header] = err.headers[header]
        return response
    except Exception:
        _LOGGER.exception("Admin API request %s %s failed", request.method, request.path)
        return error_response(500, "internal", "internal error; see the server log")


@web.middleware
async def security_headers_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """No sniffing, no framing, no referrer; a strict CSP for the page; no CORS headers at all."""
    response = await handler(request)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    if response.content_type == "text/html":
        response.headers.setdefault("Content-Security-Policy", PAGE_CSP)
    if request.path.startswith("/api/"):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def token_matches(header: str | None, token: str) -> bool:
    """True for `Bearer <token>`; constant-time so the comparison leaks nothing about the token."""
    if not header:
        return False
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer":
        return False
    # surrogateescape: a header with bytes that are not UTF-8 must fail to match, not crash (500).
    return hmac.compare_digest(presented.strip().encode("utf-8", "surrogateescape"), token.encode("utf-8"))


def auth_middleware(token: str, is_protected: Callable[[web.Request], bool]) -> Any:
    """Refuse protected requests without the admin token (401, code `unauthorized`)."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if is_protected(request) and not token_matches(request.headers.get("Authorization"), token):
            response = error_response(
                401,
                "unauthorized",
                "this needs the admin token (Authorization: Bearer <token>); it is in <data>/admin_token",
            )
            response.headers["WWW-Authenticate"] = 'Bearer realm="edge-tts-clone"'
            return response
        return await handler(request)

    return middleware
