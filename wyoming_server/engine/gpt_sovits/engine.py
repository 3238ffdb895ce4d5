"""`GptSoVitsEngine`: text + voice prompt -> 32 kHz audio, one chunk per sentence.

Stages (each testable alone): text.split_sentences -> text.to_phones -> BertFeaturizer
-> T2SDecoder.generate -> VitsDecoder.decode -> peak limit + sentence silence.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Iterator
from typing import Final

import numpy as np
from numpy.typing import NDArray

from .. import AudioChunk, SynthesisOptions, VoicePrompt, text
from ..errors import SynthesisCancelled, TextError, VoicePackError
from .bert import BertFeaturizer
from .manifest import SAMPLE_RATE_HZ
from .model import GptSoVitsModel
from .t2s import T2SDecoder
from .vits import VitsDecoder

_LOGGER = logging.getLogger(__name__)

LANGUAGES: Final = ["zh", "en"]


def sentence_rng(seed: int, index: int) -> np.random.Generator:
    """One generator per sentence, so a sentence's audio does not depend on the ones before it."""
    return np.random.default_rng([seed, index])


def finish_sentence(wave: NDArray[np.float32], silence_s: float, rate_hz: int) -> NDArray[np.float32]:
    """Upstream's post-processing: scale down only if it clips, then append the pause."""
    peak = float(np.max(np.abs(wave), initial=0.0))
    if peak > 1.0:
        wave = wave / peak
    silence = np.zeros(round(silence_s * rate_hz), dtype=np.float32)
    return np.concatenate([wave.astype(np.float32, copy=False), silence])


class GptSoVitsEngine:
    """A loaded GPT-SoVITS model speaking with precomputed voice prompts."""

    def __init__(self, model: GptSoVitsModel) -> None:
        self.model = model
        self._t2s = T2SDecoder(model)
        self._vits = VitsDecoder(model)
        self._bert = BertFeaturizer(model)

    @property
    def sample_rate_hz(self) -> int:
        """32 kHz for the whole v2 family."""
        return SAMPLE_RATE_HZ

    @property
    def languages(self) -> list[str]:
        """Chinese and English (and both mixed)."""
        return list(LANGUAGES)

    def synthesize(
        self,
        text_in: str,
        prompt: VoicePrompt | None,
        options: SynthesisOptions,
        stop: threading.Event | None = None,
    ) -> Iterator[AudioChunk]:
        """Yield one chunk per sentence; raises SynthesisCancelled when `stop` is set."""
        if prompt is None:
            raise VoicePackError("GPT-SoVITS voices need a reference prompt (enroll the voice first)")
        if prompt.model_id and self.model.model_dir is not None and prompt.model_id != self.model.model_id:
            raise VoicePackError(
                f"this voice was enrolled with model {prompt.model_id!r}, not {self.model.model_id!r}: enroll it again"
            )
        sentences = text.split_sentences(text_in, options.language)
        if not sentences:
            raise TextError("there is nothing to say in this text")
        seed = options.seed if options.seed is not None else secrets.randbits(32)
        for index, sentence in enumerate(sentences):
            if stop is not None and stop.is_set():
                raise SynthesisCancelled("stopped")
            wave = self._speak_sentence(sentence, prompt, options, sentence_rng(seed, index), stop)
            yield AudioChunk(
                samples=finish_sentence(wave, options.sentence_silence_s, SAMPLE_RATE_HZ),
                rate_hz=SAMPLE_RATE_HZ,
                text=sentence,
                is_last=index == len(sentences) - 1,
            )

    def _speak_sentence(
        self,
        sentence: str,
        prompt: VoicePrompt,
        options: SynthesisOptions,
        rng: np.random.Generator,
        stop: threading.Event | None,
    ) -> NDArray[np.float32]:
        started = time.perf_counter()
        phones = text.to_phones(sentence, options.language)
        bert = self._bert.features(phones)
        phones_all = np.concatenate([prompt.phones, phones.ids])
        bert_all = np.concatenate([prompt.bert, bert], axis=1)
        tokens = self._t2s.generate(phones_all, bert_all, prompt.semantic, options, rng, stop)
        if tokens.size == 0:
            # Upstream would decode a lone 0 token here; we say nothing rather than a blip.
            _LOGGER.warning("the model produced no tokens for a sentence; skipping it")
            return np.zeros(0, dtype=np.float32)
        wave = self._vits.decode(tokens, phones.ids, prompt.ge, options.speed, options.noise_scale, rng)
        elapsed = time.perf_counter() - started
        _LOGGER.debug(
            "phones=%d tokens=%d audio=%.2fs took=%.2fs",
            phones.ids.size,
            tokens.size,
            wave.size / SAMPLE_RATE_HZ,
            elapsed,
        )
        return wave
