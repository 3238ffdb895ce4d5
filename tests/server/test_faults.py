"""Limits and failures: every one becomes an `error` event and nobody else is affected."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import pytest
from wyoming.event import Event
from wyoming.ping import Ping, Pong
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop, SynthesizeVoice

from tests.support.fakes import FAIL_MARKER, FakeLibrary, expected_pcm
from tests.support.servers import RunningServer, StartServer
from tests.support.wire import read, read_error, read_reply, read_some, read_stream

WAIT_S = 10.0


async def _wait(event: threading.Event) -> None:
    """Wait for a flag the fake engine sets from its worker thread."""
    assert await asyncio.to_thread(event.wait, WAIT_S), "the fake engine never got there"


async def _ping(server_client: Any) -> None:
    await server_client.write_event(Ping("alive?").event())
    event = await read_some(server_client)
    assert Pong.is_type(event.type)


def _synthesize(text: str, voice: str | None = "mum", **extra: Any) -> Event:
    event = Synthesize(text, voice=SynthesizeVoice(name=voice) if voice else None).event()
    event.data.update(extra)
    return event


@pytest.mark.parametrize(
    ("event", "code"),
    [
        (_synthesize("Hello.", voice="nobody"), "unknown-voice"),
        (
            Event("synthesize", {"text": "Hello.", "voice": {"name": "mum", "speaker": "shouting"}}),
            "unknown-voice",
        ),
        (_synthesize("   \n "), "empty-text"),
        (_synthesize("x" * 201), "text-too-long"),
        (Event("synthesize", {"text": 5}), "bad-request"),
        (Event("synthesize", {}), "bad-request"),
        (Event("synthesize", {"text": "Hi.", "voice": "mum"}), "bad-request"),
        (Event("synthesize", {"text": "Hi.", "voice": {"name": ["mum"]}}), "bad-request"),
        (_synthesize("Hi.", edge_tts_clone="fast"), "bad-request"),
        (_synthesize("Hi.", edge_tts_clone={"speed": 9}), "bad-request"),
        (_synthesize("Hi.", edge_tts_clone={"speed": "1.0"}), "bad-request"),
        (_synthesize("Hi.", edge_tts_clone={"seed": -1}), "bad-request"),
        (_synthesize("Hi.", edge_tts_clone={"seed": True}), "bad-request"),
        (_synthesize("Hi.", text_format="ssml"), "bad-request"),
        (_synthesize(f"Fine first. {FAIL_MARKER} here."), "engine-error"),
        (Event("transcribe", {}), "bad-request"),
        (Event("synthesize-chunk", {"text": "orphan"}), "bad-request"),
        (Event("synthesize-stop"), "bad-request"),
        (Event("select-program", {"name": "piper"}), "bad-request"),
    ],
)
async def test_bad_requests_get_an_error_and_the_connection_keeps_serving(
    start_server: StartServer, event: Event, code: str
) -> None:
    server = await start_server(max_text_chars=200)
    async with server.client() as client:
        await client.write_event(event)
        reply = await read_reply(client)
        assert reply.error is not None, "expected an error"
        assert reply.error.code == code
        assert reply.error.text
        # The same connection serves the next request at once (no close after the error).
        await client.write_event(_synthesize("Next one."))
        after = await read_reply(client)
    assert after.pcm == expected_pcm("mum", "default", "Next one.")
    assert not reply.stopped, "no audio-stop follows an error"


async def test_engine_error_after_some_audio_ends_the_reply_without_audio_stop(
    start_server: StartServer,
) -> None:
    server = await start_server()
    async with server.client() as client:
        await client.write_event(_synthesize(f"Fine first. {FAIL_MARKER} here."))
        reply = await read_reply(client)
    assert reply.start is not None
    assert reply.pcm == expected_pcm("mum", "default", "Fine first.")
    assert reply.error is not None and reply.error.code == "engine-error"


async def test_a_silent_client_is_disconnected_after_an_error_that_ends_its_request(
    start_server: StartServer,
) -> None:
    """Home Assistant before 2026.x ignores `error` and waits for audio-stop or the end of the stream."""
    server = await start_server(error_linger_s=0.2)
    async with server.client() as client:
        await client.write_event(_synthesize("Hello.", voice="nobody"))
        error = await read_error(client)
        assert error.code == "unknown-voice"
        assert await read(client) is None, "the server should close the connection"


async def test_errors_that_end_no_request_keep_a_silent_client_connected(start_server: StartServer) -> None:
    server = await start_server(error_linger_s=0.05)
    async with server.client() as client:
        await client.write_event(Event("no-such-event"))
        assert (await read_error(client)).code == "bad-request"
        await client.write_event(_synthesize("Still here."))
        reply = await read_reply(client)
    assert reply.pcm == expected_pcm("mum", "default", "Still here.")


async def test_a_failed_stream_still_answers_synthesize_stop(start_server: StartServer) -> None:
    server = await start_server(error_linger_s=0.05)
    async with server.client() as client:
        await client.write_event(SynthesizeStart(voice=SynthesizeVoice(name="nobody")).event())
        await client.write_event(SynthesizeChunk("Hello there. How are").event())
        await client.write_event(SynthesizeChunk(" you?").event())
        await client.write_event(SynthesizeStop().event())
        groups, errors = await read_stream(client)
    assert groups == []
    assert [error.code for error in errors] == ["unknown-voice"]
    assert server.library.behaviour.calls == []


async def test_a_stream_longer_than_the_limit_fails_once_and_stops_speaking(
    start_server: StartServer,
) -> None:
    server = await start_server(max_text_chars=40)
    async with server.client() as client:
        await client.write_event(SynthesizeStart(voice=SynthesizeVoice(name="mum")).event())
        await client.write_event(SynthesizeChunk("Short one. ").event())
        await client.write_event(SynthesizeChunk("This goes past the limit. And more. ").event())
        await client.write_event(SynthesizeChunk("Even more. ").event())
        await client.write_event(SynthesizeStop().event())
        groups, errors = await read_stream(client)
    assert [group.pcm for group in groups] == [expected_pcm("mum", "default", "Short one.")]
    assert [error.code for error in errors] == ["text-too-long"]


async def test_timeout_sends_an_error_and_stops_the_engine(start_server: StartServer) -> None:
    server = await start_server(request_timeout_s=0.3)
    server.library.behaviour.gate = threading.Event()  # never opened: the engine hangs
    async with server.client() as client:
        await client.write_event(_synthesize("This will hang."))
        error = await read_error(client)
        assert error.code == "timeout"
        await _wait(server.library.behaviour.stop_seen)
        await _ping(client)


async def test_a_client_that_disconnects_stops_its_synthesis(start_server: StartServer) -> None:
    server = await start_server()
    behaviour = server.library.behaviour
    behaviour.gate = threading.Event()
    async with server.client() as client:
        await client.write_event(_synthesize("Long story. With many sentences. That nobody hears."))
        await _wait(behaviour.started)
    await _wait(behaviour.stop_seen)
    await server.app.runner.drain()  # type: ignore[union-attr]
    assert server.app.runner.admission.running == 0  # type: ignore[union-attr]
    behaviour.gate = None
    async with server.client() as client:
        await client.write_event(_synthesize("Others are served."))
        reply = await read_reply(client)
    assert reply.pcm == expected_pcm("mum", "default", "Others are served.")


async def test_disconnect_mid_stream_stops_the_engine(start_server: StartServer) -> None:
    server = await start_server()
    behaviour = server.library.behaviour
    behaviour.gate = threading.Event()
    async with server.client() as client:
        await client.write_event(SynthesizeStart(voice=SynthesizeVoice(name="mum")).event())
        await client.write_event(SynthesizeChunk("A sentence that will never be heard. And ano").event())
        await _wait(behaviour.started)
    await _wait(behaviour.stop_seen)


async def test_a_full_queue_answers_busy_and_the_queued_requests_still_complete(
    start_server: StartServer,
) -> None:
    server = await start_server(max_concurrent=1, max_queued=1)
    behaviour = server.library.behaviour
    gate = behaviour.gate = threading.Event()
    admission = server.app.runner.admission  # type: ignore[union-attr]
    async with server.client() as first, server.client() as second, server.client() as third:
        await first.write_event(_synthesize("First in."))
        await _wait(behaviour.started)
        await second.write_event(_synthesize("Second waits."))
        await asyncio.wait_for(admission.wait_until(lambda a: a.waiting == 1), WAIT_S)
        await third.write_event(_synthesize("Third is refused."))
        refused = await read_error(third)
        gate.set()
        first_reply, second_reply = await read_reply(first), await read_reply(second)
    assert refused.code == "busy"
    assert first_reply.pcm == expected_pcm("mum", "default", "First in.")
    assert second_reply.pcm == expected_pcm("mum", "default", "Second waits.")


async def _raw_exchange(server: RunningServer, payload: bytes) -> list[dict[str, Any]]:
    """Send raw bytes; return every event header the server answers with before closing."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(payload)
    await writer.drain()
    answers: list[dict[str, Any]] = []
    while True:
        line = await asyncio.wait_for(reader.readline(), WAIT_S)
        if not line:
            break
        header = json.loads(line)
        if header.get("data_length"):
            header["data"] = json.loads(await reader.readexactly(header["data_length"]))
        if header.get("payload_length"):
            await reader.readexactly(header["payload_length"])
        answers.append(header)
    writer.close()
    return answers


