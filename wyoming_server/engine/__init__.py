"""The synchronous speech engine: text in, float32 audio out.

Nothing in this package imports asyncio, wyoming, aiohttp or torch. Callers run
`TtsEngine.synthesize` in a worker thread and pass a `threading.Event` to stop it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any, Final, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from .gpt_sovits.text.pronunciations import Pronunciations

from .errors import (
    EngineError,
    ModelLoadError,
    ReferenceAudioError,
    SynthesisCancelled,
    TextError,
    VoicePackError,
)

__all__ = [
    "DEFAULT_BATCH_SENTENCES",
    "DEFAULT_SENTENCE_SILENCE_S",
    "MAX_BATCH_SENTENCES",
    "MAX_T2S_STEPS",
    "AudioChunk",
    "EngineError",
    "ModelLoadError",
    "ReferenceAudioError",
    "SynthesisCancelled",
    "SynthesisOptions",
    "TextError",
    "TtsEngine",
    "VoicePackError",
    "VoicePrompt",
]

MAX_T2S_STEPS: Final = 1500
"""Upstream's cap on generated semantic tokens per sentence (60 s of audio)."""

DEFAULT_SENTENCE_SILENCE_S: Final = 0.3
"""Upstream's `fragment_interval`: silence appended after every sentence."""

MAX_BATCH_SENTENCES: Final = 8
DEFAULT_BATCH_SENTENCES: Final = 3
"""Sentences decoded together by T2S (1 = one by one; docs/engine.md, "Streaming and batching")."""


