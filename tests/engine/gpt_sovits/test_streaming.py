"""Token-chunk streaming: noise per frame, chunk bookkeeping, and joins against the whole-sentence decode."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from tests.support.tiny_models.window_decoders import TorchWindowDecoder, window_decoder
from wyoming_server.bench.streaming import measure_streaming
from wyoming_server.engine.gpt_sovits.engine import STREAM_PLAN
from wyoming_server.engine.gpt_sovits.streaming import (
    ChunkPlan,
    FrameNoise,
    StreamingSentence,
    WindowDecoder,
    crossfade,
)

CHANNELS = 8
SPT = 1280
"""Samples per token at 32 kHz."""
STATED_SNR_NO_ATTENTION_DB = 60.0
STATED_SNR_LOCAL_ATTENTION_DB = 50.0
"""What docs/engine.md ("Streaming and batching") states for the default plan on these tiny decoders."""
RANDOM_ATTENTION_SNR_DB = (7.0, 20.0)
"""Streamed vs whole on the random-attention decoder: measured 10.5 dB (torch fp32; float rounding moves
it by far less than 0.1 dB between CPUs)."""


def snr_db(reference: NDArray[np.float32], other: NDArray[np.float32]) -> float:
    """10 log10(|reference|^2 / |reference - other|^2)."""
    ref = reference.astype(np.float64)
    err = float(np.sum((ref - other.astype(np.float64)) ** 2))
    return float(10 * np.log10(np.sum(ref**2) / max(err, 1e-30)))


class LocalFakeDecoder:
    """A numpy decoder shaped like SoVITS: frame f's latent depends only on tokens within `reach`
    of its own and its noise; its audio on the latents of the kept frames within `generator_reach`
    frames (zeros beyond `keep`, as the generator's padding).

    Windowed decoding with context and lookahead >= reach, and a generator margin >=
    generator_reach, must reproduce the whole decode exactly.
    """

    hop_samples = 640

    def __init__(self, reach: int, generator_reach: int = 0) -> None:
        self.reach = reach
        self.generator_reach = generator_reach
        self.table = np.random.default_rng(0).standard_normal((1024, 640)).astype(np.float32)
        self.generated_frames = 0

    def decode_with_noise(
        self,
        tokens: NDArray[np.int64],
        phones: NDArray[np.int64],
        ge: NDArray[np.float32],
        noise: NDArray[np.float32],
        keep: tuple[int, int] | None = None,
    ) -> NDArray[np.float32]:
        frames = noise.shape[2]
        assert frames == 2 * tokens.shape[0]
        start, stop = keep if keep is not None else (0, frames)
        assert 0 <= start < stop <= frames
        padded = np.concatenate([np.full(self.reach, -1), tokens, np.full(self.reach, -1)])
        latent = np.zeros((frames, 640), np.float32)
        for f in range(frames):
            t = f // 2 + self.reach
            for j in range(-self.reach, self.reach + 1):
                if padded[t + j] >= 0:
                    latent[f] += self.table[padded[t + j]] * (1.0 / (1 + abs(j)))
            latent[f] += noise[0, :, f].sum()
        kept = np.pad(latent[start:stop], ((self.generator_reach, self.generator_reach), (0, 0)))
        out = np.zeros((stop - start, 640), np.float32)
        for d in range(-self.generator_reach, self.generator_reach + 1):
            out += kept[self.generator_reach + d : self.generator_reach + d + stop - start] / (1 + abs(d))
        self.generated_frames += stop - start
        return out.reshape(-1)


def stream(
    decoder: WindowDecoder,
    tokens: NDArray[np.int64],
    phones: NDArray[np.int64],
    ge: NDArray[np.float32],
    plan: ChunkPlan,
    noise: FrameNoise,
) -> tuple[NDArray[np.float32], list[int], StreamingSentence]:
    """Push tokens one by one, take every chunk as soon as it is ready; (audio, join positions, state)."""
    sentence = StreamingSentence(decoder, phones, ge, noise, plan)
    chunks: list[NDArray[np.float32]] = []
    joins: list[int] = []

    def drain() -> None:
        while sentence.ready():
            chunks.append(sentence.next_chunk())
            joins.append(sum(c.shape[0] for c in chunks))

    for token in tokens.tolist():
        sentence.push(token)
        drain()
    sentence.finish()
    drain()
    assert sentence.done
    return np.concatenate(chunks), joins[:-1], sentence


def whole(
    decoder: WindowDecoder,
    tokens: NDArray[np.int64],
    phones: NDArray[np.int64],
    ge: NDArray[np.float32],
    noise: FrameNoise,
) -> NDArray[np.float32]:
    """The whole-sentence decode with the same per-frame noise."""
    return decoder.decode_with_noise(tokens, phones, ge, noise.window(0, 2 * tokens.shape[0]))


def test_frame_noise_windows_are_slices_of_one_draw() -> None:
    reference = FrameNoise(CHANNELS, 0.5, np.random.default_rng(3)).window(0, 700)
    noise = FrameNoise(CHANNELS, 0.5, np.random.default_rng(3))
    for start, stop in [(0, 40), (24, 90), (300, 700), (10, 11), (0, 700)]:
        np.testing.assert_array_equal(noise.window(start, stop), reference[:, :, start:stop])
    assert reference.shape == (1, CHANNELS, 700) and reference.dtype == np.float32
    assert 0.45 < float(np.std(reference)) < 0.55
    silent = FrameNoise(CHANNELS, 0.0, np.random.default_rng(3)).window(5, 9)
    assert silent.shape == (1, CHANNELS, 4) and not silent.any()
    with pytest.raises(ValueError, match="window"):
        noise.window(5, 5)


def test_chunks_grow_to_the_cap_and_plans_are_checked() -> None:
    plan = ChunkPlan(first_tokens=20, growth=2.0, max_tokens=120)
    assert [plan.chunk_tokens(i) for i in range(5)] == [20, 40, 80, 120, 120]
    for bad in (
        {"first_tokens": 0},
        {"first_tokens": 50, "max_tokens": 40},
        {"growth": 0.5},
        {"context_tokens": -1},
        {"crossfade_samples": -2},
        {"generator_margin_tokens": -1},
    ):
        with pytest.raises(ValueError):
            ChunkPlan(**bad)


def test_crossfade_ramps_sum_to_one() -> None:
    signal = np.random.default_rng(0).standard_normal(640).astype(np.float32)
    np.testing.assert_allclose(crossfade(signal, signal), signal, atol=1e-6)
    faded = crossfade(np.ones(4, np.float32), np.zeros(4, np.float32))
    assert np.all(np.diff(faded) < 0) and 0.5 < faded[0] < 1.0 and 0.0 < faded[-1] < 0.5


@pytest.mark.parametrize("count", [1, 7, 20, 23, 24, 25, 61, 250])
@pytest.mark.parametrize(
    "plan",
    [
        STREAM_PLAN,
        ChunkPlan(3, 1.5, 9, context_tokens=3, lookahead_tokens=3, crossfade_samples=900, generator_margin_tokens=1),
        ChunkPlan(5, 1.0, 5, context_tokens=4, lookahead_tokens=3, crossfade_samples=0, generator_margin_tokens=0),
    ],
)
def test_streamed_equals_whole_when_windows_cover_the_reach(count: int, plan: ChunkPlan) -> None:
    # The blend around a join reaches up to half a crossfade past it, and the generator's input
    # frames up to its margin past that, so a window covers the latent's reach only when it is
    # that much shorter than context/lookahead on each side.
    blend_tokens = -(-plan.crossfade_samples // 2 // SPT)
    decoder = LocalFakeDecoder(
        reach=min(plan.context_tokens, plan.lookahead_tokens) - blend_tokens - plan.generator_margin_tokens,
        generator_reach=2 * plan.generator_margin_tokens,
    )
    rng = np.random.default_rng(count)
    tokens = rng.integers(0, 1024, count).astype(np.int64)
    phones, ge = np.zeros(3, np.int64), np.zeros((1, 4, 1), np.float32)
    audio, joins, sentence = stream(
        decoder, tokens, phones, ge, plan, FrameNoise(CHANNELS, 0.5, np.random.default_rng(1))
    )
    expected = whole(decoder, tokens, phones, ge, FrameNoise(CHANNELS, 0.5, np.random.default_rng(1)))
    assert audio.shape == (count * SPT,)
    np.testing.assert_allclose(audio, expected, rtol=0, atol=1e-4)
    assert sentence.chunks == len(joins) + 1


class ConstantPerWindow:
    """Each window decodes to one constant, how many windows it has decoded so far: a streamed
    sentence is then a staircase, whose every step must be the crossfade's raised-cosine ramp."""

    hop_samples = 640

    def __init__(self) -> None:
        self.windows = 0

    def decode_with_noise(
        self,
        tokens: NDArray[np.int64],
        phones: NDArray[np.int64],
        ge: NDArray[np.float32],
        noise: NDArray[np.float32],
        keep: tuple[int, int] | None = None,
    ) -> NDArray[np.float32]:
        start, stop = keep if keep is not None else (0, noise.shape[2])
        self.windows += 1
        return np.full((stop - start) * self.hop_samples, float(self.windows), np.float32)


def test_each_join_blends_its_two_windows_with_the_crossfade() -> None:
    """Where the windows disagree, a join must ramp from one to the next: a cut would step.

    The tiny decoders' windows agree to 50 dB and more at the joins, so a stream cut hard from
    one window to the next passes every test above; here each window differs from the last by 1.
    """
    audio, joins, sentence = stream(
        ConstantPerWindow(),
        np.zeros(150, np.int64),
        np.zeros(1, np.int64),
        np.zeros((1, 4, 1), np.float32),
        STREAM_PLAN,
        FrameNoise(CHANNELS, 0.0, np.random.default_rng(0)),
    )
    n = STREAM_PLAN.crossfade_samples
    ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(n) + 0.5) / n)
    assert len(joins) == sentence.chunks - 1 >= 2, joins
    for window, join in enumerate(joins, start=1):  # chunk `window` ends where its blend with the next begins
        assert audio[join - 1] == window
        np.testing.assert_allclose(audio[join : join + n], window + ramp, rtol=0, atol=1e-5)
        assert audio[join + n] == window + 1


