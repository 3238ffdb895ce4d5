"""The Wyoming surface over real sockets: describe, synthesize, streaming input, options."""

from __future__ import annotations

from pathlib import Path

from wyoming.audio import AudioStart
from wyoming.client import AsyncTcpClient, AsyncUnixClient
from wyoming.info import Describe, Info
from wyoming.ping import Ping, Pong
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop, SynthesizeVoice

from tests.support.fakes import GPT_SOVITS_RATE_HZ, PIPER_RATE_HZ, FakeLibrary, expected_pcm, make_pack, split_sentences
from tests.support.servers import StartServer
from tests.support.wire import read_reply, read_some, read_stream
from wyoming_server.engine import SynthesisOptions
from wyoming_server.server.app import ServerApp
from wyoming_server.server.info import PROGRAM_NAME
from wyoming_server.settings import ServerSettings

THREE_SENTENCES = "Dinner is ready. Please come down! 今天吃饺子。"


async def _describe(client: AsyncTcpClient) -> Info:
    await client.write_event(Describe().event())
    event = await read_some(client)
    assert Info.is_type(event.type)
    return Info.from_event(event)


async def test_describe_lists_one_program_with_a_voice_per_pack(start_server: StartServer) -> None:
    server = await start_server()
    async with server.client() as client:
        info = await _describe(client)
    assert len(info.tts) == 1
    program = info.tts[0]
    assert program.name == PROGRAM_NAME
    assert program.installed
    assert program.supports_synthesize_streaming
    voices = {voice.name: voice for voice in program.voices}
    assert sorted(voices) == ["joe", "mum"]
    mum = voices["mum"]
    assert mum.description == "Mum"
    assert mum.languages == ["zh", "en"]
    assert mum.version == "rev-mum-1"
    assert mum.installed
    assert [speaker.name for speaker in mum.speakers or []] == ["default", "calm"]
    assert voices["joe"].attribution.name == "Joe (piper)"


async def test_voice_added_while_running_appears_in_next_describe(start_server: StartServer) -> None:
    server = await start_server()
    async with server.client() as client:
        before = await _describe(client)
        server.library.add(make_pack("grandpa", "Grandpa", languages=("zh",)))
        after = await _describe(client)
    assert "grandpa" not in {voice.name for voice in before.tts[0].voices}
    assert "grandpa" in {voice.name for voice in after.tts[0].voices}


async def test_no_streaming_is_advertised(start_server: StartServer) -> None:
    server = await start_server(streaming=False)
    async with server.client() as client:
        info = await _describe(client)
    assert not info.tts[0].supports_synthesize_streaming


async def test_synthesize_sends_one_format_and_exactly_the_engine_audio(start_server: StartServer) -> None:
    server = await start_server()
    async with server.client() as client:
        await client.write_event(Synthesize(THREE_SENTENCES, voice=SynthesizeVoice(name="mum")).event())
        reply = await read_reply(client)
    assert reply.error is None and reply.stopped
    assert reply.start == AudioStart(rate=GPT_SOVITS_RATE_HZ, width=2, channels=1)
    assert {(c.rate, c.width, c.channels) for c in reply.chunks} == {(GPT_SOVITS_RATE_HZ, 2, 1)}
    assert all(len(chunk.audio) <= 1024 * 2 for chunk in reply.chunks)
    assert sum(len(chunk.audio) == 1024 * 2 for chunk in reply.chunks) >= len(reply.chunks) - 3
    assert reply.pcm == expected_pcm("mum", "default", THREE_SENTENCES)


async def test_samples_per_chunk_is_honoured(start_server: StartServer) -> None:
    server = await start_server(samples_per_chunk=100)
    async with server.client() as client:
        await client.write_event(Synthesize("One sentence only.", voice=SynthesizeVoice(name="mum")).event())
        reply = await read_reply(client)
    sizes = [len(chunk.audio) for chunk in reply.chunks]
    assert sizes[:-1] == [200] * (len(sizes) - 1) and 0 < sizes[-1] <= 200
    assert reply.pcm == expected_pcm("mum", "default", "One sentence only.")


async def test_without_a_voice_the_default_voice_speaks_at_its_own_rate(start_server: StartServer) -> None:
    server = await start_server()
    async with server.client() as client:
        await client.write_event(Synthesize("Hello there.").event())
        reply = await read_reply(client)
    assert reply.start is not None and reply.start.rate == PIPER_RATE_HZ
    assert reply.pcm == expected_pcm("joe", "default", "Hello there.")


async def test_a_language_picks_a_voice_that_speaks_it(start_server: StartServer) -> None:
    server = await start_server()
    async with server.client() as client:
        await client.write_event(Synthesize("你好。", voice=SynthesizeVoice(language="zh")).event())
        reply = await read_reply(client)
    assert reply.pcm == expected_pcm("mum", "default", "你好。")


