"""Pure DSP helpers: PCM conversion, trimming, cutting and BS.1770 loudness (exact values)."""

from __future__ import annotations

import numpy as np
import pytest

from wyoming_server.engine.audio import (
    SILENCE_LUFS,
    cut,
    fade,
    float_to_pcm16,
    integrated_loudness,
    k_weighting_biquads,
    pcm16_to_float,
    speech_bounds,
    to_mono,
)


def test_float_to_pcm16_bytes() -> None:
    samples = np.array([0.0, 1.0, -1.0, 0.5, 2.0, -3.0, 1e-5], dtype=np.float32)
    assert float_to_pcm16(samples) == bytes.fromhex("0000 ff7f 0180 0040 ff7f 0180 0000")
    assert np.array_equal(
        pcm16_to_float(float_to_pcm16(samples[:4])), np.array([0, 1, -1, 16384 / 32767], "f4")
    )
    with pytest.raises(ValueError, match="even number of bytes"):
        pcm16_to_float(b"\x00")


def test_to_mono_averages_channels() -> None:
    stereo = np.array([[1.0, 0.0], [0.5, 0.5]], dtype=np.float32)
    assert np.array_equal(to_mono(stereo), np.array([0.5, 0.5], dtype=np.float32))


def test_trim_keeps_the_sound_and_a_50_ms_margin() -> None:
    rate = 16000
    tone = (0.5 * np.sin(2 * np.pi * 440 * np.arange(rate) / rate)).astype(np.float32)
    clip = np.concatenate([np.zeros(rate, np.float32), tone, np.zeros(rate // 2, np.float32)])
    start, end = speech_bounds(clip, rate)
    assert (start, end) == (rate - 800, 2 * rate + 800)
    assert clip[start:end].shape[0] == rate + 1600
    assert speech_bounds(np.zeros(rate, np.float32), rate) == (0, 0)


def test_cut_and_its_errors() -> None:
    clip = np.arange(16000 * 4, dtype=np.float32)
    assert cut(clip, 16000, 1.0, 2.5).shape[0] == 24000
    assert cut(clip, 16000, None, 1.0)[-1] == 15999
    with pytest.raises(ValueError, match="past the end"):
        cut(clip, 16000, 5.0, None)
    with pytest.raises(ValueError, match="start < end"):
        cut(clip, 16000, 2.0, 1.0)


def test_fade_ramps_both_ends() -> None:
    out = fade(np.ones(1000, np.float32), 1000, 0.01)
    assert out[0] == 0.0 and out[9] == pytest.approx(0.9) and out[500] == 1.0 and out[-1] == 0.0


def test_k_weighting_matches_the_bs1770_table_at_48k() -> None:
    (shelf_b, shelf_a), (high_b, high_a) = k_weighting_biquads(48000)
    assert shelf_b == pytest.approx((1.53512485958697, -2.69169618940638, 1.19839281085285), abs=1e-10)
    assert shelf_a == pytest.approx((1.0, -1.69065929318241, 0.73248077421585), abs=1e-10)
    assert high_b == (1.0, -2.0, 1.0)
    assert high_a == pytest.approx((1.0, -1.99004745483398, 0.99007225036621), abs=1e-10)


@pytest.mark.parametrize("rate", [48000, 44100, 32000])
def test_full_scale_997_hz_sine_is_minus_3_01_lufs(rate: int) -> None:
    t = np.arange(5 * rate) / rate
    sine = np.sin(2 * np.pi * 997 * t).astype(np.float32)
    assert integrated_loudness(sine, rate) == pytest.approx(-3.01, abs=0.02)
    assert integrated_loudness(0.1 * sine, rate) == pytest.approx(-23.01, abs=0.02)


def test_gating_ignores_silence_and_reports_silence() -> None:
    rate = 48000
    t = np.arange(2 * rate) / rate
    sine = (0.1 * np.sin(2 * np.pi * 997 * t)).astype(np.float32)
    padded = np.concatenate([np.zeros(3 * rate, np.float32), sine, np.zeros(3 * rate, np.float32)])
    # Blocks straddling the tone's edges pass the relative gate and lower the figure a little;
    # ungated, the 6 s of silence would pull it down to about -29 LUFS.
    assert integrated_loudness(padded, rate) == pytest.approx(-23.6, abs=0.1)
    assert integrated_loudness(np.zeros(rate, np.float32), rate) == SILENCE_LUFS
