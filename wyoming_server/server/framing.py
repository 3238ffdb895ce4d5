"""Reading Wyoming events with bounds, so a hostile or broken client cannot hurt the server.

The `wyoming` library's own reader trusts `data_length` and `payload_length` (a client can
make it buffer gigabytes), crashes its connection task on a header that is JSON but not an
object, and reports bad JSON as a plain end of stream. This reader checks every field and
raises `FrameError` with a message for the client; the stream is then out of step, so the
caller answers with an `error` event and closes that one connection.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from wyoming.event import Event


class FrameError(Exception):
    """The bytes on the wire are not a valid Wyoming event."""


@dataclass(frozen=True, slots=True)
class FrameLimits:
    """Largest parts of one event this reader accepts."""

    max_header_bytes: int
    """The JSON header line (the StreamReader's own line limit must be at least this)."""
    max_data_bytes: int
    max_payload_bytes: int


def _length_field(header: dict[str, Any], key: str, limit: int) -> int:
    value = header.get(key)
    if value is None:
        return 0
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise FrameError(f"'{key}' must be a non-negative integer")
    if value > limit:
        raise FrameError(f"'{key}' is {value} bytes; this server accepts at most {limit}")
    return value


def _json_object(raw: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as err:
        raise FrameError(f"the event {what} is not valid JSON ({err})") from None
    if not isinstance(value, dict):
        raise FrameError(f"the event {what} must be a JSON object")
    return value


async def read_event(reader: asyncio.StreamReader, limits: FrameLimits) -> Event | None:
    """The next event, or None at end of stream (also when the stream ends mid-event)."""
    try:
        line = await reader.readuntil(b"\n")
    except asyncio.IncompleteReadError:
        return None  # end of stream (possibly in the middle of a header: the peer went away)
    except asyncio.LimitOverrunError:
        raise FrameError(f"event header is longer than {limits.max_header_bytes} bytes") from None
    if len(line) > limits.max_header_bytes:
        raise FrameError(f"event header is longer than {limits.max_header_bytes} bytes")
    if not line.strip():
        raise FrameError("empty event header line")

    header = _json_object(line, "header")
    event_type = header.get("type")
    if not isinstance(event_type, str) or not event_type:
        raise FrameError("the event header needs a 'type' string")
    data = header.get("data")
    if data is None:
        data = {}
    elif not isinstance(data, dict):
        raise FrameError("the event 'data' must be a JSON object")
    data_length = _length_field(header, "data_length", limits.max_data_bytes)
    payload_length = _length_field(header, "payload_length", limits.max_payload_bytes)

    try:
        if data_length:
            data.update(_json_object(await reader.readexactly(data_length), "data"))
        payload = await reader.readexactly(payload_length) if payload_length else None
    except asyncio.IncompleteReadError:
        return None
    return Event(type=event_type, data=data, payload=payload)
