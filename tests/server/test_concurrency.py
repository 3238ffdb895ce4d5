"""Many clients at once: each gets exactly its own audio, in its own format."""

from __future__ import annotations

import asyncio

from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop, SynthesizeVoice

from tests.support.fakes import GPT_SOVITS_RATE_HZ, PIPER_RATE_HZ, expected_pcm
from tests.support.servers import RunningServer, StartServer
from tests.support.wire import read_reply, read_stream
from wyoming_server.engine import SynthesisOptions

CLIENTS = 8


async def _one_shot(server: RunningServer, index: int) -> tuple[int, bytes, int]:
    voice, style = [("mum", "default"), ("mum", "calm"), ("joe", "default")][index % 3]
    text = f"Client number {index} speaks. It has a second sentence {index}."
    async with server.client() as client:
        event = Synthesize(text, voice=SynthesizeVoice(name=voice, speaker=style)).event()
        event.data["edge_tts_clone"] = {"seed": index}
        await client.write_event(event)
        reply = await read_reply(client)
    assert reply.error is None and reply.start is not None
    assert reply.pcm == expected_pcm(voice, style, text, SynthesisOptions(seed=index)), f"client {index}"
    return index, reply.pcm, reply.start.rate


async def _streamed(server: RunningServer, index: int) -> tuple[int, bytes, int]:
    text = f"Stream {index} first. Stream {index} second."
    async with server.client() as client:
        await client.write_event(SynthesizeStart(voice=SynthesizeVoice(name="mum")).event())
        for start in range(0, len(text), 7):
            await client.write_event(SynthesizeChunk(text[start : start + 7]).event())
        await client.write_event(SynthesizeStop().event())
        groups, errors = await read_stream(client)
    assert errors == []
    expected = [
        expected_pcm("mum", "default", f"Stream {index} first."),
        expected_pcm("mum", "default", f"Stream {index} second."),
    ]
    assert [group.pcm for group in groups] == expected, f"stream {index}"
    return index, b"".join(expected), GPT_SOVITS_RATE_HZ


async def test_concurrent_clients_each_get_exactly_their_own_audio(start_server: StartServer) -> None:
    server = await start_server(max_concurrent=2, max_queued=CLIENTS * 2)
    server.library.behaviour.delay_s = 0.02  # so requests overlap
    tasks = [_one_shot(server, i) if i % 2 == 0 else _streamed(server, i) for i in range(CLIENTS)]
    results = await asyncio.wait_for(asyncio.gather(*tasks), 60)
    audio = [pcm for _index, pcm, _rate in results]
    assert len(set(audio)) == CLIENTS, "two clients got the same audio"
    rates = {index: rate for index, _pcm, rate in results}
    assert rates[0] == GPT_SOVITS_RATE_HZ and rates[4] == GPT_SOVITS_RATE_HZ
    assert {rates[i] for i in range(CLIENTS) if i % 2 == 0 and i % 3 == 2} <= {PIPER_RATE_HZ}
    runner = server.app.runner
    assert runner is not None
    await runner.drain()
    assert runner.admission.running == 0 and runner.admission.waiting == 0
    assert 1 <= server.library.behaviour.max_active <= 2, "--max-concurrent bounds the engine threads"