@pytest.mark.parametrize(
    "payload",
    [
        b"this is not json\n",
        b"[1, 2, 3]\n",
        b'{"data": {}}\n',
        b'{"type": 7}\n',
        b'{"type": "synthesize", "data": "text"}\n',
        b'{"type": "synthesize", "data_length": 99999999999}\n',
        b'{"type": "synthesize", "data_length": -4}\n',
        b'{"type": "synthesize", "data_length": 5}\n[1,2]',
        b'{"type": "audio-chunk", "payload_length": 999999999999}\n',
        b"\xff\xfe\x00garbage\n",
        b"x" * 70_000 + b"\n",
        b'{"type": "synthesize", "data": {"x": ' + b"[" * 5000 + b"]" * 5000 + b"}}\n",
        b'{"type": "synthesize", "data_length": 10000}\n' + b"[" * 5000 + b"]" * 5000,
    ],
)
async def test_a_broken_frame_gets_an_error_and_only_that_connection_closes(
    start_server: StartServer, payload: bytes
) -> None:
    server = await start_server()
    async with server.client() as bystander:
        answers = await _raw_exchange(server, payload)
        assert [answer["type"] for answer in answers] == ["error"]
        assert answers[0]["data"]["code"] == "bad-request"
        await bystander.write_event(_synthesize("Unaffected."))
        reply = await read_reply(bystander)
    assert reply.pcm == expected_pcm("mum", "default", "Unaffected.")


