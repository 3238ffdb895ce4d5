"""The engine's token-chunk streaming and sentence batching on the tiny converted model."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from wyoming_server.engine import AudioChunk, SynthesisCancelled, SynthesisOptions, VoicePrompt
from wyoming_server.engine.gpt_sovits import text
from wyoming_server.engine.gpt_sovits.bert import BertFeaturizer
from wyoming_server.engine.gpt_sovits.engine import (
    GptSoVitsEngine,
    StreamGain,
    batch_groups,
    finish_sentence,
    noise_rng,
    sentence_rng,
)
from wyoming_server.engine.gpt_sovits.model import GptSoVitsModel
from wyoming_server.engine.gpt_sovits.prompt import build_voice_prompt
from wyoming_server.engine.gpt_sovits.sovits import SovitsDecoder
from wyoming_server.engine.gpt_sovits.streaming import FrameNoise, StreamingSentence
from wyoming_server.engine.gpt_sovits.t2s import T2SDecoder

RATE_HZ = 32000
SPT = 1280
TEXT = "今天天气很好，我们一起去公园散步吧。晚饭已经准备好了。Dinner is ready, everyone!"
TOKENS = 70


class Stages:
    """The engine's stages built separately, to compute what the engine must yield."""

    def __init__(self, model: GptSoVitsModel) -> None:
        self.t2s = T2SDecoder(model)
        self.vits = SovitsDecoder(model)
        self.bert = BertFeaturizer(model)

    def inputs(
        self, sentence: str, prompt: VoicePrompt
    ) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float32]]:
        phones = text.to_phones(sentence, "auto")
        return (
            phones.ids,
            np.concatenate([prompt.phones, phones.ids]),
            np.concatenate([prompt.bert, self.bert.features(phones)], axis=1),
        )


@pytest.fixture(scope="module", params=["fp32", "int8"])
def setup(
    request: pytest.FixtureRequest, tiny_model_v2: Path, reference_clip: tuple[Any, int]
) -> tuple[GptSoVitsEngine, VoicePrompt, Stages, str]:
    model = GptSoVitsModel.load(tiny_model_v2, precision=request.param)
    samples, rate_hz = reference_clip
    prompt = build_voice_prompt(samples, rate_hz, "这是一段参考音频。", "zh", model)
    return GptSoVitsEngine(model), prompt, Stages(model), request.param


def _by_sentence(chunks: list[AudioChunk]) -> list[list[AudioChunk]]:
    sentences: list[list[AudioChunk]] = [[]]
    for chunk in chunks:
        sentences[-1].append(chunk)
        if chunk.sentence_end:
            sentences.append([])
    assert sentences[-1] == []
    return sentences[:-1]


def test_batch_groups_put_the_first_sentence_alone_and_bound_the_phones() -> None:
    assert list(batch_groups([], 3, 100)) == []
    assert list(batch_groups([10], 3, 100)) == [[0]]
    assert list(batch_groups([10] * 6, 3, 100)) == [[0], [1, 2, 3], [4, 5]]
    assert list(batch_groups([10] * 3, 1, 100)) == [[0], [1], [2]]
    assert list(batch_groups([10, 60, 30, 20, 90, 5, 200], 3, 100)) == [[0], [1, 2], [3], [4, 5], [6]]


def test_batch_groups_come_as_soon_as_they_are_complete() -> None:
    read: list[int] = []

    def counts() -> Iterator[int]:
        for index in range(7):
            read.append(index)
            yield 10

    groups = batch_groups(counts(), 3, 100)
    assert next(groups) == [0] and read == [0]
    assert next(groups) == [1, 2, 3] and read == [0, 1, 2, 3]


def test_stream_gain_only_ever_comes_down() -> None:
    gain = StreamGain()
    quiet = np.full(1000, 0.5, np.float32)
    assert gain.apply(quiet) is quiet
    loud = np.full(1000, 0.4, np.float32)
    loud[900] = 2.0
    limited = gain.apply(loud)
    # ramps from the old gain (1) to 1/peak over 10 ms instead of jumping
    assert (
        limited[0] == pytest.approx(0.4) and limited[500] == pytest.approx(0.2) and limited[900] == pytest.approx(1.0)
    )
    assert np.all(np.diff(limited[:320]) <= 0) and np.max(np.abs(limited)) <= 1.0
    assert gain.gain == pytest.approx(0.5)
    np.testing.assert_allclose(gain.apply(quiet), quiet * 0.5)


def test_whole_sentences_reproduce_the_stage_by_stage_pipeline(
    setup: tuple[GptSoVitsEngine, VoicePrompt, Stages, str],
) -> None:
    """stream_tokens=False, one sentence at a time: exactly the pre-streaming engine's audio."""
    engine, prompt, stages, _ = setup
    options = SynthesisOptions(seed=5, max_tokens=TOKENS, stream_tokens=False, batch_sentences=1)
    chunks = list(engine.synthesize(TEXT, prompt, options))
    sentences = text.split_sentences(TEXT, "auto")
    assert len(chunks) == len(sentences) >= 3
    for index, (chunk, sentence) in enumerate(zip(chunks, sentences, strict=True)):
        phones, phones_all, bert_all = stages.inputs(sentence, prompt)
        rng = sentence_rng(5, index)
        tokens = stages.t2s.generate(phones_all, bert_all, prompt.semantic, options, rng)
        wave = stages.vits.decode(tokens, phones, prompt.ge, 1.0, options.noise_scale, rng)
        np.testing.assert_array_equal(chunk.samples, finish_sentence(wave, options.sentence_silence_s, RATE_HZ))
        assert chunk.sentence_end and chunk.text == sentence and chunk.is_last == (index == len(sentences) - 1)


