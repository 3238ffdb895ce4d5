"""Audio DSP in numpy + soxr: PCM conversion, mono, resampling, levels, trimming, SNR, loudness (LUFS).

Everything here works on mono float32 arrays in [-1, 1]; nothing reads files or sockets.
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np
import soxr
from numpy.typing import NDArray

PCM16_MAX: Final = 32767
"""Largest int16 sample; float 1.0 maps to it (symmetric scaling, -1.0 -> -32767)."""
PCM16_WIDTH_BYTES: Final = 2
"""Bytes per sample of the s16le audio the server sends."""
FRAME_S: Final = 0.02
"""Analysis frame for energies and the voice-activity decision (20 ms)."""
SILENCE_FLOOR_DB: Final = -60.0
"""Frames quieter than this (dBFS, RMS) are silence whatever the clip's level."""
TRIM_BELOW_PEAK_DB: Final = 40.0
"""Trimming treats frames this far below the loudest frame as silence."""
TRIM_MARGIN_S: Final = 0.05
"""Kept on each side of the speech when trimming, so word onsets are not clipped."""
_ENERGY_EPS: Final = 1e-12


def float_to_pcm16(samples: NDArray[np.float32]) -> bytes:
    """Mono float samples in [-1, 1] to little-endian int16 bytes.

    Values outside the range are clipped (a loud model output must not wrap around into a
    click), NaN becomes silence and +/-inf the extremes, and values are rounded to nearest.
    """
    clean = np.nan_to_num(np.asarray(samples, dtype=np.float32), nan=0.0, posinf=1.0, neginf=-1.0)
    scaled = np.rint(np.clip(clean, -1.0, 1.0) * PCM16_MAX)
    return scaled.astype("<i2").tobytes()


def pcm16_to_float(data: bytes) -> NDArray[np.float32]:
    """Inverse of `float_to_pcm16` (an odd trailing byte is an error)."""
    if len(data) % 2:
        raise ValueError("16-bit PCM needs an even number of bytes")
    return (np.frombuffer(data, dtype="<i2").astype(np.float32) / PCM16_MAX).astype(np.float32)


def to_mono(samples: NDArray[np.floating]) -> NDArray[np.float32]:
    """Average the channels of a (S,) or (S, C) array into (S,) float32."""
    array = np.asarray(samples, dtype=np.float32)
    if array.ndim == 1:
        return array
    if array.ndim != 2:
        raise ValueError(f"audio must be (samples,) or (samples, channels), got shape {array.shape}")
    return np.asarray(array.mean(axis=1), dtype=np.float32)


def resample(samples: NDArray[np.float32], from_hz: int, to_hz: int) -> NDArray[np.float32]:
    """High-quality resampling (soxr "HQ"); returns the input unchanged when the rates match."""
    if from_hz <= 0 or to_hz <= 0:
        raise ValueError("sample rates must be positive")
    if from_hz == to_hz:
        return np.asarray(samples, dtype=np.float32)
    out = soxr.resample(np.asarray(samples, dtype=np.float32), from_hz, to_hz, quality="HQ")
    return np.asarray(out, dtype=np.float32)


def frame_rms_db(samples: NDArray[np.float32], rate_hz: int, frame_s: float = FRAME_S) -> NDArray[np.float64]:
    """(F,) RMS level in dBFS of consecutive non-overlapping frames (a partial last frame is dropped)."""
    frame = max(1, round(rate_hz * frame_s))
    count = samples.shape[0] // frame
    if count == 0:
        return np.zeros(0, dtype=np.float64)
    frames = np.asarray(samples[: count * frame], dtype=np.float64).reshape(count, frame)
    power = np.mean(frames * frames, axis=1)
    # RMS of a full-scale sine is 1/sqrt(2): dBFS here is relative to a full-scale square wave.
    return np.asarray(10.0 * np.log10(power + _ENERGY_EPS), dtype=np.float64)


