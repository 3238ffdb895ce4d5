"""Audio sample conversions shared by the engine and the server."""

from __future__ import annotations

from typing import Final

import numpy as np
from numpy.typing import NDArray

PCM16_MAX: Final = 32767
"""Largest int16 sample; float 1.0 maps to it (and -1.0 to -32767, keeping the scale symmetric)."""
PCM16_WIDTH_BYTES: Final = 2


def float_to_pcm16(samples: NDArray[np.float32]) -> bytes:
    """Mono float samples in [-1, 1] to little-endian int16 bytes.

    Values outside the range are clipped (a loud model output must not wrap around into a
    click), NaN becomes silence and +/-inf the extremes, and values are rounded to nearest.
    """
    clean = np.nan_to_num(np.asarray(samples, dtype=np.float32), nan=0.0, posinf=1.0, neginf=-1.0)
    scaled = np.rint(np.clip(clean, -1.0, 1.0) * PCM16_MAX)
    return scaled.astype("<i2").tobytes()
