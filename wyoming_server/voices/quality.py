"""The one enrollment clip gate: check a clip's header, decode it, trim it, measure it and say in plain
words what is wrong.

The header check comes first, before anything decodes the clip: a clip an hour long, or a small
FLAC whose header promises hours of 192 kHz audio, is refused from what the header says, and magic
bytes alone are not enough (a text file starting with `RIFF....WAVE` is not a clip).

Measures (all on the trimmed mono clip): duration, estimated SNR (loud frames against the noise
floor), clipping ratio (samples at digital full scale), loudness (LUFS, BS.1770), speech ratio
(energy voice-activity detection) and spectral flatness (tells hiss from a steady tone).
Hard problems (unreadable, silent, wrong length) always refuse; weak ones (clipped, noisy, not
speech-like, little speech) refuse unless forced, and then stay in the report as warnings.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import soundfile as sf
from numpy.typing import NDArray

from ..engine.audio import cut, frame_rms_db, integrated_loudness, rms_db, speech_bounds, to_mono
from ..settings import DEFAULT_MAX_UPLOAD_AUDIO_S

ACCEPTED_FORMATS: Final = frozenset({"WAV", "WAVEX", "RF64", "FLAC", "OGG", "MP3"})
"""libsndfile's names for WAV, FLAC, OGG (Vorbis/Opus) and MP3."""
MAX_SAMPLES_PER_S: Final = 96_000 * 2
"""Decoded samples (frames x channels) per second of the longest clip: 96 kHz stereo."""
MIN_REFERENCE_S: Final = 3.0
MAX_REFERENCE_S: Final = 10.0
"""GPT-SoVITS's own limits for a reference clip (checked after trimming silence)."""
SILENT_PEAK_DBFS: Final = -50.0
CLIP_LEVEL: Final = 0.99
"""Samples at or above this magnitude count as clipped."""
MAX_CLIPPING_RATIO: Final = 0.005
MIN_SNR_DB: Final = 12.0
WARN_SNR_DB: Final = 20.0
MAX_SNR_DB: Final = 60.0
"""Estimates are capped: above this the floor is digital silence and the figure means nothing."""
MIN_SPEECH_RATIO: Final = 0.3
STEADY_LEVEL_STD_DB: Final = 2.0
"""Speech rises and falls by syllable; a level this steady is a tone, hum or hiss."""
NOISE_FLATNESS: Final = 0.3
QUIET_LUFS: Final = -40.0
SPEECH_ABOVE_FLOOR_DB: Final = 10.0


class UnreadableAudioError(ValueError):
    """The bytes are not audio this build accepts."""


class ClipTooLongError(UnreadableAudioError):
    """The clip is longer, or holds more samples, than the gate accepts."""


@dataclass(frozen=True, slots=True)
class ClipInfo:
    """What the clip's header says."""

    duration_s: float
    rate_hz: int
    channels: int
    format: str


_UNREADABLE: Final = "the audio file cannot be read: it is damaged or is not a WAV, FLAC, OGG or MP3 file"
_SOUNDFILE_ERRORS: Final = (RuntimeError, ValueError, TypeError, OverflowError, EOFError, OSError)
"""What libsndfile raises for bytes it cannot read (soundfile.LibsndfileError is a RuntimeError)."""


def check_clip(audio: bytes, max_seconds: float = DEFAULT_MAX_UPLOAD_AUDIO_S) -> ClipInfo:
    """The clip's header facts; UnreadableAudioError when it is not an accepted audio file,
    ClipTooLongError when it is too long or too big. Blocking (libsndfile): call it from a worker thread."""
    if not audio:
        raise UnreadableAudioError("the audio file is empty")
    try:
        info = sf.info(io.BytesIO(audio))
    except _SOUNDFILE_ERRORS:
        raise UnreadableAudioError(_UNREADABLE) from None
    return _checked_header(str(info.format), info.samplerate, info.channels, info.frames, max_seconds)


def _checked_header(kind: str, rate_hz: int, channels: int, frames: int, max_seconds: float) -> ClipInfo:
    if kind not in ACCEPTED_FORMATS:
        raise UnreadableAudioError("the audio must be a WAV, FLAC, OGG or MP3 file")
    if rate_hz <= 0 or channels <= 0 or frames <= 0:
        raise UnreadableAudioError("the audio file holds no audio")
    duration_s = frames / rate_hz
    if duration_s > max_seconds:
        raise ClipTooLongError(
            f"the clip is {duration_s:.1f} s long; at most {max_seconds:g} s is accepted "
            "(a clean 3 to 10 second clip is best: trim it before uploading)"
        )
    if frames * channels > max_seconds * MAX_SAMPLES_PER_S:
        raise ClipTooLongError(
            f"the clip has too many samples ({rate_hz} Hz, {channels} channels); "
            "send mono or stereo at 48 kHz or less"
        )
    return ClipInfo(duration_s=duration_s, rate_hz=rate_hz, channels=channels, format=kind)


