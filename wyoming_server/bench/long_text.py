"""A long text (2,000 characters) spoken in one request: peak RSS sentence by sentence, at speed 1 and another.

At speed 1 sentences stream in token chunks; at any other speed each is decoded whole, which
used to need about 20 MB more per second of the sentence's audio (the generator's activations).
A fresh child process (the engine only) speaks the text with the benchmark's model; with random
weights the GPT never stops by itself, so every sentence runs to `TOKENS_PER_SENTENCE` tokens (its
text has no punctuation, so sentences are the frontend's longest: 80 syllables). The child reports
VmHWM after each sentence, so growth over the text shows as a rising column.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Final

TEXT_CHARS: Final = 2000
TOKENS_PER_SENTENCE: Final = 500
"""20 s of audio at speed 1: an 80-syllable Chinese sentence takes about that long."""
CHILD_TIMEOUT_S: Final = 3600
_PHRASES: Final = (
    "今天下午三点要去学校接孩子回家然后一起去超市买菜",
    "晚上七点全家人坐在一起吃饭聊天说说这一天发生的事情",
    "明天早上记得带伞出门天气预报说会下大雨还有大风",
    "周末我们打算去郊外的公园野餐顺便看看新开的花展",
)
_CHILD_CODE: Final = (
    "import json, sys; from pathlib import Path; from wyoming_server.bench.long_text import child_report; "
    "print(json.dumps(child_report(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), "
    "int(sys.argv[5]), sys.argv[6])))"
)


def long_text(chars: int = TEXT_CHARS) -> str:
    """`chars` Chinese characters without punctuation (the phrases repeated)."""
    text = ""
    while len(text) < chars:
        text += "".join(_PHRASES)
    return text[:chars]


def child_report(
    model_dir: Path, prompt_path: Path, threads: int, speed: float, chars: int, provider: str
) -> dict[str, Any]:
    """In the child: speak the text in one request, VmRSS/VmHWM after each sentence."""
    import numpy as np

    from ..engine import SynthesisOptions, VoicePrompt
    from ..engine.gpt_sovits.engine import GptSoVitsEngine
    from ..engine.gpt_sovits.model import GptSoVitsModel
    from .timing import proc_status_mb

    engine = GptSoVitsEngine(GptSoVitsModel.load(model_dir, precision="int8", threads=threads, provider=provider))
    loaded = proc_status_mb()
    with np.load(prompt_path) as arrays:
        prompt = VoicePrompt.from_npz_dict(dict(arrays))
    options = SynthesisOptions(seed=1, language="zh", speed=speed, max_tokens=TOKENS_PER_SENTENCE)
    sentences: list[dict[str, float]] = []
    audio_s = 0.0
    started = time.perf_counter()
    for chunk in engine.synthesize(long_text(chars), prompt, options, threading.Event()):
        audio_s += chunk.samples.size / chunk.rate_hz
        if chunk.sentence_end:
            sentences.append({"audio_s": audio_s, **proc_status_mb()})
    return {
        "speed": speed,
        "chars": chars,
        "sentences": sentences,
        "loaded_mb": loaded.get("VmRSS", float("nan")),
        "peak_mb": sentences[-1].get("VmHWM", float("nan")),
        "first_sentence_peak_mb": sentences[0].get("VmHWM", float("nan")),
        "audio_s": audio_s,
        "seconds": time.perf_counter() - started,
        "torch_imported": "torch" in sys.modules,
    }


def measure_long_text(
    model_dir: Path, prompt_path: Path, threads: int, speed: float, chars: int = TEXT_CHARS,
    provider: str = "CPUExecutionProvider",
) -> dict[str, Any]:
    """Run the child; raises RuntimeError with its stderr on failure."""
    command = [sys.executable, "-c", _CHILD_CODE, str(model_dir), str(prompt_path), str(threads), repr(speed),
               str(chars), provider]
    done = subprocess.run(command, capture_output=True, text=True, timeout=CHILD_TIMEOUT_S, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the long-text probe failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def format_long_text(reports: list[dict[str, Any]]) -> str:
    """One line per speed: sentences, audio, peak RSS after the first sentence and at the end."""
    lines = []
    for r in reports:
        lines.append(
            f"speed {r['speed']:g}: {r['chars']} characters, {len(r['sentences'])} sentences, "
            f"{r['audio_s']:.0f} s of audio in {r['seconds']:.0f} s; RSS loaded {r['loaded_mb']:.0f} MB, "
            f"peak after the first sentence {r['first_sentence_peak_mb']:.0f} MB, at the end {r['peak_mb']:.0f} MB"
        )
    return "\n".join(lines)
