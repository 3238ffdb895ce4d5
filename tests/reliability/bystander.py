"""A well-behaved Wyoming client that keeps asking for speech while others attack the server.

It runs in its own thread with its own event loop on one long-lived connection (as a
satellite would) and checks every reply against the fake engine's exact audio: each request's
text carries a unique marker (its number), so audio meant for anyone else cannot pass.
It alternates plain `synthesize` (three voice/style pairs, with seed and speed) and streamed
input cut mid-word.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from typing import Final

from wyoming.client import AsyncTcpClient
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop, SynthesizeVoice

from tests.support.fakes import GPT_SOVITS_RATE_HZ, PIPER_RATE_HZ, expected_pcm
from tests.support.wire import read_reply, read_stream
from wyoming_server.engine import SynthesisOptions

VOICES: Final = (
    ("mum", "default", GPT_SOVITS_RATE_HZ),
    ("mum", "calm", GPT_SOVITS_RATE_HZ),
    ("joe", "default", PIPER_RATE_HZ),
)
STREAM_PIECE_CHARS: Final = 7


@dataclass
class BystanderStats:
    """What the bystander saw."""

    ok: int = 0
    busy: int = 0
    """Refused with `busy` (the queue was full): retried, not a failure."""
    failures: list[str] = field(default_factory=list)
    first_ok: threading.Event = field(default_factory=threading.Event)


class Bystander:
    """`start()`, let it run, `stop()`; then read `stats`."""

    def __init__(self, port: int) -> None:
        self._port = port
        self.stats = BystanderStats()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), name="bystander", daemon=True)

    def start(self) -> None:
        """Start asking."""
        self._thread.start()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Finish the current request and stop."""
        self._stopping.set()
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            self.stats.failures.append("the bystander did not finish its last request")

    async def _main(self) -> None:
        number = 0
        try:
            async with AsyncTcpClient("127.0.0.1", self._port) as client:
                while not self._stopping.is_set():
                    number += 1
                    if number % 3 == 0:
                        await self._streamed(client, number)
                    else:
                        await self._one_shot(client, number)
        except Exception as err:  # anything at all is a failure of the server as seen by a good client
            self.stats.failures.append(f"request {number}: {type(err).__name__}: {err}")

    def _record(self, number: int, problem: str | None) -> None:
        if problem is None:
            self.stats.ok += 1
            self.stats.first_ok.set()
        else:
            self.stats.failures.append(f"request {number}: {problem}")

    async def _one_shot(self, client: AsyncTcpClient, number: int) -> None:
        voice, style, rate = VOICES[number % len(VOICES)]
        text = f"Bystander request {number} speaks. Marker {number} ends it."
        options = SynthesisOptions(seed=number, speed=1.5 if number % 2 else 1.0)
        event = Synthesize(text, voice=SynthesizeVoice(name=voice, speaker=style)).event()
        event.data["edge_tts_clone"] = {"seed": options.seed, "speed": options.speed}
        await client.write_event(event)
        reply = await read_reply(client)
        if reply.error is not None:
            if reply.error.code == "busy":
                self.stats.busy += 1
                return
            self._record(number, f"error {reply.error.code}: {reply.error.text}")
        elif reply.start is None or reply.start.rate != rate:
            self._record(number, f"wrong format {reply.start}")
        elif reply.pcm != expected_pcm(voice, style, text, options):
            self._record(number, "audio differs from this request's own audio")
        else:
            self._record(number, None)

    async def _streamed(self, client: AsyncTcpClient, number: int) -> None:
        sentences = [f"Streamed {number} first part.", f"Streamed {number} second part."]
        text = " ".join(sentences)
        await client.write_event(SynthesizeStart(voice=SynthesizeVoice(name="mum")).event())
        for start in range(0, len(text), STREAM_PIECE_CHARS):
            await client.write_event(SynthesizeChunk(text[start : start + STREAM_PIECE_CHARS]).event())
        await client.write_event(SynthesizeStop().event())
        groups, errors = await read_stream(client)
        if errors:
            if all(error.code == "busy" for error in errors):
                self.stats.busy += 1
                return
            self._record(number, f"stream errors {[(e.code, e.text) for e in errors]}")
        elif [group.pcm for group in groups] != [expected_pcm("mum", "default", s) for s in sentences]:
            self._record(number, "streamed audio differs from this stream's own audio")
        else:
            self._record(number, None)