def rms_db(samples: NDArray[np.float32]) -> float:
    """RMS level of the whole array in dBFS (-120 for an empty or all-zero array)."""
    if samples.size == 0:
        return -120.0
    power = float(np.mean(np.square(samples, dtype=np.float64)))
    return 10.0 * float(np.log10(power + _ENERGY_EPS))


def speech_bounds(
    samples: NDArray[np.float32],
    rate_hz: int,
    *,
    below_peak_db: float = TRIM_BELOW_PEAK_DB,
    margin_s: float = TRIM_MARGIN_S,
) -> tuple[int, int]:
    """[start, end) sample range holding the sound, without leading/trailing silence.

    A frame counts as sound when it is louder than both `SILENCE_FLOOR_DB` and the loudest
    frame minus `below_peak_db`. Returns (0, 0) for a clip with no sound at all.
    """
    levels = frame_rms_db(samples, rate_hz)
    if levels.size == 0:
        return (0, 0)
    threshold = max(SILENCE_FLOOR_DB, float(levels.max()) - below_peak_db)
    loud = np.flatnonzero(levels > threshold)
    if loud.size == 0:
        return (0, 0)
    frame = max(1, round(rate_hz * FRAME_S))
    margin = round(rate_hz * margin_s)
    start = max(0, int(loud[0]) * frame - margin)
    end = min(samples.shape[0], (int(loud[-1]) + 1) * frame + margin)
    return (start, end)


def fade(samples: NDArray[np.float32], rate_hz: int, seconds: float = 0.01) -> NDArray[np.float32]:
    """Linear fade-in and fade-out of `seconds` each, so a cut does not click."""
    out = np.array(samples, dtype=np.float32, copy=True)
    n = min(round(rate_hz * seconds), out.shape[0] // 2)
    if n > 0:
        ramp = np.linspace(0.0, 1.0, n, endpoint=False, dtype=np.float32)
        out[:n] *= ramp
        out[-n:] *= ramp[::-1]
    return out


def cut(
    samples: NDArray[np.float32], rate_hz: int, start_s: float | None, end_s: float | None
) -> NDArray[np.float32]:
    """The part between `start_s` and `end_s` (either may be None); ValueError for a bad range."""
    total_s = samples.shape[0] / rate_hz
    start = 0.0 if start_s is None else start_s
    if start >= total_s:
        raise ValueError(f"--start {start:g} s is past the end of the clip ({total_s:.1f} s)")
    end = total_s if end_s is None else end_s
    if start < 0 or end <= start:
        raise ValueError(f"--start/--end must satisfy 0 <= start < end (got {start:g} and {end:g})")
    return np.asarray(samples[round(start * rate_hz) : round(min(end, total_s) * rate_hz)], dtype=np.float32)

def snr_db(reference: NDArray[np.floating], other: NDArray[np.floating]) -> float:
    """10 log10(|reference|^2 / |reference - other|^2) over the common length; inf when they are equal."""
    n = min(reference.shape[0], other.shape[0])
    ref = np.asarray(reference[:n], dtype=np.float64)
    noise = float(np.sum((ref - np.asarray(other[:n], dtype=np.float64)) ** 2))
    if noise == 0.0:
        return math.inf
    signal = float(np.sum(ref * ref))
    return 10.0 * math.log10(signal / noise) if signal > 0.0 else -math.inf


# ----- integrated loudness (ITU-R BS.1770-4: K-weighting, 400 ms gated blocks) -----------------------
# Not pyloudnorm: it needs scipy only for `lfilter`. The two K-weighting biquads are applied in the
# frequency domain instead (zero-padded far past their decay), which needs nothing but numpy; the
# coefficients come from the standard's analog prototypes for any rate (at 48 kHz they equal its table).

LOUDNESS_BLOCK_S: Final = 0.4
LOUDNESS_BLOCK_OVERLAP: Final = 0.75
ABSOLUTE_GATE_LUFS: Final = -70.0
RELATIVE_GATE_LU: Final = -10.0
SILENCE_LUFS: Final = -120.0
"""Reported for clips with no block above the absolute gate."""
_PAD_S: Final = 1.0
"""Zero padding after the clip: the 38 Hz high-pass rings for well under this."""

# Analog prototypes of the two K-weighting stages (the same values libebur128 and others derive from).
_SHELF_F0_HZ: Final = 1681.974450955533
_SHELF_GAIN_DB: Final = 3.999843853973347
_SHELF_Q: Final = 0.7071752369554196
_HIGHPASS_F0_HZ: Final = 38.13547087602444
_HIGHPASS_Q: Final = 0.5003270373238773


def k_weighting_biquads(rate_hz: int) -> list[tuple[tuple[float, float, float], tuple[float, float, float]]]:
    """[(b, a), (b, a)] of the high-shelf pre-filter and the RLB high-pass at `rate_hz`."""
    k = math.tan(math.pi * _SHELF_F0_HZ / rate_hz)
    vh = 10.0 ** (_SHELF_GAIN_DB / 20.0)
    vb = vh**0.4996667741545416
    a0 = 1.0 + k / _SHELF_Q + k * k
    shelf_b = (
        (vh + vb * k / _SHELF_Q + k * k) / a0,
        2.0 * (k * k - vh) / a0,
        (vh - vb * k / _SHELF_Q + k * k) / a0,
    )
    shelf_a = (1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / _SHELF_Q + k * k) / a0)
    k = math.tan(math.pi * _HIGHPASS_F0_HZ / rate_hz)
    a0 = 1.0 + k / _HIGHPASS_Q + k * k
    highpass_b = (1.0, -2.0, 1.0)
    highpass_a = (1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / _HIGHPASS_Q + k * k) / a0)
    return [(shelf_b, shelf_a), (highpass_b, highpass_a)]


