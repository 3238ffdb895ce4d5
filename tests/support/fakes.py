"""The one fake `TtsEngine`, and a fake `VoiceLibrary` for server tests: deterministic tones, no models.

By default every sentence becomes a tone whose pitch and length are derived from (voice, style,
text, seed, speed), so a test can compute the exact audio a request must get and check that it got
that and nothing else. Knobs: per-sentence delay, a text marker that makes the engine fail, a gate
that holds synthesis until the test opens it, and events the test can wait on (started, stop
observed); the voice-layer tests choose their own sentence split and sound, and streaming tests
several chunks per sentence. Synthesis honours the stop event like the real engine: it returns early.
"""

from __future__ import annotations

import io
import re
import threading
import wave
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from wyoming_server.engine import AudioChunk, EngineError, SynthesisOptions, VoicePrompt
from wyoming_server.engine.audio import float_to_pcm16
from wyoming_server.voices import library as voice_library
from wyoming_server.voices.library import EnrollmentRejected, EnrollmentRequest, VoiceNotFoundError
from wyoming_server.voices.pack import ConsentRecord, SkippedPack, VoicePack, VoiceStyle

GPT_SOVITS_RATE_HZ: Final = 32000
PIPER_RATE_HZ: Final = 22050
SAMPLES_PER_CHAR: Final = 37
"""Sentence length in samples per character: lengths never line up with 1024-sample chunks."""
FAIL_MARKER: Final = "FAILME"
"""A sentence containing this makes the fake engine raise EngineError."""
REJECT_MARKER: Final = "REJECTME"
"""An enrollment transcript containing this is rejected by the quality gate."""
_SENTENCE_RE: Final = re.compile(r"(?<=[.!?。！？])\s*")


def split_sentences(text: str) -> list[str]:
    """The fake engine's own sentence split (the real engine has a better one)."""
    return [part.strip() for part in _SENTENCE_RE.split(text) if part.strip()]


def tone(voice_key: str, sentence: str, options: SynthesisOptions) -> NDArray[np.float32]:
    """The exact samples the fake engine yields for one sentence."""
    tag = f"{voice_key}|{sentence}|{options.seed}|{options.speed}".encode()
    checksum = zlib.crc32(tag)
    frequency_hz = 110.0 + checksum % 880
    count = int(SAMPLES_PER_CHAR * len(sentence) / options.speed) + 1 + checksum % 97
    phase = np.arange(count, dtype=np.float64) * (2.0 * np.pi * frequency_hz / GPT_SOVITS_RATE_HZ)
    samples = 0.6 * np.sin(phase)
    samples[0] = 1.5  # out of range on purpose: the server must clip, not wrap
    return samples.astype(np.float32)


@dataclass
class Behaviour:
    """What the fake engine does; tests change it while the server runs."""

    delay_s: float = 0.0
    """Wait per sentence (cut short by the stop event)."""
    gate: threading.Event | None = None
    """When set to an Event, every sentence waits for it (or for the stop event)."""
    started: threading.Event = field(default_factory=threading.Event)
    """Set when a synthesis starts."""
    stop_seen: threading.Event = field(default_factory=threading.Event)
    """Set when a synthesis noticed its stop event and returned early."""
    calls: list[tuple[str, str, str]] = field(default_factory=list)
    """(voice id, style, text) of every synthesize call."""
    sentences_done: int = 0
    repeat: int = 1
    """Each sentence's tone is repeated this many times (to make replies large)."""
    active: int = 0
    """Syntheses running right now (in worker threads)."""
    max_active: int = 0
    """The most that ever ran at once."""
    lock: threading.Lock = field(default_factory=threading.Lock)
    warm_up_error: Exception | None = None
    """Raised by the library's warm-up (a default voice whose model is broken)."""
    model_missing: bool = False  # enrolling a new voice answers as on a fresh install: no model to clone with


Splitter = Callable[[str], list[str]]
Sound = Callable[[str, str, SynthesisOptions], NDArray[np.float32]]
"""(voice key, sentence, options) -> the samples of that sentence."""