@dataclass(frozen=True, slots=True)
class DecodedClip:
    """A decoded upload: mono float32 and what it was."""

    samples: NDArray[np.float32]
    """(S,) mono in [-1, 1]"""
    rate_hz: int
    channels: int
    format: str


def decode_audio(data: bytes, max_seconds: float = DEFAULT_MAX_UPLOAD_AUDIO_S) -> DecodedClip:
    """WAV/FLAC/OGG/MP3 bytes (any rate, any channel count) to mono float32, after `check_clip`'s
    header checks (libsndfile, no ffmpeg)."""
    if not data:
        raise UnreadableAudioError("the audio file is empty")
    try:
        with sf.SoundFile(io.BytesIO(data)) as f:
            rate, channels, kind = int(f.samplerate), int(f.channels), str(f.format)
            _checked_header(kind, rate, channels, f.frames, max_seconds)
            frames = f.read(dtype="float32", always_2d=True)
    except _SOUNDFILE_ERRORS as err:
        if isinstance(err, UnreadableAudioError):
            raise
        raise UnreadableAudioError(_UNREADABLE) from err
    if frames.shape[0] == 0:
        raise UnreadableAudioError("the audio file holds no audio")
    samples = to_mono(frames)
    if not np.all(np.isfinite(samples)):
        raise UnreadableAudioError("the audio file holds invalid samples (NaN or infinity)")
    return DecodedClip(samples=samples, rate_hz=rate, channels=channels, format=kind)


