"""Turning event data (Wyoming `synthesize*` and the HTTP `/api/tts` body) into checked requests.

The `wyoming` classes' `from_event` accept any JSON type (a number as `text` passes and fails
later, deep in the engine). These parsers check every field at the boundary and raise
`RequestError` with the contract's code, so a bad request becomes a clear `error` event.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any, Final

from .errors import ErrorCode, RequestError

OPTIONS_FIELD: Final = "edge_tts_clone"
"""Namespaced field of `synthesize` / `synthesize-start` data carrying our extra options."""
MIN_SPEED: Final = 0.5
MAX_SPEED: Final = 2.0
MAX_SEED: Final = 2**63 - 1
MAX_NAME_CHARS: Final = 200
"""Longest voice id, language or style name accepted (they are looked up, never stored)."""
SLUG_RE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
"""Voice and style ids: letters, digits, `_` and `-`; no dots or slashes, so never a path."""


@dataclass(frozen=True, slots=True)
class SpeechRequest:
    """What to say and how, before the voice is looked up."""

    text: str
    voice_id: str | None = None
    language: str | None = None
    style: str | None = None
    """Style (Wyoming speaker) name; None means the voice's default style."""
    speed: float | None = None
    seed: int | None = None

    def with_text(self, text: str) -> SpeechRequest:
        """The same voice and options for another piece of text (one sentence of a stream)."""
        return replace(self, text=text)


def _bad(message: str) -> RequestError:
    return RequestError(ErrorCode.BAD_REQUEST, message)


def _unicode(value: str, what: str) -> str:
    """`value` if it is valid Unicode. JSON can carry a lone surrogate ("\\ud800"), which Python
    keeps in a str but nothing can encode: it would fail deep inside (cache key, engine, logs)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise _bad(f"{what} is not valid Unicode text (it holds a lone surrogate)") from None
    return value


def _optional_str(container: dict[str, Any], key: str, where: str) -> str | None:
    value = container.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _bad(f"'{where}{key}' must be a string")
    _unicode(value, f"'{where}{key}'")
    if len(value) > MAX_NAME_CHARS:
        raise _bad(f"'{where}{key}' is longer than {MAX_NAME_CHARS} characters")
    return value.strip() or None


def _optional_slug(container: dict[str, Any], key: str, where: str, what: str) -> str | None:
    """A voice or style id; anything that is not a slug cannot name one (and never reaches the library)."""
    value = _optional_str(container, key, where)
    if value is not None and not SLUG_RE.fullmatch(value):
        raise RequestError(
            ErrorCode.UNKNOWN_VOICE,
            f"no {what} {value[:80]!r} on this server ({what} ids are letters, digits, '_' and '-')",
        )
    return value


def check_text(text: str, max_chars: int) -> str:
    """The text to speak, or `empty-text` / `text-too-long` (or `bad-request` when not valid Unicode)."""
    _unicode(text, "the text")
    if not text.strip():
        raise RequestError(ErrorCode.EMPTY_TEXT, "there is no text to speak")
    if len(text) > max_chars:
        raise RequestError(
            ErrorCode.TEXT_TOO_LONG,
            f"the text has {len(text)} characters; this server speaks at most {max_chars} per request "
            "(see --max-text-chars)",
        )
    return text


def parse_speed(value: Any, where: str) -> float | None:
    """A speaking-rate factor within the contract's range, or None."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _bad(f"'{where}speed' must be a number")
    if not MIN_SPEED <= float(value) <= MAX_SPEED:
        raise _bad(f"'{where}speed' must be between {MIN_SPEED} and {MAX_SPEED}, not {value}")
    return float(value)


def parse_seed(value: Any, where: str) -> int | None:
    """A non-negative integer seed, or None."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(f"'{where}seed' must be an integer")
    if not 0 <= value <= MAX_SEED:
        raise _bad(f"'{where}seed' must be between 0 and {MAX_SEED}")
    return value


def _parse_voice_and_options(data: dict[str, Any]) -> SpeechRequest:
    voice = data.get("voice")
    if voice is None:
        voice = {}
    if not isinstance(voice, dict):
        raise _bad("'voice' must be an object")
    voice_id = _optional_slug(voice, "name", "voice.", "voice")
    # As in SynthesizeVoice.from_dict: a name wins, the language only counts without one.
    language = None if voice_id else _optional_str(voice, "language", "voice.")
    style = _optional_slug(voice, "speaker", "voice.", "style")

    extras = data.get(OPTIONS_FIELD)
    if extras is None:
        extras = {}
    if not isinstance(extras, dict):
        raise _bad(f"'{OPTIONS_FIELD}' must be an object")
    where = f"{OPTIONS_FIELD}."
    style = _optional_slug(extras, "style", where, "style") or style
    return SpeechRequest(
        text="",
        voice_id=voice_id,
        language=language,
        style=style,
        speed=parse_speed(extras.get("speed"), where),
        seed=parse_seed(extras.get("seed"), where),
    )


def _check_text_format(data: dict[str, Any]) -> None:
    text_format = data.get("text_format")
    if text_format not in (None, "text"):
        raise _bad(f"text_format {text_format!r} is not supported; send plain text")


def parse_synthesize(data: dict[str, Any], max_chars: int) -> SpeechRequest:
    """The data of a `synthesize` event."""
    text = data.get("text")
    if not isinstance(text, str):
        raise _bad("'text' is required and must be a string")
    _check_text_format(data)
    request = _parse_voice_and_options(data)
    return request.with_text(check_text(text, max_chars))


def parse_synthesize_start(data: dict[str, Any]) -> SpeechRequest:
    """The data of a `synthesize-start` event: voice and options for the whole stream."""
    _check_text_format(data)
    return _parse_voice_and_options(data)


def parse_chunk_text(data: dict[str, Any]) -> str:
    """The text of a `synthesize-chunk` event."""
    text = data.get("text")
    if not isinstance(text, str):
        raise _bad("'text' of synthesize-chunk must be a string")
    return _unicode(text, "the text")


def parse_http_tts(body: Any, max_chars: int) -> SpeechRequest:
    """The JSON body of `POST /api/tts`: {text, voice?, style?, speed?, seed?, language?}."""
    if not isinstance(body, dict):
        raise _bad("the request body must be a JSON object")
    text = body.get("text")
    if not isinstance(text, str):
        raise _bad("'text' is required and must be a string")
    return SpeechRequest(
        text=check_text(text, max_chars),
        voice_id=_optional_slug(body, "voice", "", "voice"),
        language=_optional_str(body, "language", ""),
        style=_optional_slug(body, "style", "", "style"),
        speed=parse_speed(body.get("speed"), ""),
        seed=parse_seed(body.get("seed"), ""),
    )