def test_total_work_stays_linear_for_long_sentences() -> None:
    decoder = LocalFakeDecoder(reach=0)
    tokens = np.zeros(1500, np.int64)
    _, joins, sentence = stream(
        decoder,
        tokens,
        np.zeros(1, np.int64),
        np.zeros((1, 4, 1), np.float32),
        STREAM_PLAN,
        FrameNoise(CHANNELS, 0.0, np.random.default_rng(0)),
    )
    overhead = (STREAM_PLAN.context_tokens + STREAM_PLAN.lookahead_tokens) / STREAM_PLAN.max_tokens
    assert sentence.decoded_tokens <= 1500 * (1 + overhead) + 4 * STREAM_PLAN.max_tokens
    assert len(joins) < 1500 / STREAM_PLAN.max_tokens + 5


def test_the_generator_synthesizes_chunks_and_margins_only() -> None:
    decoder = LocalFakeDecoder(reach=0)
    _, joins, sentence = stream(
        decoder,
        np.zeros(150, np.int64),
        np.zeros(1, np.int64),
        np.zeros((1, 4, 1), np.float32),
        STREAM_PLAN,
        FrameNoise(CHANNELS, 0.0, np.random.default_rng(0)),
    )
    assert decoder.generated_frames == sentence.synthesized_frames
    # Each join adds a margin and the half-crossfade on both sides, never the whole window context.
    per_join = 2 * (2 * STREAM_PLAN.generator_margin_tokens + -(-STREAM_PLAN.crossfade_samples // 2 // 640))
    assert sentence.synthesized_frames == 2 * 150 + len(joins) * per_join
    assert sentence.synthesized_frames < 2 * sentence.decoded_tokens


def test_state_errors() -> None:
    sentence = StreamingSentence(
        LocalFakeDecoder(0),
        np.zeros(1, np.int64),
        np.zeros((1, 4, 1), np.float32),
        FrameNoise(CHANNELS, 0.0, np.random.default_rng(0)),
        STREAM_PLAN,
    )
    assert not sentence.ready()
    with pytest.raises(ValueError, match="ready"):
        sentence.next_chunk()
    sentence.push(5)
    sentence.finish()
    with pytest.raises(ValueError, match="finished"):
        sentence.push(6)


@pytest.fixture(scope="module")
def decoders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, TorchWindowDecoder]:
    root: Path = tmp_path_factory.mktemp("window-decoders")
    return {variant: window_decoder(root / variant, variant) for variant in ("none", "local", "random")}


def _sentence(
    decoder: TorchWindowDecoder, count: int, seed: int
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float32]]:
    rng = np.random.default_rng(seed)
    return (
        rng.integers(0, decoder.codebook_size, count).astype(np.int64),
        rng.integers(0, decoder.phone_count, 40).astype(np.int64),
        (rng.standard_normal((1, decoder.gin, 1)) * 0.5).astype(np.float32),
    )