@dataclass(slots=True)
class QualityReport:
    """What enrollment measured and decided (the admin API's `Report`)."""

    accepted: bool = False
    duration_s: float = 0.0
    snr_db: float = 0.0
    clipping_ratio: float = 0.0
    loudness_lufs: float = -120.0
    speech_ratio: float = 0.0
    ref_free: bool = False
    warnings: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    """Why the clip was refused (empty when accepted)."""
    weak: list[str] = field(default_factory=list)
    """Refusals `--force` may override (a subset of the problems found)."""
    original_duration_s: float = 0.0
    trim_start_s: float = 0.0
    sample_rate_hz: int = 0
    channels: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON form (stored in voice.json and returned by the admin API)."""
        return {
            "accepted": self.accepted,
            "duration_s": round(self.duration_s, 3),
            "snr_db": round(self.snr_db, 1),
            "clipping_ratio": round(self.clipping_ratio, 5),
            "loudness_lufs": round(self.loudness_lufs, 1),
            "speech_ratio": round(self.speech_ratio, 3),
            "ref_free": self.ref_free,
            "warnings": list(self.warnings),
            "reasons": list(self.reasons),
            "original_duration_s": round(self.original_duration_s, 3),
            "trim_start_s": round(self.trim_start_s, 3),
            "sample_rate_hz": self.sample_rate_hz,
            "channels": self.channels,
        }


def spectral_flatness(samples: NDArray[np.float32], rate_hz: int) -> float:
    """Mean over 32 ms frames of geometric/arithmetic mean power (0.56 for white noise, ~0 for a tone)."""
    frame = max(16, round(rate_hz * 0.032))
    count = samples.shape[0] // frame
    if count == 0:
        return 0.0
    frames = samples[: count * frame].reshape(count, frame) * np.hanning(frame).astype(np.float32)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2 + 1e-12
    loud = power.sum(axis=1) > 1e-6 * power.sum(axis=1).max()
    flatness = np.exp(np.mean(np.log(power[loud]), axis=1)) / np.mean(power[loud], axis=1)
    return float(np.mean(flatness))


def analyze(
    clip: DecodedClip,
    *,
    start_s: float | None = None,
    end_s: float | None = None,
) -> tuple[NDArray[np.float32], QualityReport]:
    """Cut, trim and measure a clip; returns the trimmed samples and the report (not yet decided)."""
    report = QualityReport(
        sample_rate_hz=clip.rate_hz,
        channels=clip.channels,
        original_duration_s=clip.samples.shape[0] / clip.rate_hz,
    )
    samples = clip.samples
    offset_s = 0.0
    if start_s is not None or end_s is not None:
        samples = cut(samples, clip.rate_hz, start_s, end_s)
        offset_s = start_s or 0.0
    peak = float(np.max(np.abs(samples))) if samples.size else 0.0
    if peak == 0.0 or 20.0 * np.log10(peak) < SILENT_PEAK_DBFS:
        report.reasons.append(
            f"the recording is silent (nothing louder than {SILENT_PEAK_DBFS:.0f} dBFS); check the microphone"
        )
        return samples[:0], report
    start, end = speech_bounds(samples, clip.rate_hz)
    trimmed = np.asarray(samples[start:end], dtype=np.float32)
    report.trim_start_s = offset_s + start / clip.rate_hz
    report.duration_s = trimmed.shape[0] / clip.rate_hz
    report.clipping_ratio = float(np.mean(np.abs(trimmed) >= CLIP_LEVEL)) if trimmed.size else 0.0
    report.loudness_lufs = integrated_loudness(trimmed, clip.rate_hz)
    levels = frame_rms_db(trimmed, clip.rate_hz)
    if levels.size:
        floor = float(np.percentile(levels, 10))
        loud = float(np.percentile(levels, 95))
        report.snr_db = min(MAX_SNR_DB, loud - floor)
        active = levels > max(floor + SPEECH_ABOVE_FLOOR_DB, rms_db(trimmed) - 30.0)
        report.speech_ratio = float(np.mean(active))
    _judge(report, trimmed, clip.rate_hz, levels)
    return trimmed, report


def _judge(
    report: QualityReport, trimmed: NDArray[np.float32], rate_hz: int, levels: NDArray[np.float64]
) -> None:
    """Fill `reasons`, `weak` and `warnings` from the measures."""
    hint = "pick the part to keep with --start/--end (seconds)"
    if report.duration_s < MIN_REFERENCE_S:
        report.reasons.append(
            f"too short: {report.duration_s:.1f} s of sound after trimming silence; "
            f"it must be {MIN_REFERENCE_S:g}-{MAX_REFERENCE_S:g} s (record a longer sentence)"
        )
    elif report.duration_s > MAX_REFERENCE_S:
        report.reasons.append(
            f"too long: {report.duration_s:.1f} s of sound after trimming silence; "
            f"it must be {MIN_REFERENCE_S:g}-{MAX_REFERENCE_S:g} s ({hint})"
        )
    weak: list[str] = []
    if report.clipping_ratio > MAX_CLIPPING_RATIO:
        weak.append(
            f"clipped: {report.clipping_ratio:.1%} of samples hit full scale (distorted); "
            "record again a little further from the microphone or with lower input gain"
        )
    steady = levels.size >= 10 and float(np.std(levels[levels > levels.max() - 30.0])) < STEADY_LEVEL_STD_DB
    flatness = spectral_flatness(trimmed, rate_hz) if trimmed.size else 0.0
    if steady and flatness >= NOISE_FLATNESS:
        weak.append("only noise: the clip is a steady hiss with no speech in it")
    elif steady:
        weak.append("not speech: the clip is a steady tone or hum, not a voice")
    elif report.snr_db < MIN_SNR_DB:
        weak.append(
            f"too noisy: speech is only {report.snr_db:.0f} dB above the background "
            f"(needs {MIN_SNR_DB:.0f} dB); record in a quieter room"
        )
    elif report.speech_ratio < MIN_SPEECH_RATIO:
        weak.append(f"too little speech: only {report.speech_ratio:.0%} of the clip is voice; {hint}")
    report.reasons.extend(weak)
    report.weak = weak
    if MIN_SNR_DB <= report.snr_db < WARN_SNR_DB and not steady:
        report.warnings.append(
            f"some background noise (SNR {report.snr_db:.0f} dB); a quieter room sounds better"
        )
    if report.loudness_lufs < QUIET_LUFS:
        report.warnings.append(f"very quiet recording ({report.loudness_lufs:.0f} LUFS)")
    if 0.0 < report.clipping_ratio <= MAX_CLIPPING_RATIO:
        report.warnings.append(f"a few samples clip ({report.clipping_ratio:.2%})")


def decide(report: QualityReport, *, force: bool) -> None:
    """Set `accepted`: no reasons left, or only weak ones and `force` (they then become warnings)."""
    if force and report.reasons and all(reason in report.weak for reason in report.reasons):
        report.warnings.extend(f"accepted with --force: {reason}" for reason in report.reasons)
        report.reasons.clear()
    report.accepted = not report.reasons
