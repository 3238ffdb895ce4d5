"""What each load-test client asks for, and the audio each request must get back.

Every request is drawn from a seeded generator per (run seed, client, index), from small pools of
texts and seeds per voice, so repeated keys exercise the cache while distinct ones keep the engine
busy. The expected audio of a request is synthesized beforehand, alone, by a `FolderLibrary` over the
same data folder (same watermark key, same model, same thread count): a reply that differs by one
sample is audio that crossed from another request or was damaged.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from wyoming_server.engine import SynthesisOptions
from wyoming_server.engine.audio import float_to_pcm16
from wyoming_server.engine.gpt_sovits.text.sentences import SentenceSplitter

from .tiny_data import ENROLLED_VOICES, STEADY_PIPER_ID, STOCK_VOICE_ID

EXACT_VOICES: Final = (*ENROLLED_VOICES, STEADY_PIPER_ID)
"""Voices whose audio is a pure function of (text, seed): checked sample for sample."""
LOOSE_VOICES: Final = (STOCK_VOICE_ID,)
"""The stock voice draws its noise inside the ONNX graph (unseeded): checked by rate and duration."""
ENGLISH: Final = (
    "Dinner is ready.",
    "The washing machine has finished, please hang the clothes outside.",
    "Someone is at the front door!",
    "It will rain at four o'clock, bring the cushions in.",
    "Good night, sleep well.",
    "The car needs charging before the trip tomorrow morning.",
    "Is the oven still on?",
    "Three parcels arrived today, two for you and one for the neighbours.",
)
CHINESE: Final = ("晚饭做好了。", "门口有人，请去开门。", "明天早上八点出发！")
LOOSE_DURATION_RANGE: Final = (0.75, 1.33)
"""Accepted ratio of a stock-voice reply's duration to the reference's."""


@dataclass(frozen=True, slots=True)
class PlannedRequest:
    """One request of one client."""

    client: int
    index: int
    voice: str
    text: str
    seed: int
    streaming: bool
    pieces: tuple[str, ...]
    """The text as sent in synthesize-chunk events (streaming only), cut anywhere."""
    disconnect: bool
    """Close the connection after the first audio chunk."""
    new_connection: bool
    """Open a fresh connection for this request (else reuse the client's current one)."""

    @property
    def exact(self) -> bool:
        """True when the reply must equal the reference sample for sample."""
        return self.voice in EXACT_VOICES

    def units(self) -> tuple[str, ...]:
        """The texts of the reply's audio groups: the whole text, or each sentence of a stream."""
        if not self.streaming:
            return (self.text,)
        splitter = SentenceSplitter()
        sentences = [sentence for piece in self.pieces for sentence in splitter.add(piece)]
        return (*sentences, *splitter.finish())


@dataclass(frozen=True)
class PlanSettings:
    """Shape of the mix."""

    seed: int = 2026
    texts_per_voice: int = 5
    seeds_per_voice: int = 3
    stream_share: float = 0.3
    disconnect_share: float = 0.08
    new_connection_share: float = 0.5


def _text_pool(voice: str, settings: PlanSettings) -> list[str]:
    rng = random.Random(f"{settings.seed}:texts:{voice}")
    sentences = list(ENGLISH) + (list(CHINESE) if voice in ENROLLED_VOICES else [])
    pool: list[str] = []
    for _ in range(settings.texts_per_voice):
        count = rng.choice((1, 1, 2, 3))
        pool.append(" ".join(rng.sample(sentences, count)))
    return pool


def _cut(text: str, rng: random.Random) -> tuple[str, ...]:
    cuts = sorted(rng.sample(range(1, len(text)), min(len(text) - 1, rng.randint(1, 4))))
    bounds = [0, *cuts, len(text)]
    return tuple(text[a:b] for a, b in itertools.pairwise(bounds))


def plan_request(client: int, index: int, settings: PlanSettings) -> PlannedRequest:
    """Request `index` of `client` (deterministic)."""
    rng = random.Random(f"{settings.seed}:{client}:{index}")
    voice = rng.choice((*EXACT_VOICES, *LOOSE_VOICES))
    text = rng.choice(_text_pool(voice, settings))
    streaming = rng.random() < settings.stream_share
    return PlannedRequest(
        client=client,
        index=index,
        voice=voice,
        text=text,
        seed=1000 + rng.randrange(settings.seeds_per_voice),
        streaming=streaming,
        pieces=_cut(text, rng) if streaming else (),
        disconnect=rng.random() < settings.disconnect_share,
        new_connection=rng.random() < settings.new_connection_share,
    )


def make_plan(clients: int, requests: int, settings: PlanSettings) -> list[list[PlannedRequest]]:
    """`requests` requests for each of `clients` clients."""
    return [[plan_request(c, i, settings) for i in range(requests)] for c in range(clients)]


class References:
    """Expected audio, synthesized alone with the real library over the server's data folder."""

    def __init__(self, data_dir: Path, threads: int) -> None:
        from wyoming_server.voices.folder_library import open_library

        self._library = open_library(data_dir, max_loaded_models=4, threads=threads)
        self._pcm: dict[tuple[str, str, int], bytes] = {}
        self._rates: dict[str, int] = {}

    def prepare(self, requests: Iterable[PlannedRequest]) -> int:
        """Synthesize every reference these requests need; returns how many were made."""
        made = 0
        for request in requests:
            for unit in request.units():
                key = (request.voice, unit, request.seed if request.exact else 0)
                if key not in self._pcm:
                    self._pcm[key] = self._synthesize(request.voice, unit, request.seed)
                    made += 1
        return made

    def pcm_for(self, voice: str, text: str, seed: int) -> bytes:
        """The s16le audio `voice` says for `text` with `seed` (synthesized once, then remembered)."""
        key = (voice, text, seed)
        if key not in self._pcm:
            self._pcm[key] = self._synthesize(voice, text, seed)
        return self._pcm[key]

    def _synthesize(self, voice: str, text: str, seed: int) -> bytes:
        pack = self._library.resolve(voice)
        self._rates[voice] = self._library.sample_rate_hz(pack)
        chunks = self._library.synthesize(pack, None, text, SynthesisOptions(seed=seed))
        return b"".join(float_to_pcm16(chunk.samples) for chunk in chunks)

    def rate_hz(self, voice: str) -> int:
        """Sample rate of `voice`'s replies."""
        return self._rates[voice]

    def check(self, request: PlannedRequest, unit: str, rate_hz: int, pcm: bytes, *, complete: bool) -> str | None:
        """None when `pcm` is what `request` must get for `unit` (a prefix of it when not `complete`)."""
        expected = self._pcm[(request.voice, unit, request.seed if request.exact else 0)]
        if rate_hz != self.rate_hz(request.voice):
            return f"rate {rate_hz} Hz, expected {self.rate_hz(request.voice)} Hz"
        if request.exact:
            if complete and pcm != expected:
                return f"audio differs from the reference ({len(pcm)} bytes, expected {len(expected)})"
            if not complete and not expected.startswith(pcm):
                return f"the first {len(pcm)} bytes differ from the reference"
            return None
        low, high = LOOSE_DURATION_RANGE
        if complete and not low * len(expected) <= len(pcm) <= high * len(expected):
            return f"duration {len(pcm) / len(expected):.2f} x the reference's"
        return None