class FakeEngine:
    """Implements `TtsEngine`: one sound per sentence, in `pieces` chunks (the last has `sentence_end`)."""

    def __init__(
        self,
        voice_key: str,
        behaviour: Behaviour | None = None,
        rate_hz: int = GPT_SOVITS_RATE_HZ,
        *,
        split: Splitter = split_sentences,
        sound: Sound = tone,
        pieces: int = 1,
    ) -> None:
        self.voice_key = voice_key
        self.behaviour = behaviour if behaviour is not None else Behaviour()
        self._rate_hz = rate_hz
        self._split = split
        self._sound = sound
        self._pieces = pieces

    @property
    def sample_rate_hz(self) -> int:
        """Rate of every chunk."""
        return self._rate_hz

    @property
    def languages(self) -> list[str]:
        """Languages it speaks."""
        return ["zh", "en"]

    def render(self, text: str, options: SynthesisOptions) -> list[NDArray[np.float32]]:
        """The samples of every sentence of `text`, as `synthesize` would yield them."""
        return [self._sound(self.voice_key, sentence, options) for sentence in self._split(text)]

    def synthesize(
        self,
        text: str,
        prompt: VoicePrompt | None,
        options: SynthesisOptions,
        stop: threading.Event | None = None,
    ) -> Iterator[AudioChunk]:
        """One chunk per sentence; returns early once `stop` is set."""
        behaviour = self.behaviour
        with behaviour.lock:
            behaviour.active += 1
            behaviour.max_active = max(behaviour.max_active, behaviour.active)
        try:
            yield from self._sentences(text, options, stop or threading.Event())
        finally:
            with behaviour.lock:
                behaviour.active -= 1

    def _sentences(self, text: str, options: SynthesisOptions, stop: threading.Event) -> Iterator[AudioChunk]:
        behaviour = self.behaviour
        behaviour.started.set()
        sentences = self._split(text)
        for index, sentence in enumerate(sentences):
            gate = behaviour.gate
            if gate is not None:
                while not gate.wait(0.01) and not stop.is_set():
                    pass
            if behaviour.delay_s:
                stop.wait(behaviour.delay_s)
            if stop.is_set():
                behaviour.stop_seen.set()
                return
            if FAIL_MARKER in sentence:
                raise EngineError("the fake engine was told to fail on this sentence")
            with behaviour.lock:
                behaviour.sentences_done += 1
            samples = np.tile(self._sound(self.voice_key, sentence, options), behaviour.repeat)
            for piece, part in enumerate(np.array_split(samples, self._pieces)):
                end = piece == self._pieces - 1
                yield AudioChunk(
                    samples=part,
                    rate_hz=self._rate_hz,
                    text=sentence,
                    is_last=end and index == len(sentences) - 1,
                    sentence_end=end,
                )


def expected_pcm(voice_id: str, style: str, text: str, options: SynthesisOptions | None = None) -> bytes:
    """The exact s16le bytes a reply for this request must carry."""
    engine = FakeEngine(f"{voice_id}/{style}", Behaviour())
    return b"".join(float_to_pcm16(samples) for samples in engine.render(text, options or SynthesisOptions()))


def make_pack(
    voice_id: str,
    name: str,
    *,
    kind: str = "gpt-sovits",
    languages: tuple[str, ...] = ("zh", "en"),
    styles: tuple[str, ...] = ("default",),
    builtin: bool = False,
) -> VoicePack:
    """A voice pack as the real registry would list it."""
    quality = {
        "accepted": True,
        "duration_s": 6.2,
        "snr_db": 31.5,
        "clipping_ratio": 0.0,
        "loudness_lufs": -20.5,
        "speech_ratio": 0.8,
        "ref_free": False,
        "warnings": [],
        "reasons": [],
    }
    return VoicePack(
        id=voice_id,
        name=name,
        languages=list(languages),
        kind=kind,  # type: ignore[arg-type]
        model_id="fake-model" if kind == "gpt-sovits" else "en_US-joe-medium",
        styles={
            s: VoiceStyle(
                name=s,
                reference_text=f"{name} says hello",
                reference_language=languages[0],
                quality=dict(quality),
            )
            for s in styles
        },
        default_style=styles[0],
        revision=f"rev-{voice_id}-1",
        created="2026-11-23T10:00:00Z",
        consent=None if builtin else ConsentRecord("I agree", "2026-11-23T10:00:00Z", "cli"),
        attribution="Joe (piper)" if kind == "piper" else "",
        builtin=builtin,
    )


