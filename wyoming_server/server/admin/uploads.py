"""Reading admin API request bodies with caps and checks: JSON, and the multipart enrollment form.

Every body is read under a deadline (a client trickling bytes cannot hold a handler forever)
and a size cap; ids are slugs, so nothing a client sends can name a path outside the data
folder; the uploaded audio must look like WAV, FLAC, OGG or MP3 before the library sees it.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Final

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from ..requests import SLUG_RE
from .errors import ApiError

LANGUAGE_RE: Final = re.compile(r"^[a-z]{2,3}([_-][A-Za-z0-9]{2,8})?$")
MAX_JSON_BYTES: Final = 64 * 1024
MAX_FIELD_BYTES: Final = 16 * 1024
MAX_FORM_PARTS: Final = 32
"""The form has 10 fields; a body of thousands of tiny parts is refused, not parsed to the end."""
MAX_NAME_CHARS: Final = 80
_AUDIO_MAGIC: Final = (
    (b"RIFF", 8, b"WAVE"),
    (b"fLaC", 0, b""),
    (b"OggS", 0, b""),
    (b"ID3", 0, b""),
)
_TEXT_FIELDS: Final = frozenset(
    {"name", "text", "language", "consent", "style", "voice_id", "model_id", "force", "start_s", "end_s"}
)


def check_slug(value: str, what: str) -> str:
    """`value` if it is a slug; 400 otherwise (this is also the path-traversal guard)."""
    if not SLUG_RE.fullmatch(value):
        raise ApiError(
            400,
            "bad-request",
            f"{what} must be 1-64 letters, digits, '_' or '-' (starting with a letter or digit)",
        )
    return value


def check_display_name(value: Any) -> str:
    """A display name: 1-80 printable characters."""
    if not isinstance(value, str) or not value.strip():
        raise ApiError(400, "bad-request", "'name' is required")
    name = value.strip()
    if len(name) > MAX_NAME_CHARS:
        raise ApiError(400, "bad-request", f"'name' is longer than {MAX_NAME_CHARS} characters")
    if any(unicodedata.category(char).startswith("C") for char in name):
        raise ApiError(400, "bad-request", "'name' must not contain control characters")
    return name


def looks_like_audio(head: bytes) -> bool:
    """True when the first bytes are a WAV, FLAC, OGG or MP3 signature."""
    for magic, offset, tag in _AUDIO_MAGIC:
        if head.startswith(magic) and head[offset : offset + len(tag)] == tag:
            return True
    return len(head) >= 2 and head[0] == 0xFF and (head[1] & 0xE0) == 0xE0  # MPEG audio frame sync


async def read_json(request: web.Request, timeout_s: float) -> Any:
    """The JSON body (at most MAX_JSON_BYTES, within `timeout_s`)."""
    if request.content_length is not None and request.content_length > MAX_JSON_BYTES:
        raise ApiError(413, "too-large", f"the JSON body is larger than {MAX_JSON_BYTES} bytes")
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout_s):
            while size <= MAX_JSON_BYTES and (chunk := await request.content.read(MAX_JSON_BYTES + 1 - size)):
                chunks.append(chunk)
                size += len(chunk)
    except TimeoutError:
        raise ApiError(408, "timeout", "the request body arrived too slowly") from None
    if size > MAX_JSON_BYTES:
        raise ApiError(413, "too-large", f"the JSON body is larger than {MAX_JSON_BYTES} bytes")
    raw = b"".join(chunks)
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        raise ApiError(400, "bad-request", "the request body is not valid JSON") from None


@dataclass(frozen=True, slots=True)
class EnrollmentForm:
    """The checked fields of `POST /api/voices`."""

    name: str
    audio: bytes
    text: str
    language: str
    consent: str
    style: str
    voice_id: str | None
    model_id: str | None
    """The installed model a new voice uses (None: the best installed)."""
    force: bool
    start_s: float | None
    end_s: float | None


class _BodyBudget:
    """Bytes the whole multipart body may still use (a chunked body announces no length)."""

    def __init__(self, total_bytes: int) -> None:
        self.left = total_bytes

    def take(self, count: int, limit_mb: int) -> None:
        """Count `count` more bytes; 413 once the body is over the cap."""
        self.left -= count
        if self.left < 0:
            raise ApiError(413, "too-large", f"the upload is larger than {limit_mb} MB")


async def _read_part(part: BodyPartReader, limit: int, what: str, budget: _BodyBudget, limit_mb: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while chunk := await part.read_chunk(64 * 1024):
        size += len(chunk)
        budget.take(len(chunk), limit_mb)
        if size > limit:
            raise ApiError(413, "too-large", f"{what} is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _optional_seconds(fields: dict[str, str], key: str) -> float | None:
    raw = fields.get(key, "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ApiError(400, "bad-request", f"'{key}' must be a number of seconds") from None
    if not math.isfinite(value) or value < 0:
        raise ApiError(400, "bad-request", f"'{key}' must be a non-negative number of seconds")
    return value


async def read_enrollment_form(
    request: web.Request, *, max_upload_bytes: int, timeout_s: float
) -> EnrollmentForm:
    """Parse and check the multipart enrollment form."""
    limit_mb = max_upload_bytes // (1024 * 1024)
    if request.content_length is not None and request.content_length > max_upload_bytes + MAX_JSON_BYTES:
        raise ApiError(413, "too-large", f"the upload is larger than {limit_mb} MB")
    if request.content_type != "multipart/form-data":
        raise ApiError(415, "unsupported-media", "send the enrollment as multipart/form-data")
    fields: dict[str, str] = {}
    audio: bytes | None = None
    budget = _BodyBudget(max_upload_bytes + MAX_JSON_BYTES)
    try:
        async with asyncio.timeout(timeout_s):
            reader = await request.multipart()
            parts = 0
            while (part := await reader.next()) is not None:
                parts += 1
                if parts > MAX_FORM_PARTS:
                    raise ApiError(413, "too-large", f"the form has more than {MAX_FORM_PARTS} parts")
                if not isinstance(part, BodyPartReader):
                    raise ApiError(400, "bad-request", "nested multipart bodies are not accepted")
                if not part.name:
                    raise ApiError(400, "bad-request", "a form field has no name")
                if part.name == "audio":
                    audio = await _read_part(part, max_upload_bytes, "the audio file", budget, limit_mb)
                elif part.name in _TEXT_FIELDS:
                    raw = await _read_part(part, MAX_FIELD_BYTES, f"field '{part.name}'", budget, limit_mb)
                    try:
                        fields[part.name] = raw.decode("utf-8")
                    except UnicodeDecodeError:
                        raise ApiError(400, "bad-request", f"field '{part.name}' is not UTF-8 text") from None
                else:
                    await _read_part(part, MAX_FIELD_BYTES, "an unknown field", budget, limit_mb)
    except TimeoutError:
        raise ApiError(408, "timeout", "the upload arrived too slowly") from None
    except (ValueError, HttpProcessingError) as err:  # aiohttp's multipart parser on a broken body
        detail = err.message if isinstance(err, HttpProcessingError) else str(err)
        raise ApiError(400, "bad-request", f"the multipart body is malformed ({detail[:200]})") from None

    if not audio:
        raise ApiError(400, "bad-request", "'audio' (the reference clip) is required")
    if not looks_like_audio(audio[:16]):
        raise ApiError(415, "unsupported-media", "the audio must be a WAV, FLAC, OGG or MP3 file")
    consent = fields.get("consent", "").strip()
    if not consent or consent.lower() in {"false", "0", "no", "off"}:
        raise ApiError(
            400,
            "bad-request",
            "consent is required: the person whose voice this is must agree to it being cloned",
        )
    language = fields.get("language", "").strip()
    if not LANGUAGE_RE.fullmatch(language):
        raise ApiError(400, "bad-request", "'language' must be a language code such as 'zh' or 'en'")
    voice_id = fields.get("voice_id", "").strip() or None
    model_id = fields.get("model_id", "").strip() or None
    start_s, end_s = _optional_seconds(fields, "start_s"), _optional_seconds(fields, "end_s")
    if start_s is not None and end_s is not None and end_s <= start_s:
        raise ApiError(400, "bad-request", "'end_s' must be after 'start_s'")
    return EnrollmentForm(
        name=check_display_name(fields.get("name")) if voice_id is None or fields.get("name") else "",
        audio=audio,
        text=fields.get("text", "").strip(),
        language=language,
        consent=consent,
        style=check_slug(fields.get("style", "").strip() or "default", "'style'"),
        voice_id=check_slug(voice_id, "'voice_id'") if voice_id else None,
        model_id=check_slug(model_id, "'model_id'") if model_id else None,
        force=fields.get("force", "").strip().lower() == "true",
        start_s=start_s,
        end_s=end_s,
    )