@dataclass(frozen=True, slots=True)
class SynthesisOptions:
    """Per-request knobs. Defaults are upstream GPT-SoVITS's (TTS.py / api_v2)."""

    seed: int | None = None
    """None draws a fresh seed per request."""
    language: str = "auto"
    """Language of the text: "zh", "en" or "auto" (mixed zh/en split by script)."""
    top_k: int = 15
    top_p: float = 1.0
    temperature: float = 1.0
    repetition_penalty: float = 1.35
    speed: float = 1.0
    """Speaking rate factor: speech and pauses take 1/speed of the time they take at 1.0, the model's own pace."""
    noise_scale: float = 0.5
    """SoVITS prior noise; 0 makes decoding deterministic (and turns off the stock Piper voice's noise)."""
    sentence_silence_s: float = DEFAULT_SENTENCE_SILENCE_S
    """Pause after each sentence at speed 1.0 (see `sentence_pause_s`)."""
    max_tokens: int = MAX_T2S_STEPS
    """Cap on semantic tokens per sentence (tests and benchmarks lower it)."""
    stream_tokens: bool = True
    """Decode a sentence in chunks while its tokens are still generated (several AudioChunks per
    sentence, first audio sooner). False decodes each sentence whole, as upstream does. Engines that
    cannot stream (and speeds other than 1) decode whole sentences."""
    batch_sentences: int = DEFAULT_BATCH_SENTENCES
    """After the first sentence, generate up to this many sentences' tokens in one T2S batch."""
    pronunciations: Pronunciations | None = None
    """The user's fixed readings of names and brands (gpt_sovits.text.pronunciations); GPT-SoVITS only."""

    @property
    def sentence_pause_s(self) -> float:
        """The pause after each sentence at this speed: a pause is part of the speaking rate."""
        return self.sentence_silence_s / self.speed

    def __post_init__(self) -> None:
        if self.top_k < 1:
            raise ValueError("top_k must be at least 1")
        if not 0.0 < self.top_p <= 1.0:
            raise ValueError("top_p must be in (0, 1]")
        if self.temperature <= 0.0:
            raise ValueError("temperature must be positive")
        if not 0.25 <= self.speed <= 4.0:
            raise ValueError("speed must be between 0.25 and 4")
        if self.noise_scale < 0.0:
            raise ValueError("noise_scale must not be negative")
        if not 1 <= self.max_tokens <= MAX_T2S_STEPS:
            raise ValueError(f"max_tokens must be between 1 and {MAX_T2S_STEPS}")
        if not 1 <= self.batch_sentences <= MAX_BATCH_SENTENCES:
            raise ValueError(f"batch_sentences must be between 1 and {MAX_BATCH_SENTENCES}")

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON and cache keys; pronunciations as a digest of their entries."""
        plain = asdict(replace(self, pronunciations=None))
        plain["pronunciations"] = self.pronunciations.digest if self.pronunciations else None
        return plain


@dataclass(frozen=True, slots=True)
class VoicePrompt:
    """Everything about a reference clip that synthesis needs, precomputed at enrollment.

    Stored as `prompt.npz` in a voice pack, so speaking never runs HuBERT.
    """

    phones: NDArray[np.int64]
    """(Nr,) phone ids of the reference transcript; empty for ref-free voices."""
    bert: NDArray[np.float32]
    """(1024, Nr) BERT features of the transcript (zeros where none)."""
    semantic: NDArray[np.int64]
    """(Tp,) prompt semantic tokens of the clip; empty for ref-free voices."""
    ge: NDArray[np.float32]
    """(1, gin, 1) global speaker embedding from the reference embedder."""
    model_id: str = ""
    """The model whose reference embedder produced `ge`."""
    extras: dict[str, NDArray[Any]] = field(default_factory=dict)
    """Further arrays (e.g. `sv_emb` (1, 20480) for v2Pro)."""

    @property
    def ref_free(self) -> bool:
        """True when the clip had no transcript: T2S then runs without a prompt."""
        return self.semantic.size == 0

    def to_npz_dict(self) -> dict[str, NDArray[Any]]:
        """Arrays for `np.savez` (see `from_npz_dict`)."""
        arrays: dict[str, NDArray[Any]] = {
            "phones": self.phones,
            "bert": self.bert,
            "semantic": self.semantic,
            "ge": self.ge,
            "model_id": np.array(self.model_id),
        }
        arrays.update({f"extra_{k}": v for k, v in self.extras.items()})
        return arrays

    @classmethod
    def from_npz_dict(cls, arrays: dict[str, NDArray[Any]]) -> VoicePrompt:
        """Inverse of `to_npz_dict`; raises VoicePackError on missing arrays."""
        try:
            return cls(
                phones=np.asarray(arrays["phones"], dtype=np.int64),
                bert=np.asarray(arrays["bert"], dtype=np.float32),
                semantic=np.asarray(arrays["semantic"], dtype=np.int64),
                ge=np.asarray(arrays["ge"], dtype=np.float32),
                model_id=str(arrays["model_id"]) if "model_id" in arrays else "",
                extras={k[len("extra_"):]: np.asarray(v) for k, v in arrays.items() if k.startswith("extra_")},
            )
        except KeyError as err:
            raise VoicePackError(f"prompt tensors are missing {err.args[0]!r}") from err


@dataclass(frozen=True, slots=True)
class AudioChunk:
    """A piece of audio: a whole sentence, or part of one when the engine streams within sentences.

    A sentence's last chunk carries its trailing silence and `sentence_end=True`.
    """

    samples: NDArray[np.float32]
    """(S,) mono float32 in [-1, 1]."""
    rate_hz: int
    """Hertz"""
    text: str = ""
    """The sentence this audio speaks."""
    is_last: bool = False
    """True for the final chunk of a request."""
    sentence_end: bool = True
    """False for a chunk that more of the same sentence follows (token-chunk streaming)."""

    @property
    def seconds(self) -> float:
        """Duration in seconds."""
        return float(self.samples.shape[0]) / self.rate_hz


@runtime_checkable
class TtsEngine(Protocol):
    """A loaded voice model that turns text into audio, one or more chunks per sentence."""

    @property
    def sample_rate_hz(self) -> int:
        """Rate of every chunk this engine yields."""
        ...

    @property
    def languages(self) -> list[str]:
        """Language codes this engine can speak (e.g. ["zh", "en"])."""
        ...

    def synthesize(
        self,
        text: str,
        prompt: VoicePrompt | None,
        options: SynthesisOptions,
        stop: threading.Event | None = None,
    ) -> Iterator[AudioChunk]:
        """Yield the AudioChunks of each sentence in order; return early once `stop` is set."""
        ...
