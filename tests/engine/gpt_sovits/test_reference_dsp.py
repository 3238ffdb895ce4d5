"""Reference-clip DSP: resampling, SoVITS's linear spectrogram, Kaldi fbank."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from wyoming_server.engine.audio import resample
from wyoming_server.engine.gpt_sovits.reference import (
    FLOAT32_EPS,
    kaldi_fbank,
    linear_spectrogram,
    peak_normalize,
)


def _chirp(n: int) -> np.ndarray:
    t = np.arange(n) / 16000
    return (
        np.linspace(0.05, 0.4, n) * np.sin(2 * np.pi * (300 + 40000 * t) * t)
        + 0.02 * np.cos(2 * np.pi * 5000 * t)
    ).astype(np.float32)


@pytest.mark.parametrize("n", [32000 * 3 + 123, 50000, 1500])
def test_spectrogram_matches_torch_stft(n: int) -> None:
    x = (np.random.default_rng(n).standard_normal(n) * 0.2).astype(np.float32)
    padded = torch.nn.functional.pad(torch.from_numpy(x)[None, None], (704, 704), mode="reflect")[0]
    stft = torch.stft(
        padded,
        2048,
        hop_length=640,
        win_length=2048,
        window=torch.hann_window(2048),
        center=False,
        return_complex=True,
    )
    expected = torch.sqrt(stft.real**2 + stft.imag**2 + 1e-8).numpy()
    spec = linear_spectrogram(x)
    assert spec.dtype == np.float32
    assert spec.shape == (1, 1025, n // 640) == expected.shape
    np.testing.assert_allclose(spec, expected, atol=2e-5, rtol=1e-5)


def test_spectrogram_of_silence_is_the_epsilon_floor() -> None:
    np.testing.assert_allclose(linear_spectrogram(np.zeros(6400, np.float32)), 1e-4, rtol=1e-6)


def test_peak_normalize_only_above_one() -> None:
    quiet = np.array([0.5, -0.9], np.float32)
    assert peak_normalize(quiet) is quiet
    np.testing.assert_allclose(peak_normalize(np.array([1.5, -0.3], np.float32)), [1.0, -0.2])
    np.testing.assert_allclose(
        peak_normalize(np.array([4.0, -1.0], np.float32)), [2.0, -0.5]
    )  # / min(2, peak)


@pytest.mark.parametrize(("src", "dst"), [(44100, 16000), (48000, 32000), (16000, 32000), (32000, 32000)])
def test_resample_keeps_duration_and_tone(src: int, dst: int) -> None:
    t = np.arange(src) / src
    tone = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    out = resample(tone, src, dst)
    assert out.dtype == np.float32
    assert abs(out.shape[0] - dst) <= 1
    spectrum = np.abs(np.fft.rfft(out[dst // 10 : -dst // 10]))
    peak_hz = np.argmax(spectrum) * dst / (2 * (spectrum.shape[0] - 1))
    assert abs(peak_hz - 440) < 3
    with pytest.raises(ValueError, match="positive"):
        resample(tone, 0, dst)


def test_fbank_matches_kaldi_golden() -> None:
    # Upstream eres2net/kaldi.py fbank(num_mel_bins=80, sample_frequency=16000, dither=0), float64 input.
    fbank = kaldi_fbank(_chirp(1200))
    assert fbank.shape == (1, 6, 80)
    assert fbank.dtype == np.float32
    bins = [0, 9, 19, 39, 59, 79]
    np.testing.assert_allclose(
        fbank[0, 0, bins], [-11.1287, -10.5077, -3.4756, 1.7062, -15.9424, -15.9424], atol=1e-3
    )
    np.testing.assert_allclose(
        fbank[0, 5, bins], [-13.1693, -15.9424, -15.9424, -15.9424, -7.6023, -11.8124], atol=1e-3
    )


def test_fbank_properties() -> None:
    x = _chirp(16000)
    fbank = kaldi_fbank(x)[0]
    assert fbank.shape == (1 + (16000 - 400) // 160, 80)
    # Per-frame DC removal: a constant offset changes nothing.
    np.testing.assert_allclose(kaldi_fbank(x + np.float32(0.25))[0], fbank, atol=1e-3)
    # Power spectrum: doubling the signal adds log(4) wherever the floor is not reached.
    doubled = kaldi_fbank(2 * x)[0]
    above = fbank > math.log(FLOAT32_EPS) + 1
    np.testing.assert_allclose((doubled - fbank)[above], math.log(4), atol=1e-4)
    # Silence sits on the epsilon floor.
    np.testing.assert_allclose(kaldi_fbank(np.zeros(800, np.float32)), math.log(FLOAT32_EPS), rtol=1e-6)
    with pytest.raises(ValueError, match="too short"):
        kaldi_fbank(np.zeros(399, np.float32))
