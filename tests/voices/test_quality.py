"""The quality gate: each refusal reason with a generated clip, every format, --force, ref-free."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray

from tests.support.voices import request, stock_speech, to_wav
from wyoming_server.voices.folder_library import FolderLibrary
from wyoming_server.voices.library import EnrollmentRejected
from wyoming_server.voices.quality import analyze, decide, decode_audio

Clip = tuple[NDArray[np.float32], int]


def _rejection(store: FolderLibrary, audio: bytes, **fields: object) -> EnrollmentRejected:
    with pytest.raises(EnrollmentRejected) as caught:
        store.enroll(request(audio, **fields))
    assert caught.value.report["accepted"] is False
    assert not store.voices()[0].id.startswith("mum")  # nothing was written
    return caught.value


def _noise(count: int, level: float, seed: int = 0) -> NDArray[np.float32]:
    rng = np.random.default_rng(seed)
    return (level * rng.standard_normal(count)).astype(np.float32)


def test_clean_speech_passes_with_plausible_measures(speech: Clip) -> None:
    clip = decode_audio(to_wav(*speech))
    trimmed, report = analyze(clip)
    decide(report, force=False)
    assert report.accepted and report.reasons == [] and report.warnings == []
    assert 0.0 < report.trim_start_s < 0.4  # the leading 0.4 s of silence was trimmed (50 ms margin kept)
    assert 4.0 < report.duration_s < clip.samples.shape[0] / clip.rate_hz - 0.6
    assert report.snr_db > 30.0
    assert report.clipping_ratio == 0.0
    assert -30.0 < report.loudness_lufs < -10.0
    assert report.speech_ratio > 0.6
    assert trimmed.shape[0] == round(report.duration_s * clip.rate_hz)


@pytest.mark.parametrize(("fmt", "channels"), [("WAV", 2), ("FLAC", 1), ("OGG", 1), ("MP3", 1)])
def test_formats_and_channels_decode_to_mono(speech: Clip, fmt: str, channels: int) -> None:
    clip = decode_audio(to_wav(*speech, fmt=fmt, channels=channels))
    assert clip.samples.ndim == 1 and clip.channels == channels and clip.rate_hz == speech[1]
    # MP3 adds encoder delay/padding; the others are sample-exact in length.
    assert abs(clip.samples.shape[0] - speech[0].shape[0]) <= (3000 if fmt == "MP3" else 0)
    _, report = analyze(clip)
    decide(report, force=False)
    assert report.accepted, report.reasons


def test_enrollment_from_mp3_at_another_rate(store: FolderLibrary, speech: Clip) -> None:
    from wyoming_server.engine.audio import resample

    samples = resample(speech[0], speech[1], 44100)
    pack, report = store.enroll(request(to_wav(samples, 44100, fmt="MP3")))
    assert report["accepted"] and report["sample_rate_hz"] == 44100 and pack.id == "mum"


def test_sine_is_not_speech(store: FolderLibrary) -> None:
    rate = 16000
    t = np.arange(5 * rate) / rate
    sine = (0.5 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    rejected = _rejection(store, to_wav(sine, rate))
    assert rejected.report["reasons"] == ["not speech: the clip is a steady tone or hum, not a voice"]


def test_noise_is_refused(store: FolderLibrary) -> None:
    rejected = _rejection(store, to_wav(_noise(5 * 16000, 0.1), 16000))
    assert rejected.report["reasons"] == ["only noise: the clip is a steady hiss with no speech in it"]


def test_noisy_speech_is_refused(store: FolderLibrary, speech: Clip) -> None:
    samples, rate = speech
    rms = float(np.sqrt(np.mean(samples**2)))
    noisy = (0.5 * (samples + _noise(samples.shape[0], rms))).astype(np.float32)
    rejected = _rejection(store, to_wav(noisy, rate))
    (reason,) = rejected.report["reasons"]
    assert reason.startswith("too noisy: speech is only ") and "record in a quieter room" in reason
    assert rejected.report["snr_db"] < 12.0


def test_mostly_pauses_is_too_little_speech(store: FolderLibrary) -> None:
    word, rate = stock_speech("Yes.")
    pause = _noise(4 * rate, 1e-3)  # a quiet room between two words
    rejected = _rejection(store, to_wav(np.concatenate([word, pause, word]), rate))
    (reason,) = rejected.report["reasons"]
    assert reason.startswith("too little speech: only ") and "--start/--end" in reason
    assert rejected.report["speech_ratio"] < 0.3


def test_clipped_speech_is_refused(store: FolderLibrary, speech: Clip) -> None:
    samples, rate = speech
    clipped = np.clip(samples * 8.0, -1.0, 1.0).astype(np.float32)
    rejected = _rejection(store, to_wav(clipped, rate))
    (reason,) = rejected.report["reasons"]
    assert reason.startswith("clipped: ") and rejected.report["clipping_ratio"] > 0.005


def test_silence_is_refused_even_with_force(store: FolderLibrary) -> None:
    rejected = _rejection(store, to_wav(np.zeros(5 * 16000, dtype=np.float32), 16000), force=True)
    assert rejected.report["reasons"] == [
        "the recording is silent (nothing louder than -50 dBFS); check the microphone"
    ]


def test_two_seconds_is_too_short(store: FolderLibrary, speech: Clip) -> None:
    samples, rate = stock_speech("Dinner is ready.")
    assert samples.shape[0] / rate < 2.5
    rejected = _rejection(store, to_wav(samples, rate))
    (reason,) = rejected.report["reasons"]
    assert reason.startswith("too short: ") and "it must be 3-10 s" in reason


def test_twelve_seconds_is_too_long_and_start_end_fixes_it(store: FolderLibrary, speech: Clip) -> None:
    samples, rate = speech
    long_clip = np.concatenate([samples, samples, samples])[: 12 * rate]
    rejected = _rejection(store, to_wav(long_clip, rate), force=True)
    (reason,) = rejected.report["reasons"]
    assert reason.startswith("too long: ") and "--start/--end" in reason
    _pack, report = store.enroll(request(to_wav(long_clip, rate), start_s=0.0, end_s=5.8))
    assert report["accepted"] and 3.0 <= report["duration_s"] <= 5.8


def test_corrupt_bytes_are_unreadable(store: FolderLibrary, good_wav: bytes) -> None:
    unreadable = "the audio file cannot be read: it is damaged or is not a WAV, FLAC, OGG or MP3 file"
    cases = ((b"", "the audio file is empty"), (b"not audio at all" * 100, unreadable), (good_wav[:40], unreadable))
    for corrupt, reason in cases:
        assert _rejection(store, corrupt, force=True).report["reasons"] == [reason]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"consent": ""}, "consent is required"),
        ({"consent": "   "}, "consent is required"),
        ({"text": "!!! ??? 123"}, "the transcript has nothing pronounceable"),
        ({"text": "a" * 401}, "the transcript is longer than 400 characters"),
        ({"name": " "}, "a display name is required"),
        ({"language": "english!"}, "is not a language code"),
        ({"style": "Calm Voice"}, "style name 'Calm Voice' must be"),
    ],
)
def test_request_problems_refuse_even_with_force(
    store: FolderLibrary, good_wav: bytes, fields: dict[str, str], expected: str
) -> None:
    rejected = _rejection(store, good_wav, force=True, **fields)
    assert any(expected in reason for reason in rejected.report["reasons"]), rejected.report["reasons"]


def test_force_accepts_a_weak_clip_and_keeps_the_warning(store: FolderLibrary, speech: Clip) -> None:
    samples, rate = speech
    clipped = np.clip(samples * 8.0, -1.0, 1.0).astype(np.float32)
    pack, report = store.enroll(request(to_wav(clipped, rate), force=True))
    assert report["accepted"] and report["reasons"] == []
    assert len(report["warnings"]) == 1 and report["warnings"][0].startswith("accepted with --force: clipped")
    assert pack.style(None).quality["warnings"] == report["warnings"]


def test_ref_free_enrollment_is_marked_lower_quality(store: FolderLibrary, good_wav: bytes) -> None:
    pack, report = store.enroll(request(good_wav, text=""))
    assert report["ref_free"] is True
    assert any("ref-free" in warning for warning in report["warnings"])
    style = pack.style(None)
    assert style.ref_free and style.reference_text == ""
    prompt = store.prompt(pack, None)
    assert prompt is not None and prompt.ref_free