async def test_replies_already_queued_are_sent_before_the_broken_frame_error(
    start_server: StartServer,
) -> None:
    server = await start_server()
    good = _synthesize("Before the garbage.")
    header = json.dumps({"type": good.type, "data": good.data}).encode() + b"\n"
    answers = await _raw_exchange(server, header + b"garbage\n")
    types = [answer["type"] for answer in answers]
    assert types[0] == "audio-start" and types[-2:] == ["audio-stop", "error"]


async def test_a_client_that_stops_reading_loses_its_connection_and_its_slot(
    start_server: StartServer,
) -> None:
    server = await start_server(request_timeout_s=0.5, max_concurrent=1)
    server.library.behaviour.repeat = 4000  # megabytes of audio: more than the socket buffers hold
    admission = server.app.runner.admission  # type: ignore[union-attr]
    async with server.client() as stalled:
        await stalled.write_event(_synthesize("Nobody reads this. Nor this. Nor this one."))
        await _wait(server.library.behaviour.started)
        await asyncio.wait_for(admission.wait_until(lambda a: a.running == 0), WAIT_S)
        server.library.behaviour.repeat = 1
        async with server.client() as other:
            await other.write_event(_synthesize("Served after."))
            reply = await read_reply(other)
    assert reply.pcm == expected_pcm("mum", "default", "Served after.")


