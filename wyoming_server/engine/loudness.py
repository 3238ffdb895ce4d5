"""Integrated loudness (LUFS) of a mono clip, per ITU-R BS.1770-4 (K-weighting, 400 ms gated blocks).

Why not pyloudnorm: it needs scipy (a large wheel) only for `lfilter`. Here the two K-weighting
biquads are applied in the frequency domain instead: the signal is zero-padded far past the
filters' decay, multiplied by the biquads' exact frequency response and transformed back. That is
the causal IIR output up to a negligible tail, and needs nothing but numpy. Coefficients are
derived from the standard's analog prototypes for any sample rate (at 48 kHz they equal the table
in BS.1770-4 to the printed digits).
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np
from numpy.typing import NDArray

BLOCK_S: Final = 0.4
BLOCK_OVERLAP: Final = 0.75
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
    block = round(BLOCK_S * rate_hz)
    if samples.shape[0] < block:
        # Shorter than one gating block: measure the clip as a single block.
        block = samples.shape[0]
    if block == 0:
        return SILENCE_LUFS
    weighted = k_weight(samples, rate_hz)
    step = max(1, round(block * (1.0 - BLOCK_OVERLAP)))
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
