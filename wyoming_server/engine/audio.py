"""Audio helpers shared by the engine, enrollment and the server (pure numpy + soundfile)."""

from __future__ import annotations

import io
from typing import Final

import numpy as np
import soundfile
from numpy.typing import NDArray

from .errors import ReferenceAudioError

PCM16_MAX: Final = 32767
"""Largest int16 sample; float 1.0 maps to it (and -1.0 to -32767, keeping the scale symmetric)."""
PCM16_WIDTH_BYTES: Final = 2


def read_audio(data: bytes, name: str = "audio") -> tuple[NDArray[np.float32], int]:
    """Decode WAV/FLAC/OGG/MP3 bytes to mono float32 and its rate; ReferenceAudioError if unreadable."""
    if not data:
        raise ReferenceAudioError(f"{name} is empty")
    try:
        samples, rate_hz = soundfile.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, TypeError, ValueError) as err:
        raise ReferenceAudioError(f"{name} is not a readable audio file (WAV, FLAC, OGG or MP3): {err}") from err
    if samples.size == 0:
        raise ReferenceAudioError(f"{name} contains no audio")
    return samples.mean(axis=1).astype(np.float32), int(rate_hz)


def float_to_pcm16(samples: NDArray[np.float32]) -> bytes:
    """Mono float samples in [-1, 1] to little-endian int16 bytes.

    Values outside the range are clipped (a loud model output must not wrap around into a
    click), NaN becomes silence and +/-inf the extremes, and values are rounded to nearest.
    """
    clean = np.nan_to_num(np.asarray(samples, dtype=np.float32), nan=0.0, posinf=1.0, neginf=-1.0)
    scaled = np.rint(np.clip(clean, -1.0, 1.0) * PCM16_MAX)
    return scaled.astype("<i2").tobytes()
