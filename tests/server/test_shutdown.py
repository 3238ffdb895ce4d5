"""Server shutdown (SIGTERM in a container): replies in progress finish within the grace period, or end
with an `error`, never with audio that simply stops; new requests meanwhile are refused as `busy`."""

from __future__ import annotations

import asyncio
import threading

from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncClient
from wyoming.ping import Ping, Pong
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop, SynthesizeVoice

from tests.support.fakes import expected_pcm
from tests.support.servers import StartServer
from tests.support.wire import read, read_error, read_some, read_stream

TEXT = "The first sentence is here. A second one follows. And a third ends it."


async def _audio_after_start(client: AsyncClient) -> bytes:
    """The audio of a reply whose audio-start has been read, up to its audio-stop (which must come)."""
    pcm = b""
    while not AudioStop.is_type((event := await read_some(client)).type):
        assert AudioChunk.is_type(event.type), f"expected audio, got {event.type} {event.data}"
        pcm += AudioChunk.from_event(event).audio
    return pcm


async def test_stop_lets_the_reply_in_progress_finish(start_server: StartServer) -> None:
    server = await start_server()
    server.library.behaviour.delay_s = 0.2
    async with server.client() as client:
        await client.write_event(Synthesize(TEXT, voice=SynthesizeVoice(name="mum")).event())
        assert AudioStart.is_type((await read_some(client)).type)  # one sentence done, two to come
        stopping = asyncio.create_task(server.app.stop(grace_s=10.0))
        assert await _audio_after_start(client) == expected_pcm("mum", "default", TEXT), "all of it"
        assert await read(client) is None, "the connection ends after the reply"
        await asyncio.wait_for(stopping, 10.0)
    assert not server.library.behaviour.stop_seen.is_set(), "the engine was not interrupted"


async def test_stop_cuts_a_reply_short_with_busy_after_the_grace_period(start_server: StartServer) -> None:
    server = await start_server()
    server.library.behaviour.gate = threading.Event()  # every sentence waits: the reply cannot finish
    async with server.client() as client:
        await client.write_event(Synthesize(TEXT, voice=SynthesizeVoice(name="mum")).event())
        await asyncio.to_thread(server.library.behaviour.started.wait, 10.0)
        await asyncio.wait_for(server.app.stop(grace_s=0.3), 10.0)
        error = await read_error(client)
        assert error.code == "busy" and "shutting down" in error.text
        assert await read(client) is None
    assert server.library.behaviour.stop_seen.wait(10.0), "the engine was told to stop"


async def test_a_new_request_while_draining_is_refused_as_busy(start_server: StartServer) -> None:
    server = await start_server()
    server.library.behaviour.delay_s = 0.2
    async with server.client() as client:
        await client.write_event(Synthesize(TEXT, voice=SynthesizeVoice(name="mum")).event())
        assert AudioStart.is_type((await read_some(client)).type)
        stopping = asyncio.create_task(server.app.stop(grace_s=10.0))
        await asyncio.sleep(0)  # let the stop begin draining before the next request arrives
        await client.write_event(Synthesize("One more, please.", voice=SynthesizeVoice(name="mum")).event())
        assert await _audio_after_start(client) == expected_pcm("mum", "default", TEXT)
        refused = await read_error(client)
        assert refused.code == "busy"
        await asyncio.wait_for(stopping, 10.0)
    assert [call[2] for call in server.library.behaviour.calls] == [TEXT], "the refused text never reached the engine"


async def test_an_open_stream_may_finish_its_text_during_the_grace_period(start_server: StartServer) -> None:
    server = await start_server()
    async with server.client() as client:
        await client.write_event(SynthesizeStart(voice=SynthesizeVoice(name="mum")).event())
        await client.write_event(SynthesizeChunk("The first sentence is here. A sec").event())
        assert AudioStart.is_type((await read_some(client)).type)  # the first sentence was spoken
        stopping = asyncio.create_task(server.app.stop(grace_s=10.0))
        await asyncio.sleep(0)  # the stop is draining while the rest of the text arrives
        await client.write_event(SynthesizeChunk("ond one follows.").event())
        await client.write_event(SynthesizeStop().event())
        await _audio_after_start(client)
        groups, errors = await read_stream(client)
        assert errors == [] and len(groups) == 1, "the second sentence, then synthesize-stopped"
        await asyncio.wait_for(stopping, 10.0)


async def test_a_stream_left_open_is_ended_with_busy(start_server: StartServer) -> None:
    server = await start_server()
    async with server.client() as client:
        await client.write_event(SynthesizeStart(voice=SynthesizeVoice(name="mum")).event())
        await client.write_event(SynthesizeChunk("No sentence ends in this text").event())
        await client.write_event(Ping().event())
        assert Pong.is_type((await read_some(client)).type)  # the server has read the open stream
        await asyncio.wait_for(server.app.stop(grace_s=0.3), 10.0)
        assert (await read_error(client)).code == "busy"
        assert await read(client) is None