@pytest.mark.parametrize("stream_tokens", [False, True])
def test_batched_sentences_equal_one_by_one_in_fp32(
    setup: tuple[GptSoVitsEngine, VoicePrompt, Stages, str], stream_tokens: bool
) -> None:
    engine, prompt, _, precision = setup
    runs = [
        _by_sentence(
            list(
                engine.synthesize(
                    TEXT,
                    prompt,
                    SynthesisOptions(seed=2, max_tokens=TOKENS, stream_tokens=stream_tokens, batch_sentences=b),
                )
            )
        )
        for b in (1, 3)
    ]
    assert len(runs[0]) == len(runs[1]) == len(text.split_sentences(TEXT, "auto")) >= 3
    # INT8 batches may draw other tokens (dynamic quantization scales activations over the batch);
    # the first sentence is always decoded alone, so it never depends on batching.
    compared = runs[0] if precision == "fp32" else runs[0][:1]
    for one, batched in zip(compared, runs[1], strict=False):
        assert len(one) == len(batched)
        for a, b in zip(one, batched, strict=True):
            np.testing.assert_array_equal(a.samples, b.samples)


def test_streamed_chunks_are_the_streaming_decode_of_the_sentence_tokens(
    setup: tuple[GptSoVitsEngine, VoicePrompt, Stages, str],
) -> None:
    """Same tokens as T2S alone, same per-frame noise, chunk by chunk as StreamingSentence cuts them."""
    engine, prompt, stages, _ = setup
    # One sentence at a time: INT8 batches may draw other tokens than T2S alone (see the batch test).
    options = SynthesisOptions(seed=3, max_tokens=TOKENS, batch_sentences=1)
    chunks = list(engine.synthesize(TEXT, prompt, options))
    sentences = text.split_sentences(TEXT, "auto")
    grouped = _by_sentence(chunks)
    assert len(grouped) == len(sentences)
    assert [c.is_last for c in chunks] == [False] * (len(chunks) - 1) + [True]
    silence = round(options.sentence_silence_s * RATE_HZ)
    for index, (sentence_chunks, sentence) in enumerate(zip(grouped, sentences, strict=True)):
        phones, phones_all, bert_all = stages.inputs(sentence, prompt)
        tokens = stages.t2s.generate(phones_all, bert_all, prompt.semantic, options, sentence_rng(3, index))
        plan = engine.plan if index == 0 else engine.plan.later()
        if index == 0:
            assert tokens.size > plan.first_tokens + plan.lookahead_tokens  # so the test really streams
        reference = StreamingSentence(
            stages.vits,
            phones,
            prompt.ge,
            FrameNoise(stages.vits.inter_channels, options.noise_scale, noise_rng(3, index)),
            plan,
        )
        gain = StreamGain()
        expected = []
        for token in tokens.tolist():  # pushed one by one, each chunk taken once ready, as the engine does
            reference.push(token)
            while reference.ready():
                expected.append(gain.apply(reference.next_chunk()))
        reference.finish()
        while reference.ready():
            expected.append(gain.apply(reference.next_chunk()))
        assert reference.done
        expected[-1] = np.concatenate([expected[-1], np.zeros(silence, np.float32)])
        assert len(sentence_chunks) >= 2 or tokens.size <= plan.first_tokens + plan.lookahead_tokens
        assert all(c.text == sentence for c in sentence_chunks)
        for got, want in zip(sentence_chunks, expected, strict=True):
            np.testing.assert_array_equal(got.samples, want)
        assert sum(c.samples.size for c in sentence_chunks) == tokens.size * SPT + silence


def test_stop_event_mid_sentence_while_streaming(setup: tuple[GptSoVitsEngine, VoicePrompt, Stages, str]) -> None:
    engine, prompt, _, _ = setup
    stop = threading.Event()
    chunks = engine.synthesize(TEXT, prompt, SynthesisOptions(seed=3, max_tokens=TOKENS), stop)
    first = next(chunks)
    assert not first.sentence_end  # still inside the first sentence
    stop.set()
    with pytest.raises(SynthesisCancelled):
        next(chunks)


def test_other_speeds_decode_whole_sentences(setup: tuple[GptSoVitsEngine, VoicePrompt, Stages, str]) -> None:
    engine, prompt, _, _ = setup
    runs = [
        list(engine.synthesize(TEXT, prompt, SynthesisOptions(seed=4, max_tokens=TOKENS, speed=1.25, stream_tokens=s)))
        for s in (True, False)
    ]
    assert all(c.sentence_end for c in runs[0])
    for streamed, whole in zip(*runs, strict=True):
        np.testing.assert_array_equal(streamed.samples, whole.samples)
