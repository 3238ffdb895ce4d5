"""Benchmark of the whole engine: `GptSoVitsEngine.synthesize` from text to audio, as the server calls it.

Random weights never stop by themselves (the benchmark's GPT cannot emit EOS), so each sentence
runs to `max_tokens`, set to the token count its text would take when spoken.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any, Final

from ..engine import SynthesisOptions, VoicePrompt
from ..engine.gpt_sovits.engine import GptSoVitsEngine
from ..engine.gpt_sovits.manifest import SAMPLE_RATE_HZ, SAMPLES_PER_TOKEN
from ..engine.gpt_sovits.model import GptSoVitsModel
from ..engine.onnx import CPU_PROVIDER
from .timing import best_of

FIRST_AUDIO_TEXT: Final = "今天天气很好，出去走走。"
"""Ten Chinese characters."""
FIRST_AUDIO_TOKENS: Final = 60
"""2.4 s: ten characters at about four per second."""
PIPELINE_TEXT: Final = "我们一起去公园散步，顺便买点水果和蔬菜回家做饭。"
"""One sentence (22 characters, 46 phones), about 6 s spoken."""
PIPELINE_TOKENS: Final = 150
"""6 s at 25 tokens per second."""
REPEATS: Final = 3


def load_engine(model_dir: Path, precision: str, threads: int, provider: str = CPU_PROVIDER) -> GptSoVitsEngine:
    """The engine as the server builds it."""
    return GptSoVitsEngine(GptSoVitsModel.load(model_dir, precision=precision, threads=threads, provider=provider))


def first_audio_s(engine: GptSoVitsEngine, prompt: VoicePrompt, seed: int) -> tuple[float, float]:
    """(wall, CPU) seconds from the call to the first audio chunk of FIRST_AUDIO_TEXT."""
    options = SynthesisOptions(seed=seed, language="zh", max_tokens=FIRST_AUDIO_TOKENS)
    started, cpu_started = time.perf_counter(), time.process_time()
    chunks = engine.synthesize(FIRST_AUDIO_TEXT, prompt, options, threading.Event())
    next(iter(chunks))
    elapsed = time.perf_counter() - started, time.process_time() - cpu_started
    if isinstance(chunks, Generator):
        chunks.close()
    return elapsed


def pipeline_run(engine: GptSoVitsEngine, prompt: VoicePrompt, seed: int) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds, speech seconds) of PIPELINE_TEXT; speech excludes the sentence pause."""
    options = SynthesisOptions(seed=seed, language="zh", max_tokens=PIPELINE_TOKENS, sentence_silence_s=0.0)
    started, cpu_started = time.perf_counter(), time.process_time()
    samples = sum(c.samples.size for c in engine.synthesize(PIPELINE_TEXT, prompt, options, threading.Event()))
    return time.perf_counter() - started, time.process_time() - cpu_started, samples / SAMPLE_RATE_HZ


def engine_figures(engine: GptSoVitsEngine, prompt: VoicePrompt, repeats: int = REPEATS) -> dict[str, Any]:
    """Warm time to first audio and whole-pipeline RTF (best of `repeats`; one untimed warm-up run each)."""
    first_audio_s(engine, prompt, 0)
    pipeline_run(engine, prompt, 0)
    first, runs = [], []
    for seed in range(1, repeats + 1):  # alternating, so a burst of other work spoils one of each
        first.append(first_audio_s(engine, prompt, seed))
        runs.append(pipeline_run(engine, prompt, seed))
    wall = best_of([w for w, _, _ in runs], [c for _, c, _ in runs])
    speech = runs[0][2]
    first_audio = best_of([w for w, _ in first], [c for _, c in first])
    return {
        "first_audio_ms": first_audio.best * 1000.0,
        "first_audio_ms_median": first_audio.median * 1000.0,
        "first_audio_ms_cpu": first_audio.cpu * 1000.0,
        "first_audio_text": FIRST_AUDIO_TEXT,
        "first_audio_tokens": FIRST_AUDIO_TOKENS,
        "pipeline_s": wall.best,
        "pipeline_s_median": wall.median,
        "pipeline_s_cpu": wall.cpu,
        "pipeline_audio_s": speech,
        "pipeline_rtf": wall.best / speech if speech else float("inf"),
        "pipeline_tokens": PIPELINE_TOKENS,
        "expected_audio_s": PIPELINE_TOKENS * SAMPLES_PER_TOKEN / SAMPLE_RATE_HZ,
    }
