"""How token-chunk streaming's joins compare with the whole-sentence decode of the same tokens and noise.

Run it on a real model before trusting the join figures (docs/engine.md, "Streaming and batching");
the tests run it on tiny decoders.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ..engine.audio import snr_db
from ..engine.gpt_sovits.sovits import FRAMES_PER_TOKEN
from ..engine.gpt_sovits.streaming import ChunkPlan, FrameNoise, StreamingSentence, WindowDecoder


@dataclass(frozen=True, slots=True)
class StreamQuality:
    """How a streamed decode compares with the whole-sentence decode of the same tokens and noise."""

    snr_db: float
    """Over the whole sentence."""
    worst_join_db: float
    """The lowest SNR within +-2 tokens of a join (inf when the sentence fit in one chunk)."""
    work: float
    """Tokens run through the decoder's latent / tokens in the sentence."""
    generator_work: float
    """Frames run through the generator / frames in the sentence (the bulk of the decoding time)."""
    chunks: int


def measure_streaming(
    decoder: WindowDecoder,
    channels: int,
    tokens: NDArray[np.int64],
    phones: NDArray[np.int64],
    ge: NDArray[np.float32],
    plan: ChunkPlan,
    noise_scale: float = 0.5,
    seed: int = 0,
) -> StreamQuality:
    """Stream `tokens` (pushed one by one, each chunk taken once ready) and compare with the whole decode.

    With real weights this is the figure that tells whether the joins can be heard; `channels` is
    the decoder's noise width (`SovitsDecoder.inter_channels`).
    """
    whole = decoder.decode_with_noise(
        tokens,
        phones,
        ge,
        FrameNoise(channels, noise_scale, np.random.default_rng(seed)).window(0, 2 * tokens.shape[0]),
    )
    sentence = StreamingSentence(
        decoder, phones, ge, FrameNoise(channels, noise_scale, np.random.default_rng(seed)), plan
    )
    parts: list[NDArray[np.float32]] = []
    for token in tokens.tolist():
        sentence.push(token)
        while sentence.ready():
            parts.append(sentence.next_chunk())
    sentence.finish()
    while sentence.ready():
        parts.append(sentence.next_chunk())
    streamed = np.concatenate(parts)
    joins = np.cumsum([p.shape[0] for p in parts])[:-1]
    span = 2 * sentence.samples_per_token
    worst = min(
        (snr_db(whole[max(0, j - span) : j + span], streamed[max(0, j - span) : j + span]) for j in joins),
        default=float("inf"),
    )
    return StreamQuality(
        snr_db=snr_db(whole, streamed),
        worst_join_db=worst,
        work=sentence.decoded_tokens / tokens.shape[0],
        generator_work=sentence.synthesized_frames / (FRAMES_PER_TOKEN * tokens.shape[0]),
        chunks=sentence.chunks,
    )