async def test_speaker_is_the_style_and_our_options_field_overrides_it(start_server: StartServer) -> None:
    server = await start_server()
    async with server.client() as client:
        await client.write_event(
            Synthesize("Calm now.", voice=SynthesizeVoice(name="mum", speaker="calm")).event()
        )
        by_speaker = await read_reply(client)
        event = Synthesize("Calm now.", voice=SynthesizeVoice(name="mum", speaker="nonexistent")).event()
        event.data["edge_tts_clone"] = {"style": "calm", "speed": 1.25, "seed": 7, "future_option": True}
        await client.write_event(event)
        by_options = await read_reply(client)
    assert by_speaker.pcm == expected_pcm("mum", "calm", "Calm now.")
    assert by_options.pcm == expected_pcm("mum", "calm", "Calm now.", SynthesisOptions(seed=7, speed=1.25))
    assert by_options.pcm != by_speaker.pcm


async def test_streaming_input_split_mid_word_speaks_each_sentence_as_it_completes(
    start_server: StartServer,
) -> None:
    server = await start_server()
    async with server.client() as client:
        await client.write_event(SynthesizeStart(voice=SynthesizeVoice(name="mum")).event())
        for piece in ["Din", "ner is re", "ady. Plea"]:
            await client.write_event(SynthesizeChunk(piece).event())
        # The first sentence is complete: its audio arrives while the stream is still open.
        first = await read_reply(client)
        assert first.pcm == expected_pcm("mum", "default", "Dinner is ready.")
        for piece in ["se come do", "wn! 今天吃", "饺子。还有汤"]:
            await client.write_event(SynthesizeChunk(piece).event())
        # Home Assistant repeats the whole text inside the stream; it must be ignored.
        await client.write_event(Synthesize("Dinner is ready. Please come down! 今天吃饺子。还有汤").event())
        await client.write_event(SynthesizeStop().event())
        groups, errors = await read_stream(client)
    assert errors == []
    spoken = ["Please come down!", "今天吃饺子。", "还有汤"]
    assert [group.pcm for group in groups] == [expected_pcm("mum", "default", text) for text in spoken]
    assert {group.start.rate for group in groups if group.start} == {GPT_SOVITS_RATE_HZ}
    texts = [call[2] for call in server.library.behaviour.calls]
    assert texts == ["Dinner is ready.", *spoken]


async def test_an_empty_stream_answers_synthesize_stopped(start_server: StartServer) -> None:
    server = await start_server()
    async with server.client() as client:
        await client.write_event(SynthesizeStart().event())
        await client.write_event(SynthesizeChunk(" … ").event())
        await client.write_event(SynthesizeStop().event())
        groups, errors = await read_stream(client)
    assert groups == [] and errors == []


async def test_with_no_streaming_stream_events_are_ignored_and_synthesize_is_served(
    start_server: StartServer,
) -> None:
    server = await start_server(streaming=False)
    async with server.client() as client:
        await client.write_event(SynthesizeStart(voice=SynthesizeVoice(name="mum")).event())
        await client.write_event(SynthesizeChunk("Ignored. ").event())
        await client.write_event(Synthesize("Spoken once.", voice=SynthesizeVoice(name="mum")).event())
        await client.write_event(SynthesizeStop().event())
        reply = await read_reply(client)
        await client.write_event(Ping("still here").event())
        pong = await read_some(client)
    assert reply.pcm == expected_pcm("mum", "default", "Spoken once.")
    assert Pong.is_type(pong.type) and pong.data.get("text") == "still here"
    assert [call[2] for call in server.library.behaviour.calls] == ["Spoken once."]


async def test_requests_on_one_connection_are_answered_in_order(start_server: StartServer) -> None:
    server = await start_server()
    texts = ["First one.", "Second one.", "Third one."]
    async with server.client() as client:
        for text in texts:
            await client.write_event(Synthesize(text, voice=SynthesizeVoice(name="mum")).event())
        replies = [await read_reply(client) for _ in texts]
    assert [reply.pcm for reply in replies] == [expected_pcm("mum", "default", text) for text in texts]


def test_fake_sentence_split_matches_what_the_tests_assume() -> None:
    assert split_sentences(THREE_SENTENCES) == ["Dinner is ready.", "Please come down!", "今天吃饺子。"]


async def test_a_unix_socket_endpoint_serves_too(tmp_path: Path, library: FakeLibrary) -> None:
    socket_path = tmp_path / "tts.sock"
    settings = ServerSettings(data_dir=tmp_path / "data", uri=f"unix://{socket_path}", http_port=None)
    app = ServerApp(settings, library)
    await app.start()
    try:
        async with AsyncUnixClient(str(socket_path)) as client:
            await client.write_event(
                Synthesize("Over a unix socket.", voice=SynthesizeVoice(name="mum")).event()
            )
            reply = await read_reply(client)
    finally:
        await app.stop()
    assert reply.pcm == expected_pcm("mum", "default", "Over a unix socket.")
    assert not socket_path.exists(), "the socket file is removed at stop"
