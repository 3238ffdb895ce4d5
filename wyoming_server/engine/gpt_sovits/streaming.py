"""Token-chunk streaming: decode a sentence's semantic tokens through SoVITS while T2S still runs.

The SoVITS decoder is not causal: its SSL encoders attend across all frames, the flow's and the
generator's convolutions reach a few frames either way. So a chunk of tokens is decoded inside a
window with `context_tokens` already-emitted tokens before it and `lookahead_tokens` not-yet-emitted
tokens after it, and only the chunk's own samples are kept. The window's latent (enc_p and flow)
covers all of it, but the generator, most of the work and only a few frames' reach, synthesizes
just the samples kept plus `generator_margin_tokens` on each side (`SovitsDecoder` `keep`).
Neighbouring chunks overlap by `crossfade_samples` around each join, where the two decodes are
blended with complementary raised-cosine ramps. Both windows give every frame the same epsilon
(`FrameNoise`), so away from the joins the streamed audio differs from the whole-sentence decode
only by what lies outside each window (`bench/streaming.py` measures it; docs/engine.md).

Chunks grow (first `first_tokens`, then x`growth`, capped at `max_tokens`), so time to first
audio is short and the re-decoded context stays a bounded fraction of the work: each token goes
through the latent at most about 1 + (context + lookahead) / chunk times and through the generator
about 1 + 2 * margin / chunk times, never the O(n^2) of re-decoding the whole prefix.

Only speed 1 can be streamed: at other speeds upstream stretches the whole sentence's features by
one linear interpolation (`int(2 * tokens / speed) + 1` frames), which a window cannot reproduce;
the engine then decodes the sentence whole.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace
from typing import Final, Protocol

import numpy as np
from numpy.typing import NDArray

from .sovits import FRAMES_PER_TOKEN

_LOGGER = logging.getLogger(__name__)

NOISE_BLOCK_FRAMES: Final = 256
"""FrameNoise grows its buffer by at least this many frames at a time."""


class WindowDecoder(Protocol):
    """What streaming needs of a SoVITS decoder (`vits.SovitsDecoder`; tests pass torch stand-ins)."""

    @property
    def hop_samples(self) -> int:
        """Samples per decoder frame (640 at 32 kHz)."""
        ...

    def decode_with_noise(
        self,
        tokens: NDArray[np.int64],
        phones: NDArray[np.int64],
        ge: NDArray[np.float32],
        noise: NDArray[np.float32],
        keep: tuple[int, int] | None = None,
    ) -> NDArray[np.float32]:
        """Waveform of frames `keep` = [start, stop) (default all) for scaled noise (1, channels, frames)."""
        ...


@dataclass(frozen=True, slots=True)
class ChunkPlan:
    """Chunk sizes, decoding context and the crossfade of token-chunk streaming (see the module doc)."""

    first_tokens: int = 12
    """Tokens in the first chunk (25 tokens = 1 s of audio): first audio soon, while every later chunk
    still comes before playback needs it (docs/decisions.md, "Streaming")."""
    growth: float = 2.0
    """Each later chunk is this many times the previous one ..."""
    max_tokens: int = 120
    """... up to this size."""
    context_tokens: int = 8
    """Emitted tokens decoded again before a chunk (left context)."""
    lookahead_tokens: int = 8
    """Tokens after a chunk that must exist before it is decoded (right context)."""
    crossfade_samples: int = 1280
    """Length of the blend around each join (at 32 kHz)."""
    generator_margin_tokens: int = 3
    """Context of a window that also goes through the HiFi-GAN generator, on each side of the samples
    kept: the latent sees the whole window, the generator (its reach is about 5 tokens) only this
    margin, enough to put its edge error well under the crossfade (docs/decisions.md, "Streaming")."""

    def __post_init__(self) -> None:
        if self.first_tokens < 1 or self.max_tokens < self.first_tokens:
            raise ValueError("chunk sizes must satisfy 1 <= first_tokens <= max_tokens")
        if self.growth < 1.0:
            raise ValueError("growth must be at least 1")
        if min(self.context_tokens, self.lookahead_tokens, self.crossfade_samples, self.generator_margin_tokens) < 0:
            raise ValueError("context, lookahead, crossfade and generator margin must not be negative")

    def later(self) -> ChunkPlan:
        """The plan for sentences after the first: audio is already queued, so chunks start bigger."""
        return replace(self, first_tokens=min(self.max_tokens, 2 * self.first_tokens))

    def chunk_tokens(self, index: int) -> int:
        """Size of chunk `index` (0 = the first)."""
        return min(self.max_tokens, math.ceil(self.first_tokens * self.growth**index))


class FrameNoise:
    """Prior noise epsilon * scale drawn frame by frame from one generator.

    Frames are drawn in order (frame-major), so frame i gets the same epsilon whichever window asks
    for it and however the windows are cut: a streamed decode and a whole-sentence decode of the
    same tokens see identical noise.
    """

    def __init__(self, channels: int, scale: float, rng: np.random.Generator) -> None:
        self.channels = channels
        self.scale = np.float32(scale)
        self._rng = rng
        self._frames = np.empty((0, channels), np.float32)  # (drawn, channels)

    def window(self, start: int, stop: int) -> NDArray[np.float32]:
        """(1, channels, stop - start) noise of frames [start, stop)."""
        if not 0 <= start < stop:
            raise ValueError(f"bad frame window [{start}, {stop})")
        if self.scale == 0.0:
            return np.zeros((1, self.channels, stop - start), np.float32)
        drawn = self._frames.shape[0]
        if stop > drawn:
            more = max(stop - drawn, NOISE_BLOCK_FRAMES)
            fresh = self._rng.standard_normal((more, self.channels), dtype=np.float32)
            self._frames = np.concatenate([self._frames, fresh])
        window = self._frames[start:stop].T * self.scale
        return np.ascontiguousarray(window[np.newaxis], dtype=np.float32)


def crossfade(fading_out: NDArray[np.float32], fading_in: NDArray[np.float32]) -> NDArray[np.float32]:
    """Blend two decodes of the same samples with raised-cosine ramps that sum to one."""
    n = fading_out.shape[0]
    ramp = (0.5 - 0.5 * np.cos(np.pi * (np.arange(n) + 0.5) / n)).astype(np.float32)
    blended: NDArray[np.float32] = fading_out * (1.0 - ramp) + fading_in * ramp
    return blended


class StreamingSentence:
    """One sentence being streamed: tokens come in with `push`, audio chunks go out of `next_chunk`.

    The concatenated chunks are exactly `len(tokens) * samples_per_token` samples long, like the
    whole-sentence decode.
    """

    def __init__(
        self,
        sovits: WindowDecoder,
        phones: NDArray[np.int64],
        ge: NDArray[np.float32],
        noise: FrameNoise,
        plan: ChunkPlan,
    ) -> None:
        self._sovits = sovits
        self._phones = phones
        self._ge = ge
        self._noise = noise
        self._plan = plan
        self.samples_per_token = FRAMES_PER_TOKEN * sovits.hop_samples
        half = plan.crossfade_samples // 2
        # The blend around join p covers [p - fade_before, p + fade_after): as centred as the
        # decoding window allows (lookahead on the right, context on the left).
        self._fade_after = min(half, plan.lookahead_tokens * self.samples_per_token)
        self._fade_before = min(plan.crossfade_samples - self._fade_after, plan.context_tokens * self.samples_per_token)
        self._tokens = np.empty(256, np.int64)
        self.count = 0
        """Tokens pushed so far."""
        self.finished = False
        """True once the sentence has all its tokens."""
        self.chunks = 0
        """Chunks produced so far."""
        self._emitted = 0  # tokens whose audio (up to the pending blend) has gone out
        self._tail: NDArray[np.float32] | None = None  # this side's decode of the next blend
        self.decoded_tokens = 0
        """Tokens run through the decoder's latent so far, context included (work done)."""
        self.synthesized_frames = 0
        """Frames run through the generator so far, margins included (most of the work)."""

    @property
    def tokens(self) -> NDArray[np.int64]:
        """(count,) the tokens pushed so far."""
        return self._tokens[: self.count]

    @property
    def done(self) -> bool:
        """True when every sample has been handed out."""
        return self.finished and self._emitted == self.count

    def push(self, token: int) -> None:
        """Append one generated token."""
        if self.finished:
            raise ValueError("the sentence is already finished")
        if self.count == self._tokens.shape[0]:
            self._tokens = np.concatenate([self._tokens, np.empty_like(self._tokens)])
        self._tokens[self.count] = token
        self.count += 1

    def finish(self) -> None:
        """No more tokens will come (EOS or the token cap)."""
        self.finished = True

    def _chunk_end(self) -> int:
        return self._emitted + self._plan.chunk_tokens(self.chunks)

    def ready(self) -> bool:
        """True when `next_chunk` can run: a whole chunk plus lookahead exists, or the sentence ended."""
        if self.finished:
            return self._emitted < self.count
        return self.count >= self._chunk_end() + self._plan.lookahead_tokens

    def next_chunk(self) -> NDArray[np.float32]:
        """Decode the next chunk; returns its samples (the last one includes the sentence's end)."""
        if not self.ready():
            raise ValueError("no chunk is ready")
        spt = self.samples_per_token
        final = self.finished and self._chunk_end() + self._plan.lookahead_tokens >= self.count
        end = self.count if final else self._chunk_end()
        start = max(0, self._emitted - self._plan.context_tokens)
        stop = self.count if final else end + self._plan.lookahead_tokens
        frames = FRAMES_PER_TOKEN
        # Samples this chunk hands out or blends, in the window's frames, widened by the generator margin.
        hop = self._sovits.hop_samples
        used_from = self._emitted * spt - (self._fade_before if self._tail is not None else 0)
        used_to = self.count * spt if final else end * spt + self._fade_after
        margin = frames * self._plan.generator_margin_tokens
        keep = (
            max(0, used_from // hop - frames * start - margin),
            min(frames * (stop - start), -(-used_to // hop) - frames * start + margin),
        )
        wave = self._sovits.decode_with_noise(
            self._tokens[start:stop], self._phones, self._ge, self._noise.window(frames * start, frames * stop), keep
        )
        self.decoded_tokens += stop - start
        self.synthesized_frames += keep[1] - keep[0]
        base = start * spt + keep[0] * hop  # sentence sample of wave[0]
        parts: list[NDArray[np.float32]] = []
        cursor = self._emitted * spt - base
        if self._tail is not None:
            blend = wave[cursor - self._fade_before : cursor + self._fade_after]
            parts.append(crossfade(self._tail, blend))
            cursor += self._fade_after
        if final:
            parts.append(wave[cursor:])
            self._tail = None
        else:
            next_join = end * spt - base
            parts.append(wave[cursor : next_join - self._fade_before])
            self._tail = wave[next_join - self._fade_before : next_join + self._fade_after].copy()
        _LOGGER.debug(
            "stream chunk %d: tokens [%d, %d) decoded [%d, %d)%s",
            self.chunks,
            self._emitted,
            end,
            start,
            stop,
            " final" if final else "",
        )
        self._emitted = end
        self.chunks += 1
        return np.concatenate(parts) if len(parts) > 1 else parts[0]
