"""Audio helpers shared by the engine, enrollment and the server (pure numpy + soundfile)."""

from __future__ import annotations

import io

import numpy as np
import soundfile
from numpy.typing import NDArray

from .errors import ReferenceAudioError


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
    """Float in [-1, 1] to little-endian 16-bit PCM, clipping anything outside."""
    clipped = np.clip(samples, -1.0, 1.0)
    return (clipped * 32767.0).round().astype("<i2").tobytes()