def k_weight(samples: NDArray[np.float32], rate_hz: int) -> NDArray[np.float64]:
    """The K-weighted signal (same length as the input)."""
    n = samples.shape[0]
    size = 1 << math.ceil(math.log2(n + round(_PAD_S * rate_hz) + 1))
    spectrum = np.fft.rfft(np.asarray(samples, dtype=np.float64), size)
    z_inv = np.exp(-1j * np.linspace(0.0, math.pi, spectrum.shape[0]))
    for b, a in k_weighting_biquads(rate_hz):
        numerator = b[0] + b[1] * z_inv + b[2] * z_inv * z_inv
        denominator = a[0] + a[1] * z_inv + a[2] * z_inv * z_inv
        spectrum *= numerator / denominator
    return np.asarray(np.fft.irfft(spectrum, size)[:n], dtype=np.float64)


def integrated_loudness(samples: NDArray[np.float32], rate_hz: int) -> float:
    """Gated integrated loudness in LUFS of a mono clip (`SILENCE_LUFS` when nothing passes the gate).

    A full-scale 997 Hz sine measures -3.01 LUFS, as BS.1770 specifies.
    """
    block = round(LOUDNESS_BLOCK_S * rate_hz)
    if samples.shape[0] < block:
        # Shorter than one gating block: measure the clip as a single block.
        block = samples.shape[0]
    if block == 0:
        return SILENCE_LUFS
    weighted = k_weight(samples, rate_hz)
    step = max(1, round(block * (1.0 - LOUDNESS_BLOCK_OVERLAP)))
    starts = np.arange(0, weighted.shape[0] - block + 1, step)
    cumulative = np.concatenate(([0.0], np.cumsum(weighted * weighted)))
    powers = (cumulative[starts + block] - cumulative[starts]) / block
    loudness = -0.691 + 10.0 * np.log10(np.maximum(powers, 1e-20))
    gated = powers[loudness > ABSOLUTE_GATE_LUFS]
    if gated.size == 0:
        return SILENCE_LUFS
    relative_gate = -0.691 + 10.0 * math.log10(float(gated.mean())) + RELATIVE_GATE_LU
    final = powers[(loudness > ABSOLUTE_GATE_LUFS) & (loudness > relative_gate)]
    return -0.691 + 10.0 * math.log10(float(final.mean()))
