"""Server benchmark: time to first audio and throughput under N concurrent Wyoming clients.

    edge-tts-clone bench server --clients 8 --requests 5                    # in-process, simulated engine
    edge-tts-clone bench server --uri tcp://127.0.0.1:10210 --voice mum     # a running server

In-process mode serves a simulated engine that takes `--rtf` seconds per second of audio it
produces (so the figures measure the server: queueing, threads, framing), not a model. Every
request's text is unique, so a running server's cache does not flatter the numbers.
"""

from __future__ import annotations

import asyncio
import re
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
from wyoming.audio import AudioChunk as WyomingAudioChunk
from wyoming.audio import AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.error import Error
from wyoming.tts import Synthesize, SynthesizeVoice

from ..engine import AudioChunk, SynthesisOptions
from ..settings import Limits, ServerSettings
from ..voices.library import EnrollmentRequest, VoiceNotFoundError
from ..voices.pack import SkippedPack, VoicePack, VoiceStyle

SIMULATED_RATE_HZ: Final = 32000
SECONDS_PER_CHAR: Final = 0.07
"""Roughly how long a character takes to say (English prose)."""


class SimulatedLibrary:
    """A `VoiceLibrary` with one voice whose engine sleeps `rtf` x the audio it yields."""

    def __init__(self, data_dir: Path, rtf: float) -> None:
        self.data_dir = data_dir
        self.rtf = rtf
        self.pack = VoicePack(
            id="sim",
            name="Simulated",
            languages=["en"],
            kind="gpt-sovits",
            model_id="sim",
            styles={"default": VoiceStyle("default", "", "en")},
            default_style="default",
            revision="1",
            builtin=True,
        )

    def voices(self) -> list[VoicePack]:
        """The one voice."""
        return [self.pack]

    def skipped(self) -> list[SkippedPack]:
        """Nothing is skipped."""
        return []

    def resolve(self, voice_id: str | None, language: str | None = None) -> VoicePack:
        """The one voice (or VoiceNotFoundError for another id)."""
        if voice_id not in (None, self.pack.id):
            raise VoiceNotFoundError(str(voice_id))
        return self.pack

    def sample_rate_hz(self, pack: VoicePack) -> int:
        """32 kHz, like GPT-SoVITS."""
        return SIMULATED_RATE_HZ

    def synthesize(
        self,
        pack: VoicePack,
        style: str | None,
        text: str,
        options: SynthesisOptions,
        stop: threading.Event | None = None,
    ) -> Iterator[AudioChunk]:
        """One low tone per sentence, after sleeping as long as a real engine at `rtf` would."""
        stop = stop or threading.Event()
        for sentence in (s for s in re.split(r"(?<=[.!?。！？])\s*", text) if s.strip()):
            seconds = SECONDS_PER_CHAR * len(sentence)
            if stop.wait(seconds * self.rtf):
                return
            count = int(seconds * SIMULATED_RATE_HZ)
            samples = 0.1 * np.sin(
                np.arange(count, dtype=np.float32) * np.float32(2 * np.pi * 220 / SIMULATED_RATE_HZ)
            )
            yield AudioChunk(samples=samples.astype(np.float32), rate_hz=SIMULATED_RATE_HZ, text=sentence)

    def enroll(self, request: EnrollmentRequest) -> tuple[VoicePack, dict[str, Any]]:
        """Not supported by the simulation."""
        raise ValueError("the simulated library cannot enroll")

    def rename(self, voice_id: str, name: str) -> VoicePack:
        """Not supported by the simulation."""
        raise ValueError("the simulated library cannot rename")

    def remove(self, voice_id: str) -> None:
        """Not supported by the simulation."""
        raise ValueError("the simulated library cannot remove")

    def loaded_models(self) -> int:
        """One simulated model."""
        return 1

    def warm_up(self) -> None:
        """Nothing to load."""


@dataclass
class Outcome:
    """One request as a client saw it."""

    ttfa_s: float | None
    total_s: float
    audio_s: float
    error: str | None = None


