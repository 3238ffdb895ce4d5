"""Wyoming client calls the reliability tests make: one connection with bounded reads, one request."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Final

from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event, async_read_event, async_write_event
from wyoming.tts import Synthesize, SynthesizeVoice

READ_TIMEOUT_S: Final = 180.0


class ErrorReply(RuntimeError):
    """The server answered a request with an `error` event."""

    def __init__(self, code: str, text: str) -> None:
        super().__init__(f"{code}: {text}")
        self.code, self.text = code, text


class WyomingConnection:
    """One client connection with bounded reads."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> WyomingConnection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def send(self, event: Event) -> None:
        await async_write_event(event, self.writer)

    async def read(self) -> Event:
        event = await asyncio.wait_for(async_read_event(self.reader), READ_TIMEOUT_S)
        if event is None:
            raise ConnectionError("the server closed the connection")
        return event

    async def speak(self, voice: str, text: str, seed: int) -> tuple[int, bytes]:
        """One `synthesize` with this seed: (rate, s16le audio); `ErrorReply` on an `error` reply."""
        event = Synthesize(text, voice=SynthesizeVoice(name=voice)).event()
        event.data["edge_tts_clone"] = {"seed": seed}
        await self.send(event)
        rate_hz, pcm = 0, bytearray()
        while True:
            event = await self.read()
            if Error.is_type(event.type):
                error = Error.from_event(event)
                raise ErrorReply(error.code or "", error.text)
            if AudioStart.is_type(event.type):
                rate_hz = AudioStart.from_event(event).rate
            elif AudioChunk.is_type(event.type):
                pcm += AudioChunk.from_event(event).audio
            elif AudioStop.is_type(event.type):
                return rate_hz, bytes(pcm)

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()


async def speak(port: int, voice: str, text: str = "Is the oven still on?", seed: int = 5) -> bytes:
    """The audio of one request on a fresh connection (raises ErrorReply on an `error` event)."""
    connection = await WyomingConnection.open(port)
    try:
        _rate, pcm = await connection.speak(voice, text, seed)
    finally:
        await connection.close()
    return pcm


async def speak_error(port: int, voice: str) -> ErrorReply:
    """The `error` a request for `voice` gets (AssertionError if it got audio instead)."""
    try:
        pcm = await speak(port, voice)
    except ErrorReply as err:
        return err
    raise AssertionError(f"{voice} spoke ({len(pcm)} bytes) where an error was expected")
