"""Wyoming side of the client: describe, one-shot synthesis and streaming synthesis.

Events are written with the `wyoming` library's framing, but read with our own bounded
reader: the library trusts `data_length`/`payload_length`, and a confused or restarted
server must never make Home Assistant buffer unbounded data or hang forever.
The streaming events (`synthesize-start|chunk|stop`) are built as plain `Event`s: their
classes only exist in wyoming >= 1.7, while HA 2025.4 ships 1.5.4, and the wire is the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from typing import Any, Final

from wyoming.event import Event, async_write_event

from .const import (
    AUDIO_IDLE_TIMEOUT_S,
    CONNECT_TIMEOUT_S,
    DESCRIBE_TIMEOUT_S,
    MAX_EVENT_DATA_BYTES,
    MAX_EVENT_PAYLOAD_BYTES,
    MAX_REPLY_AUDIO_BYTES,
    PROGRAM_NAME,
    WYOMING_EXTRA_FIELD,
)
from .errors import CannotConnect, NotEdgeTtsClone, ProtocolError, ServerError, Unreachable
from .wire import AudioFormat, SynthesizedAudio, WyomingInfo

_LOGGER = logging.getLogger(__name__)

_STREAM_LIMIT_BYTES: Final = 64 * 1024
"""Longest JSON header line accepted (asyncio's readline limit)."""


async def read_event(reader: asyncio.StreamReader) -> Event | None:
    """Read one event, or None at a clean end of stream; `ProtocolError` on garbage."""
    try:
        line = await reader.readline()
    except ValueError as err:  # header line longer than the stream limit
        raise ProtocolError("Wyoming header line too long") from err
    if not line:
        return None
    if not line.endswith(b"\n"):
        raise CannotConnect("connection closed in the middle of an event")
    try:
        header = json.loads(line)
    except ValueError as err:
        raise ProtocolError("Wyoming header is not JSON") from err
    if not isinstance(header, dict) or not isinstance(header.get("type"), str):
        raise ProtocolError("Wyoming header has no event type")
    data = header.get("data") or {}
    if not isinstance(data, dict):
        raise ProtocolError("Wyoming event data is not an object")
    data_length = _length(header, "data_length", MAX_EVENT_DATA_BYTES)
    payload_length = _length(header, "payload_length", MAX_EVENT_PAYLOAD_BYTES)
    try:
        if data_length:
            extra = json.loads(await reader.readexactly(data_length))
            if not isinstance(extra, dict):
                raise ProtocolError("Wyoming event data is not an object")
            data.update(extra)
        payload = await reader.readexactly(payload_length) if payload_length else None
    except asyncio.IncompleteReadError as err:
        raise CannotConnect("connection closed in the middle of an event") from err
    except (ValueError, UnicodeDecodeError) as err:
        raise ProtocolError("Wyoming event data is not JSON") from err
    return Event(type=header["type"], data=data, payload=payload)


def _length(header: Mapping[str, Any], key: str, limit: int) -> int:
    value = header.get(key) or 0
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= limit:
        raise ProtocolError(f"Wyoming {key} {value!r} is out of range (0..{limit})")
    return value


def parse_info(data: Mapping[str, Any]) -> WyomingInfo:
    """Our program from an `info` event's data; `NotEdgeTtsClone` if it is absent."""
    programs = data.get("tts")
    if not isinstance(programs, list):
        raise NotEdgeTtsClone("the Wyoming server offers no text-to-speech")
    for program in programs:
        if not isinstance(program, Mapping) or program.get("name") != PROGRAM_NAME:
            continue
        voices = program.get("voices")
        voice_ids = tuple(
            voice["name"]
            for voice in (voices if isinstance(voices, list) else [])
            if isinstance(voice, Mapping) and isinstance(voice.get("name"), str)
        )
        version = program.get("version")
        return WyomingInfo(
            program_version=version if isinstance(version, str) else None,
            voice_ids=voice_ids,
            supports_streaming=program.get("supports_synthesize_streaming") is True,
        )
    raise NotEdgeTtsClone(f"the Wyoming server has no '{PROGRAM_NAME}' program")


def synthesize_data(
    text: str | None, voice: str | None, style: str | None, extras: Mapping[str, Any]
) -> dict[str, Any]:
    """`synthesize`/`synthesize-start` data: standard voice fields + our namespaced extras."""
    data: dict[str, Any] = {}
    if text is not None:
        data["text"] = text
    if voice:
        data["voice"] = {"name": voice, **({"speaker": style} if style else {})}
    namespaced = {key: value for key, value in extras.items() if value is not None}
    if style:
        namespaced["style"] = style
    if namespaced:
        data[WYOMING_EXTRA_FIELD] = namespaced
    return data


def _audio_format(data: Mapping[str, Any]) -> AudioFormat:
    values = [data.get(key) for key in ("rate", "width", "channels")]
    checked = [
        value for value in values if isinstance(value, int) and not isinstance(value, bool) and value > 0
    ]
    if len(checked) != len(values):
        raise ProtocolError("audio event without a valid rate/width/channels")
    return AudioFormat(rate=checked[0], width=checked[1], channels=checked[2])


def _raise_if_error(event: Event) -> None:
    if event.type == "error":
        text = event.data.get("text")
        code = event.data.get("code")
        raise ServerError(
            text if isinstance(text, str) and text else "the server reported an error",
            code=code if isinstance(code, str) else None,
        )


class WyomingLink:
    """Opens one TCP connection per request, like HA's own Wyoming client."""

    def __init__(self, host: str, port: int) -> None:
        """Remember where the server listens; nothing is opened yet."""
        self.host = host
        self.port = port

    @contextlib.asynccontextmanager
    async def _connect(self) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port, limit=_STREAM_LIMIT_BYTES), CONNECT_TIMEOUT_S
            )
        except (OSError, TimeoutError) as err:
            raise Unreachable(f"cannot reach Wyoming at {self.host}:{self.port}: {err}") from err
        try:
            yield reader, writer
        except (ConnectionError, OSError) as err:
            raise CannotConnect(f"Wyoming connection to {self.host}:{self.port} failed: {err}") from err
        finally:
            writer.close()
            with contextlib.suppress(OSError, asyncio.CancelledError):
                await writer.wait_closed()

    async def describe(self) -> WyomingInfo:
        """Send `describe` and parse the `info` answer."""
        async with self._connect() as (reader, writer):
            await async_write_event(Event(type="describe"), writer)
            try:
                async with asyncio.timeout(DESCRIBE_TIMEOUT_S):
                    while (event := await read_event(reader)) is not None:
                        if event.type == "info":
                            return parse_info(event.data)
            except TimeoutError as err:
                raise CannotConnect("the Wyoming server did not answer 'describe'") from err
        raise CannotConnect("the Wyoming server closed the connection without 'info'")

    async def synthesize(
        self, text: str, voice: str | None, style: str | None, extras: Mapping[str, Any]
    ) -> SynthesizedAudio:
        """One `synthesize` request; all audio up to `audio-stop`."""
        async with self._connect() as (reader, writer):
            await async_write_event(
                Event(type="synthesize", data=synthesize_data(text, voice, style, extras)), writer
            )
            audio_format: AudioFormat | None = None
            pcm = bytearray()
            while True:
                event = await self._read_audio_event(reader)
                _raise_if_error(event)
                if event.type == "audio-start" and audio_format is None:
                    audio_format = _audio_format(event.data)
                elif event.type == "audio-chunk":
                    audio_format = audio_format or _audio_format(event.data)
                    pcm += event.payload or b""
                    if len(pcm) > MAX_REPLY_AUDIO_BYTES:
                        raise ProtocolError("the server sent more audio than any reply can have")
                elif event.type == "audio-stop":
                    if audio_format is None:
                        raise ProtocolError("the server stopped before sending any audio")
                    return SynthesizedAudio(audio_format, bytes(pcm))

    async def _read_audio_event(self, reader: asyncio.StreamReader) -> Event:
        try:
            event = await asyncio.wait_for(read_event(reader), AUDIO_IDLE_TIMEOUT_S)
        except TimeoutError as err:
            raise CannotConnect(f"no audio from the server for {AUDIO_IDLE_TIMEOUT_S:.0f} s") from err
        if event is None:
            raise CannotConnect("the server closed the connection before the audio ended")
        return event

    async def stream_synthesize(
        self,
        text_chunks: AsyncIterable[str],
        voice: str | None,
        style: str | None,
        extras: Mapping[str, Any],
    ) -> AsyncIterator[tuple[AudioFormat, bytes]]:
        """Stream text in and audio out: yields (format, PCM) as each sentence is ready.

        Text is sent from a background task while audio is read, so the first sentence
        plays while an LLM is still writing the rest. The idle timeout only runs once all
        text has been sent: before that, silence just means the text is still coming.
        """
        async with self._connect() as (reader, writer):
            sender = asyncio.create_task(self._send_stream(writer, text_chunks, voice, style, extras))
            reading: asyncio.Task[Event | None] | None = None
            audio_format: AudioFormat | None = None
            sent_bytes = 0
            try:
                while True:
                    if reading is None:
                        reading = asyncio.ensure_future(read_event(reader))
                    waiting: set[asyncio.Future[Any]] = {reading}
                    if not sender.done():
                        waiting.add(sender)
                    timeout = None if not sender.done() else AUDIO_IDLE_TIMEOUT_S
                    done, _ = await asyncio.wait(
                        waiting, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
                    )
                    if not done:
                        raise CannotConnect(f"no audio from the server for {AUDIO_IDLE_TIMEOUT_S:.0f} s")
                    if sender in done:
                        sender.result()  # re-raises a failure of the text source or the socket
                    if reading not in done:
                        continue
                    event, reading = reading.result(), None
                    if event is None:
                        raise CannotConnect("the server closed the connection before the audio ended")
                    _raise_if_error(event)
                    if event.type == "synthesize-stopped":
                        break
                    if event.type == "audio-start" and audio_format is None:
                        audio_format = _audio_format(event.data)
                    elif event.type == "audio-chunk" and event.payload:
                        chunk_format = _audio_format(event.data)
                        audio_format = audio_format or chunk_format
                        if chunk_format != audio_format:
                            raise ProtocolError("the server changed the audio format within one reply")
                        sent_bytes += len(event.payload)
                        if sent_bytes > MAX_REPLY_AUDIO_BYTES:
                            raise ProtocolError("the server sent more audio than any reply can have")
                        yield audio_format, event.payload
                await sender
            finally:
                for task in (sender, reading):
                    if task is not None and not task.done():
                        task.cancel()
                        with contextlib.suppress(asyncio.CancelledError, Exception):
                            await task

    async def _send_stream(
        self,
        writer: asyncio.StreamWriter,
        text_chunks: AsyncIterable[str],
        voice: str | None,
        style: str | None,
        extras: Mapping[str, Any],
    ) -> None:
        await async_write_event(
            Event(type="synthesize-start", data=synthesize_data(None, voice, style, extras)), writer
        )
        parts: list[str] = []
        async for chunk in text_chunks:
            if not chunk:
                continue
            parts.append(chunk)
            await async_write_event(Event(type="synthesize-chunk", data={"text": chunk}), writer)
        # The whole text once more, for servers that ignore the streaming events (wire contract).
        await async_write_event(
            Event(type="synthesize", data=synthesize_data("".join(parts), voice, style, extras)), writer
        )
        await async_write_event(Event(type="synthesize-stop"), writer)
        _LOGGER.debug("streamed %d text chunks to %s:%d", len(parts), self.host, self.port)
