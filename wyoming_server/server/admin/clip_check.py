"""Checking an uploaded reference clip from its header, before anything decodes it.

Enrollment decodes the clip and runs the reference encoder on it: heavy work. A clip an hour
long, or a small FLAC whose header promises hours of 192 kHz audio, must be refused before
that, from what the header says (libsndfile reads only the header here). The magic bytes
alone are not enough either: a text file starting with `RIFF....WAVE` is not a clip.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Final

from .errors import ApiError

ACCEPTED_FORMATS: Final = frozenset({"WAV", "WAVEX", "RF64", "FLAC", "OGG", "MP3"})
"""libsndfile's names for WAV, FLAC, OGG (Vorbis/Opus) and MP3."""
MAX_SAMPLES_PER_S: Final = 96_000 * 2
"""Decoded samples (frames x channels) per second of the longest clip: 96 kHz stereo."""


@dataclass(frozen=True, slots=True)
class ClipInfo:
    """What the clip's header says."""

    duration_s: float
    rate_hz: int
    channels: int
    format: str


def check_clip(audio: bytes, max_seconds: float) -> ClipInfo:
    """The clip's header facts; `ApiError` 415 when it is not readable audio, 413 when too long or too big.

    Blocking (libsndfile): call it from a worker thread.
    """
    import soundfile

    try:
        info = soundfile.info(io.BytesIO(audio))
    except (RuntimeError, ValueError, TypeError, OverflowError, EOFError, OSError):
        # soundfile.LibsndfileError is a RuntimeError.
        raise ApiError(
            415, "unsupported-media", "the audio file is damaged or is not a WAV, FLAC, OGG or MP3 file"
        ) from None
    if info.format not in ACCEPTED_FORMATS:
        raise ApiError(415, "unsupported-media", "the audio must be a WAV, FLAC, OGG or MP3 file")
    if info.samplerate <= 0 or info.channels <= 0 or info.frames <= 0:
        raise ApiError(415, "unsupported-media", "the audio file holds no audio")
    duration_s = info.frames / info.samplerate
    if duration_s > max_seconds:
        raise ApiError(
            413,
            "too-large",
            f"the clip is {duration_s:.1f} s long; at most {max_seconds:g} s is accepted "
            "(a clean 3 to 10 second clip is best: trim it before uploading)",
        )
    if info.frames * info.channels > max_seconds * MAX_SAMPLES_PER_S:
        raise ApiError(
            413,
            "too-large",
            f"the clip has too many samples ({info.samplerate} Hz, {info.channels} channels); "
            "send mono or stereo at 48 kHz or less",
        )
    return ClipInfo(duration_s=duration_s, rate_hz=info.samplerate, channels=info.channels, format=info.format)
