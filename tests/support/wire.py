"""Client-side helpers for server tests: every read is bounded by `asyncio.wait_for`."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Final

from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncClient
from wyoming.error import Error
from wyoming.event import Event
from wyoming.tts import SynthesizeStopped

READ_TIMEOUT_S: Final = 10.0


async def read(client: AsyncClient, timeout_s: float = READ_TIMEOUT_S) -> Event | None:
    """The next event (None at end of stream); fails the test instead of hanging."""
    return await asyncio.wait_for(client.read_event(), timeout=timeout_s)


async def read_some(client: AsyncClient, timeout_s: float = READ_TIMEOUT_S) -> Event:
    """The next event, which must exist."""
    event = await read(client, timeout_s)
    assert event is not None, "the server closed the connection"
    return event


@dataclass
class Reply:
    """One audio reply (audio-start ... audio-stop), or what arrived before an error."""

    start: AudioStart | None = None
    chunks: list[AudioChunk] = field(default_factory=list)
    stopped: bool = False
    error: Error | None = None

    @property
    def pcm(self) -> bytes:
        """All chunk payloads joined."""
        return b"".join(chunk.audio for chunk in self.chunks)


async def read_reply(client: AsyncClient) -> Reply:
    """Read until audio-stop or error."""
    reply = Reply()
    while True:
        event = await read_some(client)
        if AudioStart.is_type(event.type):
            assert reply.start is None, "two audio-start events in one reply"
            reply.start = AudioStart.from_event(event)
        elif AudioChunk.is_type(event.type):
            assert reply.start is not None, "audio-chunk before audio-start"
            reply.chunks.append(AudioChunk.from_event(event))
        elif AudioStop.is_type(event.type):
            reply.stopped = True
            return reply
        elif Error.is_type(event.type):
            reply.error = Error.from_event(event)
            return reply
        else:
            raise AssertionError(f"unexpected event {event.type} in an audio reply")


async def read_stream(client: AsyncClient) -> tuple[list[Reply], list[Error]]:
    """Read a streaming answer until synthesize-stopped: its audio groups and any errors."""
    groups: list[Reply] = []
    errors: list[Error] = []
    current: Reply | None = None
    while True:
        event = await read_some(client)
        if SynthesizeStopped.is_type(event.type):
            assert current is None, "synthesize-stopped inside an audio group"
            return groups, errors
        if Error.is_type(event.type):
            errors.append(Error.from_event(event))
            current = None
        elif AudioStart.is_type(event.type):
            assert current is None, "audio-start inside an audio group"
            current = Reply(start=AudioStart.from_event(event))
        elif AudioChunk.is_type(event.type):
            assert current is not None, "audio-chunk outside an audio group"
            current.chunks.append(AudioChunk.from_event(event))
        elif AudioStop.is_type(event.type):
            assert current is not None, "audio-stop outside an audio group"
            current.stopped = True
            groups.append(current)
            current = None
        else:
            raise AssertionError(f"unexpected event {event.type} in a stream")


async def read_error(client: AsyncClient) -> Error:
    """The next event, which must be an error."""
    event = await read_some(client)
    assert Error.is_type(event.type), f"expected an error, got {event.type} {event.data}"
    return Error.from_event(event)