class FakeLibrary:
    """Implements `VoiceLibrary` in memory, with FakeEngine voices."""

    def __init__(self, data_dir: Path, packs: list[VoicePack] | None = None) -> None:
        self.data_dir = data_dir
        self.behaviour = Behaviour()
        self._lock = threading.Lock()
        self._packs: dict[str, VoicePack] = {}
        self._skipped: list[SkippedPack] = []
        self.loaded = 1
        self.warm_ups = 0
        self.enrolled_audio: list[bytes] = []
        default = [
            make_pack("joe", "Joe", kind="piper", languages=("en",), builtin=True),
            make_pack("mum", "Mum", styles=("default", "calm")),
        ]
        for pack in packs if packs is not None else default:
            self._packs[pack.id] = pack

    # --- test helpers ---
    def add(self, pack: VoicePack) -> None:
        """Add a pack as if it had appeared on disk."""
        with self._lock:
            self._packs[pack.id] = pack

    def set_skipped(self, skipped: list[SkippedPack]) -> None:
        """Folders to report as unusable."""
        self._skipped = list(skipped)

    # --- VoiceLibrary ---
    def voices(self) -> list[VoicePack]:
        """Every pack, sorted by id."""
        with self._lock:
            return [self._packs[key] for key in sorted(self._packs)]

    def skipped(self) -> list[SkippedPack]:
        """Unusable folders."""
        return list(self._skipped)

    def resolve(self, voice_id: str | None, language: str | None = None) -> VoicePack:
        """By id, else the first voice for the language, else the built-in one."""
        with self._lock:
            if voice_id is not None:
                if voice_id not in self._packs:
                    raise VoiceNotFoundError(f"no voice {voice_id!r}")
                return self._packs[voice_id]
            packs = [self._packs[key] for key in sorted(self._packs)]
        if language is not None:
            for pack in packs:
                if any(lang.split("_")[0] == language.split("_")[0] for lang in pack.languages):
                    return pack
        for pack in packs:
            if pack.builtin:
                return pack
        if not packs:
            raise VoiceNotFoundError("there are no voices")
        return packs[0]

    def sample_rate_hz(self, pack: VoicePack) -> int:
        """Piper voices at 22050 Hz, GPT-SoVITS voices at 32 kHz."""
        return PIPER_RATE_HZ if pack.kind == "piper" else GPT_SOVITS_RATE_HZ

    def synthesize(
        self,
        pack: VoicePack,
        style: str | None,
        text: str,
        options: SynthesisOptions,
        stop: threading.Event | None = None,
    ) -> Iterator[AudioChunk]:
        """Speak with a FakeEngine for (voice, style)."""
        style_name = style or pack.default_style
        with self.behaviour.lock:
            self.behaviour.calls.append((pack.id, style_name, text))
        engine = FakeEngine(f"{pack.id}/{style_name}", self.behaviour, self.sample_rate_hz(pack))
        return engine.synthesize(text, None, options, stop)

    def enroll(self, request: EnrollmentRequest) -> tuple[VoicePack, dict[str, Any]]:
        """Accept any readable WAV unless the transcript says REJECTME (or no model is installed)."""
        if self.behaviour.model_missing and request.voice_id is None and request.model_id is None:
            message = voice_library.NO_MODEL_MESSAGE
            raise voice_library.NoModelInstalled(message, {"accepted": False, "reasons": [message]})
        try:
            with wave.open(io.BytesIO(request.audio), "rb") as wav:
                duration_s = wav.getnframes() / wav.getframerate()
        except (wave.Error, EOFError) as err:
            raise EnrollmentRejected(
                "the clip is not a readable WAV file",
                {"accepted": False, "reasons": [f"unreadable: {err}"], "warnings": []},
            ) from None
        report: dict[str, Any] = {
            "accepted": True,
            "duration_s": round(duration_s, 2),
            "snr_db": 30.0,
            "clipping_ratio": 0.0,
            "loudness_lufs": -21.0,
            "speech_ratio": 0.9,
            "ref_free": not request.text,
            "warnings": [],
            "reasons": [],
        }
        if REJECT_MARKER in request.text:
            report.update(accepted=False, reasons=["the clip is too short or was marked for rejection"])
            raise EnrollmentRejected("the clip failed the quality checks", report)
        self.enrolled_audio.append(request.audio)
        with self._lock:
            if request.voice_id is not None:
                if request.voice_id not in self._packs:
                    raise VoiceNotFoundError(request.voice_id)
                base = self._packs[request.voice_id]
                pack = replace(
                    base,
                    styles={
                        **base.styles,
                        request.style: VoiceStyle(request.style, request.text, request.language, report),
                    },
                    revision=base.revision + "+",
                )
            else:
                slug = re.sub(r"[^a-z0-9]+", "-", request.name.lower()).strip("-") or "voice"
                voice_id, suffix = slug, 2
                while voice_id in self._packs:
                    voice_id, suffix = f"{slug}-{suffix}", suffix + 1
                pack = replace(
                    make_pack(voice_id, request.name, languages=(request.language,)),
                    styles={request.style: VoiceStyle(request.style, request.text, request.language, report)},
                    default_style=request.style,
                    consent=ConsentRecord(request.consent, "2026-11-23T10:00:00Z", request.recorded_by),
                )
            self._packs[pack.id] = pack
        return pack, report

    def rename(self, voice_id: str, name: str) -> VoicePack:
        """Change the display name."""
        with self._lock:
            if voice_id not in self._packs:
                raise VoiceNotFoundError(voice_id)
            pack = replace(self._packs[voice_id], name=name)
            self._packs[voice_id] = pack
            return pack

    def remove(self, voice_id: str) -> None:
        """Delete a pack (never the built-in one)."""
        with self._lock:
            if voice_id not in self._packs:
                raise VoiceNotFoundError(voice_id)
            if self._packs[voice_id].builtin:
                raise ValueError("the built-in voice cannot be removed")
            del self._packs[voice_id]

    def loaded_models(self) -> int:
        """Pretend one model is loaded."""
        return self.loaded

    def warm_up(self) -> None:
        """Count the calls (the server warms up once, after it is ready)."""
        self.warm_ups += 1
        if self.behaviour.warm_up_error is not None:
            raise self.behaviour.warm_up_error


def wav_bytes(seconds: float, rate_hz: int = 16000) -> bytes:
    """A quiet tone as a WAV file (for enrollment uploads)."""
    count = int(seconds * rate_hz)
    samples = (0.3 * np.sin(np.arange(count) * 2 * np.pi * 220 / rate_hz)).astype(np.float32)
    with io.BytesIO() as buffer:
        with wave.open(buffer, "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(rate_hz)
            wav.writeframes(float_to_pcm16(samples))
        return buffer.getvalue()
