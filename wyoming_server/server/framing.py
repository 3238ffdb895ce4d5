"""Reading Wyoming events with bounds, so a hostile or broken client cannot hurt the server.

The `wyoming` library's own reader trusts `data_length` and `payload_length` (a client can
make it buffer gigabytes), crashes its connection task on a header that is JSON but not an
object, reports bad JSON as a plain end of stream and dies on JSON nested a few thousand levels
deep. This reader checks every field, never buffers a payload (a TTS server ignores them), and
raises `FrameError` with a message for the client; the stream is then out of step, so the
caller answers with an `error` event and closes that one connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from wyoming.event import Event

_SKIP_PIECE_BYTES: Final = 64 * 1024
LINGER_S: Final = 2.0
"""How long a connection closed for a broken frame keeps reading (and dropping) what the client sends."""


class FrameError(Exception):
    """The bytes on the wire are not a valid Wyoming event."""


class IdleTimeout(Exception):
    """No complete event arrived before the connection's idle deadline."""


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
    except RecursionError:  # `[[[[...` a few thousand deep: json's parser recurses per level
        raise FrameError(f"the event {what} is nested too deeply") from None
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
        if payload_length:
            await _skip(reader, payload_length)
    except asyncio.IncompleteReadError:
        return None
    # A TTS server has no use for a client's payload (audio-chunk is for ASR servers): it is
    # read past in small pieces, so a connection never holds megabytes of it.
    return Event(type=event_type, data=data, payload=None)


async def read_event_before(
    reader: asyncio.StreamReader,
    limits: FrameLimits,
    idle_deadline: Callable[[], float | None],
    recheck_s: float,
) -> Event | None:
    """`read_event`, or `IdleTimeout` once `idle_deadline()` (a `time.monotonic()` value) has passed.

    `idle_deadline()` is asked again whenever it may have changed: it returns None while the
    connection is not idle (then it is asked again after `recheck_s`). Bytes that trickle in
    without completing an event do not move the deadline, so a slowloris client is dropped too.
    """
    reading = asyncio.ensure_future(read_event(reader, limits))
    try:
        while True:
            deadline = idle_deadline()
            wait_s = recheck_s if deadline is None else deadline - time.monotonic()
            if wait_s <= 0:
                raise IdleTimeout
            done, _pending = await asyncio.wait({reading}, timeout=wait_s)
            if done:
                return reading.result()
    finally:
        if not reading.done():
            reading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reading


async def discard_input_then_close(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, linger_s: float = LINGER_S
) -> None:
    """Close after a final reply without destroying it ("lingering close").

    Closing a socket whose client has sent bytes we never read makes the kernel reset the
    connection, and a reset throws away reply bytes not yet delivered: the client would never
    see its `error`. So: end our side (FIN after the reply), read and drop input until the
    client closes or `linger_s` passes, then close.
    """
    try:
        if writer.can_write_eof():
            writer.write_eof()
        async with asyncio.timeout(linger_s):
            while await reader.read(_SKIP_PIECE_BYTES):
                pass
    except (ConnectionError, OSError, RuntimeError, TimeoutError):
        pass
    finally:
        writer.close()


async def _skip(reader: asyncio.StreamReader, count: int) -> None:
    """Read and drop `count` bytes; IncompleteReadError if the stream ends first."""
    while count > 0:
        piece = await reader.read(min(count, _SKIP_PIECE_BYTES))
        if not piece:
            raise asyncio.IncompleteReadError(b"", count)
        count -= len(piece)
