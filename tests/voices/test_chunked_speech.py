"""Engines that stream within a sentence (several chunks per sentence) through the library's watermark."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from tests.support.fakes import FakeEngine
from tests.support.voices import FAKE_RATE_HZ, make_store, request, split_at_periods
from wyoming_server.engine import SynthesisOptions
from wyoming_server.engine.watermark import WatermarkKey, WatermarkStream, embed
from wyoming_server.voices.pool import LoadedModel

KEY = WatermarkKey(bytes(range(32)))
PIECES = 3


def _longer_tone(voice_key: str, sentence: str, options: SynthesisOptions) -> NDArray[np.float32]:
    t = np.arange(int(0.9 * FAKE_RATE_HZ)) / FAKE_RATE_HZ
    return (0.3 * np.sin(2 * np.pi * 180 * t)).astype(np.float32)


def chunking_engine() -> FakeEngine:
    """Speaks each '.'-separated sentence as a 0.9 s tone in three chunks, like token-chunk streaming."""
    return FakeEngine("chunking", rate_hz=FAKE_RATE_HZ, split=split_at_periods, sound=_longer_tone, pieces=PIECES)


def test_library_keeps_sentence_ends_of_streamed_chunks(data_dir: Path, good_wav: bytes) -> None:
    def loader(model_dir: Path, threads: int) -> LoadedModel:
        return LoadedModel(engine=chunking_engine(), model=model_dir.name)

    store = make_store(data_dir, gpt_sovits_loader=loader)
    pack, _ = store.enroll(request(good_wav))
    chunks = list(store.synthesize(pack, None, "One. Two.", SynthesisOptions()))
    assert [c.sentence_end for c in chunks] == [False, False, True] * 2
    assert [c.is_last for c in chunks] == [False] * 5 + [True]
    assert [c.text.strip() for c in chunks] == ["One"] * 3 + ["Two"] * 3
    plain = np.concatenate([c.samples for c in chunking_engine().synthesize("One. Two.", None, SynthesisOptions())])
    marked = np.concatenate([c.samples for c in chunks])
    assert marked.shape == plain.shape and not np.array_equal(marked, plain)


def test_mark_adds_no_step_where_a_sentence_is_cut(speech: tuple[NDArray[np.float32], int]) -> None:
    """Chunk joins inside speech: the marked stream steps no more there than the whole marked clip does."""
    samples, rate = speech
    cuts = [0, int(0.93 * rate), int(1.71 * rate), int(3.05 * rate), samples.shape[0]]
    stream = WatermarkStream(KEY, rate)
    joined = np.concatenate([stream.mark(samples[a:b]) for a, b in pairwise(cuts)])
    whole = embed(samples, rate, KEY)
    for cut in cuts[1:-1]:
        around = slice(cut - 64, cut + 64)
        assert np.max(np.abs(joined[around] - whole[around])) < 0.05 * np.max(np.abs(samples))
        step = abs(float(joined[cut]) - float(joined[cut - 1]))
        assert step <= 1.5 * float(np.max(np.abs(np.diff(whole[around])))) + 1e-3
