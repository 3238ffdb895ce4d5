"""Connection cap and idle timeout of the Wyoming listener: floods of idle or slow clients cost nothing lasting."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Final

from wyoming.ping import Ping, Pong
from wyoming.tts import Synthesize, SynthesizeVoice

from tests.support.fakes import expected_pcm
from tests.support.servers import StartServer
from tests.support.wire import read, read_error, read_reply, read_some

WAIT_S: Final = 10.0


def _synthesize(text: str) -> Synthesize:
    return Synthesize(text, voice=SynthesizeVoice(name="mum"))


async def _closed_by_server(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sends until it closes (fails the test if it never does)."""
    return await asyncio.wait_for(reader.read(), WAIT_S)


async def test_an_idle_flood_past_the_cap_evicts_the_silent_connections_not_the_working_one(
    start_server: StartServer,
) -> None:
    server = await start_server(max_connections=3)
    async with server.client() as worker:
        await worker.write_event(Ping("hi").event())
        assert Pong.is_type((await read_some(worker)).type)
        flood = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(6)]
        # Each newcomer past the cap closes the longest-idle connection that never sent an event.
        for reader, _writer in flood[:4]:
            assert await _closed_by_server(reader) == b""
        listener = server.app.listener
        assert listener is not None and listener.connections <= 3
        await worker.write_event(_synthesize("Still served.").event())
        reply = await read_reply(worker)
        assert reply.pcm == expected_pcm("mum", "default", "Still served.")
        for _reader, writer in flood:
            writer.close()


async def test_when_every_connection_is_owed_a_reply_a_newcomer_is_refused_with_busy(
    start_server: StartServer,
) -> None:
    server = await start_server(max_connections=2, max_concurrent=2)
    gate = server.library.behaviour.gate = threading.Event()
    async with server.client() as first, server.client() as second:
        await first.write_event(_synthesize("First one.").event())
        await second.write_event(_synthesize("Second one.").event())
        assert await asyncio.to_thread(server.library.behaviour.started.wait, WAIT_S)
        async with server.client() as third:
            error = await read_error(third)
            assert error.code == "busy" and "connections" in error.text
            assert await read(third) is None, "the refused connection is closed"
        gate.set()
        assert (await read_reply(first)).pcm == expected_pcm("mum", "default", "First one.")
        assert (await read_reply(second)).pcm == expected_pcm("mum", "default", "Second one.")


async def test_idle_and_half_sent_connections_are_closed_after_the_idle_timeout(start_server: StartServer) -> None:
    server = await start_server(idle_timeout_s=0.3)
    silent = await asyncio.open_connection("127.0.0.1", server.port)
    half = await asyncio.open_connection("127.0.0.1", server.port)
    half[1].write(b'{"type": "synthesize", "data": {"text": "never fini')
    await half[1].drain()
    assert await _closed_by_server(silent[0]) == b""
    assert await _closed_by_server(half[0]) == b""
    for _reader, writer in (silent, half):
        writer.close()


async def test_a_client_dribbling_a_header_byte_by_byte_is_closed(start_server: StartServer) -> None:
    """Slowloris: bytes keep arriving, but no event is ever completed, so the connection is idle."""
    server = await start_server(idle_timeout_s=0.3)
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    header = b'{"type": "synthesize", "data": {"text": "' + b"slow " * 1000
    closed = asyncio.ensure_future(reader.read())
    sent = 0
    async with asyncio.timeout(WAIT_S):
        while not closed.done():
            try:
                writer.write(header[sent : sent + 1])
                await writer.drain()
            except ConnectionError:
                break
            sent += 1
            await asyncio.wait({closed}, timeout=0.02)  # pace the dribble, wake at once on close
    assert await closed == b""
    assert sent < len(header), "the server waited for the whole dribbled header"
    writer.close()


async def test_a_long_synthesis_is_not_cut_by_the_idle_timeout(start_server: StartServer) -> None:
    server = await start_server(idle_timeout_s=0.2)
    server.library.behaviour.delay_s = 0.3  # per sentence: the reply takes longer than the idle timeout
    text = "One sentence here. Another one there. And a third."
    async with server.client() as client:
        await client.write_event(_synthesize(text).event())
        reply = await read_reply(client)
    assert reply.pcm == expected_pcm("mum", "default", text)


async def test_the_error_for_a_broken_frame_arrives_even_behind_audio_and_unread_input(
    start_server: StartServer,
) -> None:
    """Closing with unread input resets the connection, which used to destroy the error still in flight."""
    server = await start_server()
    server.library.behaviour.repeat = 200  # a few megabytes of audio ahead of the error
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    request = _synthesize("Lots of audio first.").event()
    writer.write(json.dumps({"type": request.type, "data": request.data}).encode() + b"\n")
    writer.write(b"this is not json\n" + b"more input the server never reads\n" * 20_000)
    await writer.drain()
    types: list[str] = []
    async with asyncio.timeout(WAIT_S):
        while line := await reader.readline():
            header = json.loads(line)
            await reader.readexactly(header.get("data_length", 0) + header.get("payload_length", 0))
            types.append(header["type"])
    writer.close()
    assert types[0] == "audio-start" and types[-2:] == ["audio-stop", "error"]