@pytest.mark.parametrize(
    ("variant", "stated_db"), [("none", STATED_SNR_NO_ATTENTION_DB), ("local", STATED_SNR_LOCAL_ATTENTION_DB)]
)
def test_streamed_decode_agrees_with_whole_within_the_stated_snr(
    decoders: dict[str, TorchWindowDecoder], variant: str, stated_db: float
) -> None:
    decoder = decoders[variant]
    tokens, phones, ge = _sentence(decoder, 150, seed=2)
    quality = measure_streaming(decoder, decoder.inter_channels, tokens, phones, ge, STREAM_PLAN, seed=9)
    assert quality.chunks >= 3
    assert quality.snr_db >= stated_db, quality
    assert quality.worst_join_db >= stated_db - 15.0
    assert quality.work < 1.5


def test_joins_add_no_discontinuity(decoders: dict[str, TorchWindowDecoder]) -> None:
    decoder = decoders["local"]
    tokens, phones, ge = _sentence(decoder, 120, seed=4)
    audio, joins, _ = stream(
        decoder, tokens, phones, ge, STREAM_PLAN, FrameNoise(decoder.inter_channels, 0.5, np.random.default_rng(5))
    )
    expected = whole(decoder, tokens, phones, ge, FrameNoise(decoder.inter_channels, 0.5, np.random.default_rng(5)))
    half = STREAM_PLAN.crossfade_samples
    assert len(joins) >= 2, joins
    for join in joins:
        region = slice(join - half, join + half)
        streamed_jump = float(np.max(np.abs(np.diff(audio[region]))))
        whole_jump = float(np.max(np.abs(np.diff(expected[region]))))
        # No sample-to-sample step near a join beyond what the whole decode has there.
        assert streamed_jump <= 1.1 * whole_jump + 1e-3 * float(np.max(np.abs(expected)))


def test_random_attention_reaches_everywhere(decoders: dict[str, TorchWindowDecoder]) -> None:
    """Random weights attend over the whole sentence, so no window matches the whole decode (docs/decisions.md).

    The figure stays between two bounds: below, the streamed audio no longer follows the whole
    decode (noise one frame off: 0.6 dB); above, the comparison would not see attention's reach, and
    the bounded-reach checks above could pass on a measurement that compares nothing.
    """
    decoder = decoders["random"]
    tokens, phones, ge = _sentence(decoder, 150, seed=2)
    quality = measure_streaming(decoder, decoder.inter_channels, tokens, phones, ge, STREAM_PLAN, seed=9)
    assert quality.chunks >= 3
    assert RANDOM_ATTENTION_SNR_DB[0] <= quality.snr_db <= RANDOM_ATTENTION_SNR_DB[1], quality
