"""The engine reads a sentence with the request's pronunciation dictionary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from wyoming_server.engine import SynthesisOptions
from wyoming_server.engine.gpt_sovits import text
from wyoming_server.engine.gpt_sovits.engine import GptSoVitsEngine
from wyoming_server.engine.gpt_sovits.model import GptSoVitsModel
from wyoming_server.engine.gpt_sovits.prompt import build_voice_prompt
from wyoming_server.engine.gpt_sovits.text import Phones, Pronunciations


def test_the_options_pronunciations_reach_the_frontend(
    tiny_model_v2: Path, reference_clip: tuple[Any, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    samples, rate_hz = reference_clip
    model = GptSoVitsModel.load(tiny_model_v2)
    engine = GptSoVitsEngine(model)
    prompt = build_voice_prompt(samples, rate_hz, "这是一段参考音频。", "zh", model)
    spoken: list[Phones] = []
    real = text.to_phones

    def recording(sentence: str, language: str = "auto", pronunciations: Pronunciations | None = None) -> Phones:
        spoken.append(real(sentence, language, pronunciations))
        return spoken[-1]

    monkeypatch.setattr(text, "to_phones", recording)
    user = Pronunciations.of({"乐乐": ("le4", "le4")})
    for pronunciations in (None, user):
        options = SynthesisOptions(max_tokens=4, seed=1, pronunciations=pronunciations)
        list(engine.synthesize("乐乐该睡觉了。", prompt, options))
    assert [phones.symbols[:4] for phones in spoken] == [("l", "e4", "l", "e5"), ("l", "e4", "l", "e4")]