async def test_a_request_queued_behind_a_failed_one_is_not_cut_off(start_server: StartServer) -> None:
    server = await start_server(error_linger_s=0.05)
    behaviour = server.library.behaviour
    async with server.client() as client:
        behaviour.delay_s = 0.3  # the second request is still being spoken when the linger timer fires
        await client.write_event(_synthesize("Hello.", voice="nobody"))
        await client.write_event(_synthesize("Queued behind the failure."))
        assert (await read_error(client)).code == "unknown-voice"
        reply = await read_reply(client)
    assert reply.pcm == expected_pcm("mum", "default", "Queued behind the failure.")


async def test_text_with_a_lone_surrogate_is_a_bad_request_not_an_internal_error(
    start_server: StartServer,
) -> None:
    """JSON may escape half a surrogate pair; found by the fuzzer (it crashed building the cache key)."""
    server = await start_server()
    events = [
        {"type": "synthesize", "data": {"text": "\ud800 lone.", "voice": {"name": "mum"}}},
        {"type": "synthesize", "data": {"text": "Hello.", "voice": {"language": "\udfff"}}},
        {"type": "synthesize-start", "data": {"voice": {"name": "mum"}}},
        {"type": "synthesize-chunk", "data": {"text": "Half a pair \udc00 here."}},
        {"type": "synthesize-stop"},
        {"type": "ping", "data": {"text": "still here"}},
    ]
    raw = b"".join(json.dumps(event).encode() + b"\n" for event in events)  # ensure_ascii escapes them
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(raw)
    await writer.drain()
    answers: list[dict[str, Any]] = []
    while not answers or answers[-1]["type"] != "pong":
        header = json.loads(await asyncio.wait_for(reader.readline(), WAIT_S))
        if header.get("data_length"):
            header["data"] = json.loads(await reader.readexactly(header["data_length"]))
        await reader.readexactly(header.get("payload_length", 0))
        answers.append(header)
    writer.close()
    errors = [answer["data"] for answer in answers if answer["type"] == "error"]
    assert [error["code"] for error in errors] == ["bad-request"] * 3, errors
    assert all("lone surrogate" in error["text"] for error in errors)
    assert [answer["type"] for answer in answers][-2:] == ["synthesize-stopped", "pong"]


async def test_the_default_voice_loads_in_the_background_after_start(start_server: StartServer) -> None:
    server = await start_server()
    assert server.app.warm_up_done is not None
    await server.app.warm_up_done
    assert server.library.warm_ups == 1


async def test_a_default_voice_that_cannot_load_does_not_stop_the_server(
    start_server: StartServer, library: FakeLibrary, caplog: pytest.LogCaptureFixture
) -> None:
    library.behaviour.warm_up_error = OSError("t2s_decoder.int8.onnx: No such file or directory")
    server = await start_server()
    assert server.app.warm_up_done is not None
    await server.app.warm_up_done
    assert "Could not load the default voice ahead of the first request: t2s_decoder" in caplog.text
    async with server.client() as client:
        await client.write_event(_synthesize("Still here."))
        reply = await read_reply(client)
    assert reply.error is None and reply.pcm == expected_pcm("mum", "default", "Still here.")
