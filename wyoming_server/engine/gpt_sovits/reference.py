"""Reference-clip DSP in numpy: resampling, SoVITS's linear spectrogram, Kaldi fbank for speaker verification.

Facts (reference §2.3, §3.2, pitfalls 13-14):
- spectrogram: reflect-pad (n_fft - hop) / 2 = 704 samples each side, periodic Hann 2048, hop 640,
  no centering, one-sided magnitude sqrt(re^2 + im^2 + 1e-8); (1025, floor(N / 640)) frames.
- fbank (Kaldi `compute-fbank-feats` defaults as used by GPT-SoVITS's `kaldi.fbank(..., num_mel_bins=80,
  dither=0)`): 25 ms frames every 10 ms with snip-edges, DC removal per frame, pre-emphasis 0.97
  (the first sample uses itself as predecessor), Povey window (Hann^0.85, symmetric), zero-padded
  to 512, power spectrum, 80 triangular mel bins from 20 Hz to Nyquist on the 1127 ln(1 + f/700)
  scale, natural log with float32 epsilon as floor.
Computed in float64 and returned as float32.
"""

from __future__ import annotations

from typing import Final

import numpy as np
from numpy.typing import NDArray

N_FFT: Final = 2048
HOP_SAMPLES: Final = 640
SPEC_PAD_SAMPLES: Final = (N_FFT - HOP_SAMPLES) // 2
SPEC_EPS: Final = 1e-8

FBANK_RATE_HZ: Final = 16000
FBANK_BINS: Final = 80
FBANK_FRAME_SAMPLES: Final = 400
"""25 ms at 16 kHz."""
FBANK_SHIFT_SAMPLES: Final = 160
"""10 ms at 16 kHz."""
FBANK_FFT: Final = 512
FBANK_LOW_HZ: Final = 20.0
PREEMPHASIS: Final = 0.97
POVEY_POWER: Final = 0.85
FLOAT32_EPS: Final = float(np.finfo(np.float32).eps)


def peak_normalize(samples: NDArray[np.float32]) -> NDArray[np.float32]:
    """Upstream's spectrogram-path rule: if the peak exceeds 1, divide by min(2, peak)."""
    peak = float(np.max(np.abs(samples), initial=0.0))
    if peak > 1.0:
        return (samples / min(2.0, peak)).astype(np.float32)
    return samples


def _periodic_hann(size: int) -> NDArray[np.float64]:
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(size) / size)


def linear_spectrogram(samples_32k: NDArray[np.float32]) -> NDArray[np.float32]:
    """SoVITS reference spectrogram of a 32 kHz mono clip: (1, 1025, floor(N / 640)) float32."""
    if samples_32k.ndim != 1:
        raise ValueError(f"expected mono samples (N,), got shape {samples_32k.shape}")
    if samples_32k.shape[0] <= SPEC_PAD_SAMPLES:
        raise ValueError(f"clip too short for a spectrogram: {samples_32k.shape[0]} samples")
    padded = np.pad(samples_32k.astype(np.float64), SPEC_PAD_SAMPLES, mode="reflect")
    n_frames = 1 + (padded.shape[0] - N_FFT) // HOP_SAMPLES
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP_SAMPLES][:n_frames]
    spectrum = np.fft.rfft(frames * _periodic_hann(N_FFT), axis=-1)
    magnitude = np.sqrt(spectrum.real**2 + spectrum.imag**2 + SPEC_EPS)
    return magnitude.T[np.newaxis].astype(np.float32)


def _mel(freq_hz: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.asarray(1127.0 * np.log(1.0 + freq_hz / 700.0))


def _mel_banks() -> NDArray[np.float64]:
    """(80, 257) triangular filters; the Nyquist column is zero, as in Kaldi.

    Computed in float64. Upstream builds them in float32, where the slopes' cancellation moves
    some weights by ~1e-5 and low-energy log bins by up to ~2e-4: negligible for the SV network.
    """
    nyquist = FBANK_RATE_HZ / 2
    mel_low, mel_high = _mel(np.array(FBANK_LOW_HZ)), _mel(np.array(nyquist))
    delta = (mel_high - mel_low) / (FBANK_BINS + 1)
    left = mel_low + np.arange(FBANK_BINS)[:, None] * delta
    center, right = left + delta, left + 2 * delta
    fft_mel = _mel(np.arange(FBANK_FFT // 2, dtype=np.float64) * (FBANK_RATE_HZ / FBANK_FFT))[None, :]
    up = (fft_mel - left) / (center - left)
    down = (right - fft_mel) / (right - center)
    banks = np.maximum(0.0, np.minimum(up, down))
    return np.pad(banks, ((0, 0), (0, 1)))


_MEL_BANKS: Final = _mel_banks()
_POVEY_WINDOW: Final = (
    0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(FBANK_FRAME_SAMPLES) / (FBANK_FRAME_SAMPLES - 1))
) ** (POVEY_POWER)


def kaldi_fbank(samples_16k: NDArray[np.float32]) -> NDArray[np.float32]:
    """80-bin log-mel fbank of a 16 kHz mono clip, Kaldi defaults, dither 0: (1, frames, 80) float32."""
    if samples_16k.ndim != 1:
        raise ValueError(f"expected mono samples (N,), got shape {samples_16k.shape}")
    if samples_16k.shape[0] < FBANK_FRAME_SAMPLES:
        raise ValueError(f"clip too short for fbank: {samples_16k.shape[0]} samples")
    wave = samples_16k.astype(np.float64)
    n_frames = 1 + (wave.shape[0] - FBANK_FRAME_SAMPLES) // FBANK_SHIFT_SAMPLES
    frames = np.lib.stride_tricks.sliding_window_view(wave, FBANK_FRAME_SAMPLES)[::FBANK_SHIFT_SAMPLES][
        :n_frames
    ]
    frames = frames - frames.mean(axis=1, keepdims=True)
    previous = np.concatenate([frames[:, :1], frames[:, :-1]], axis=1)
    frames = (frames - PREEMPHASIS * previous) * _POVEY_WINDOW
    power = np.abs(np.fft.rfft(frames, n=FBANK_FFT, axis=-1)) ** 2
    energies = power @ _MEL_BANKS.T
    log_mel = np.log(np.maximum(energies, FLOAT32_EPS))
    return log_mel[np.newaxis].astype(np.float32)
