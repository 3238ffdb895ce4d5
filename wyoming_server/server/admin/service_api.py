"""`/api/tts` (speech as WAV), `/api/health`, `/api/auth`, `/metrics` and `/api/openapi.json`."""

from __future__ import annotations

import contextlib
import io
import time
import wave

from aiohttp import web

from ...engine.audio import PCM16_WIDTH_BYTES
from ..errors import ErrorCode, RequestError
from ..requests import parse_http_tts
from .context import context_of, dump_json
from .openapi import openapi_document
from .uploads import read_json


def pcm_to_wav(pcm: bytes, rate_hz: int) -> bytes:
    """A mono s16le WAV file."""
    with io.BytesIO() as buffer:
        with wave.open(buffer, "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(PCM16_WIDTH_BYTES)
            wav.setframerate(rate_hz)
            wav.writeframes(pcm)
        return buffer.getvalue()


async def synthesize_wav(request: web.Request) -> web.Response:
    """POST /api/tts {text, voice?, style?, speed?, seed?, language?} -> audio/wav"""
    received_at = time.monotonic()
    context = context_of(request)
    context.metrics.requests.inc("http", "synthesize")
    try:
        body = await read_json(request, context.limits.http_body_timeout_s)
        speech_request = parse_http_tts(body, context.limits.max_text_chars)
        speech = await context.runner.resolve(speech_request)
        blocks: list[bytes] = []
        async with contextlib.aclosing(context.runner.speak(speech, received_at=received_at)) as audio:
            async for pcm in audio:
                blocks.append(pcm)
    except RequestError as err:
        context.metrics.errors.inc(err.code.value)
        raise
    if not blocks:
        context.metrics.errors.inc(ErrorCode.EMPTY_TEXT.value)
        raise RequestError(ErrorCode.EMPTY_TEXT, "the text has nothing to pronounce")
    return web.Response(
        body=pcm_to_wav(b"".join(blocks), speech.rate_hz),
        content_type="audio/wav",
        headers={"X-Voice-Id": speech.pack.id, "X-Voice-Style": speech.style},
    )


async def health(request: web.Request) -> web.Response:
    """GET /api/health"""
    context = context_of(request)
    voices = await context.blocking(context.library.voices)
    models = await context.blocking(context.library.loaded_models)
    return web.json_response(
        {
            "status": "ok",
            "version": context.version,
            "server_id": context.server_id,
            "voices": len(voices),
            "models_loaded": models,
            "wyoming_port": context.wyoming_port(),
        }
    )


async def check_auth(request: web.Request) -> web.Response:
    """GET /api/auth: reached only with a valid token (the auth middleware guards it)."""
    return web.json_response({"ok": True})


async def metrics(request: web.Request) -> web.Response:
    """GET /metrics (Prometheus text format)"""
    context = context_of(request)
    voices = await context.blocking(context.library.voices)
    models = await context.blocking(context.library.loaded_models)
    admission = context.runner.admission
    gauges = {
        "loaded_models": ("Models in memory.", float(models)),
        "voices": ("Usable voice packs.", float(len(voices))),
        "requests_running": ("Syntheses holding a slot.", float(admission.running)),
        "requests_waiting": ("Requests queued for a slot.", float(admission.waiting)),
        **context.extra_gauges(),
    }
    return web.Response(
        text=context.metrics.render(gauges),
        content_type="text/plain",
        charset="utf-8",
        headers={"X-Content-Type-Options": "nosniff"},
    )


async def openapi(request: web.Request) -> web.Response:
    """GET /api/openapi.json"""
    return web.json_response(openapi_document(context_of(request).version), dumps=dump_json)


def add_routes(app: web.Application) -> None:
    """Register these routes."""
    app.router.add_post("/api/tts", synthesize_wav)
    app.router.add_get("/api/health", health)
    app.router.add_get("/api/auth", check_auth)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/api/openapi.json", openapi)