EVENT_TIMEOUT_S: Final = 600.0
"""Longest wait for the server's next event (a queued request's first one included)."""


async def one_request(
    host: str, port: int, text: str, voice: str | None, event_timeout_s: float = EVENT_TIMEOUT_S
) -> Outcome:
    """One Synthesize request; a refusal, a timeout or a dropped connection is an outcome, not an exception."""
    started = time.monotonic()
    first: float | None = None
    audio_bytes = 0
    rate = 0

    def failed(reason: str) -> Outcome:
        return Outcome(None, time.monotonic() - started, 0.0, reason)

    try:
        async with AsyncTcpClient(host, port) as client:
            await client.write_event(
                Synthesize(text, voice=SynthesizeVoice(name=voice) if voice else None).event()
            )
            while True:
                event = await asyncio.wait_for(client.read_event(), event_timeout_s)
                if event is None:
                    return failed("connection closed")
                if Error.is_type(event.type):
                    return failed(str(Error.from_event(event).code))
                if WyomingAudioChunk.is_type(event.type):
                    chunk = WyomingAudioChunk.from_event(event)
                    first = first if first is not None else time.monotonic() - started
                    audio_bytes += len(chunk.audio)
                    rate = chunk.rate
                elif AudioStop.is_type(event.type):
                    break
    except TimeoutError:
        return failed(f"no event for {event_timeout_s:.0f} s")
    except OSError as err:
        return failed(f"connection: {err.strerror or type(err).__name__}")
    return Outcome(first, time.monotonic() - started, audio_bytes / 2 / rate if rate else 0.0)


async def run_load(host: str, port: int, *, clients: int, requests: int, text: str, voice: str | None) -> str:
    """Run the load and return the report."""

    async def client_loop(index: int) -> list[Outcome]:
        return [await one_request(host, port, f"{text} ({index}-{n})", voice) for n in range(requests)]

    started = time.monotonic()
    results = [o for batch in await asyncio.gather(*(client_loop(i) for i in range(clients))) for o in batch]
    wall_s = time.monotonic() - started
    ok = [o for o in results if o.error is None and o.ttfa_s is not None]
    ttfa = sorted(o.ttfa_s for o in ok if o.ttfa_s is not None)
    audio_s = sum(o.audio_s for o in ok)
    lines = [
        f"clients={clients} requests/client={requests} total={len(results)} ok={len(ok)} "
        f"errors={len(results) - len(ok)} {sorted({o.error for o in results if o.error})}",
    ]
    if ttfa:
        p90 = ttfa[min(len(ttfa) - 1, int(0.9 * len(ttfa)))]
        lines.append(
            f"time to first audio: median {statistics.median(ttfa) * 1000:.0f} ms, "
            f"p90 {p90 * 1000:.0f} ms, max {ttfa[-1] * 1000:.0f} ms"
        )
    lines.append(
        f"throughput: {len(ok) / wall_s:.2f} requests/s, {audio_s / wall_s:.2f} s of audio per s "
        f"(wall {wall_s:.2f} s, audio {audio_s:.1f} s)"
    )
    return "\n".join(lines)


async def in_process_report(*, clients: int, requests: int, text: str, rtf: float, max_concurrent: int) -> str:
    """Run the load against an in-process server around `SimulatedLibrary`; returns the report."""
    from ..server.app import ServerApp

    with tempfile.TemporaryDirectory() as data_dir:
        settings = ServerSettings(
            data_dir=Path(data_dir),
            uri="tcp://127.0.0.1:0",
            http_port=None,
            limits=Limits(max_concurrent=max_concurrent, max_queued=clients * 2),
        )
        app = ServerApp(settings, SimulatedLibrary(Path(data_dir), rtf))
        await app.start()
        try:
            report = await run_load(
                "127.0.0.1", app.wyoming_port, clients=clients, requests=requests, text=text, voice=None
            )
        finally:
            await app.stop()
    return f"in-process server, simulated engine rtf={rtf}, --max-concurrent {max_concurrent}\n" + report
