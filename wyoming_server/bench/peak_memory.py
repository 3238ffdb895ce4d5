"""Peak resident memory while speaking with one voice, measured in a fresh child process.

The benchmark's own process holds torch and the conversion's leftovers, so the figure comes from
a child that imports only this module and the engine: it loads the INT8 model as the server does, reads
the voice prompt from its npz file, speaks a few sentences (Chinese, English, mixed) and prints
VmRSS/VmHWM after each phase as JSON. This module imports no torch (the child checks).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Final

SENTENCES: Final = (
    "我们一起去公园散步，顺便买点水果和蔬菜回家做饭。",
    "Dinner is ready, please come to the table before it gets cold.",
    "明天早上八点的会议改到Room 3了。",
)
TOKENS_PER_SENTENCE: Final = 150
CHILD_TIMEOUT_S: Final = 900
_CHILD_CODE: Final = (
    "import json, sys; from pathlib import Path; from wyoming_server.bench.peak_memory import child_report; "
    "print(json.dumps(child_report(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4], "
    "sys.argv[5])))"
)
"""The child's whole program: no command line around it, so its imports are the engine's alone."""


def child_report(
    model_dir: Path, prompt_path: Path, threads: int, precision: str, provider: str = "CPUExecutionProvider"
) -> dict[str, Any]:
    """In the child: load the model as the server does, speak, and report VmRSS/VmHWM after each phase."""
    import numpy as np

    from ..engine import SynthesisOptions, VoicePrompt
    from ..engine.gpt_sovits.engine import GptSoVitsEngine
    from ..engine.gpt_sovits.model import GptSoVitsModel
    from .timing import proc_status_mb

    phases: dict[str, dict[str, float]] = {"imports": proc_status_mb()}
    engine = GptSoVitsEngine(GptSoVitsModel.load(model_dir, precision=precision, threads=threads, provider=provider))
    phases["model_loaded"] = proc_status_mb()
    with np.load(prompt_path) as arrays:
        prompt = VoicePrompt.from_npz_dict(dict(arrays))
    options = SynthesisOptions(seed=1, language="auto", max_tokens=TOKENS_PER_SENTENCE)
    audio_s = 0.0
    for index, sentence in enumerate(SENTENCES):
        for chunk in engine.synthesize(sentence, prompt, options, threading.Event()):
            audio_s += chunk.samples.size / chunk.rate_hz
        phases[f"sentence_{index + 1}"] = proc_status_mb()
    return {
        "phases": phases,
        "peak_mb": phases[f"sentence_{len(SENTENCES)}"].get("VmHWM", float("nan")),
        "audio_s": audio_s,
        "torch_imported": "torch" in sys.modules,
        "precision": precision,
        "threads": threads,
    }


def measure_peak_rss(
    model_dir: Path, prompt_path: Path, threads: int, precision: str = "int8", provider: str = "CPUExecutionProvider"
) -> dict[str, Any]:
    """Run the child and return its JSON report; raises RuntimeError with its stderr on failure."""
    command = [sys.executable, "-c", _CHILD_CODE, str(model_dir), str(prompt_path), str(threads), precision, provider]
    done = subprocess.run(command, capture_output=True, text=True, timeout=CHILD_TIMEOUT_S, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the memory probe failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report
