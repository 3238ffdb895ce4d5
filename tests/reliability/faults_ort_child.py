"""Child for the fault tests: `edge-tts-clone` whose onnxruntime fails to create chosen sessions.

    EDGE_TTS_CLONE_FAULT_ORT=<file> python -m tests.reliability.faults_ort_child serve ...

While <file> exists, creating an `InferenceSession` for a model path that contains the file's
text raises what onnxruntime raises when it cannot allocate, so a test switches the fault on and
off under a running server. Everything else is the real command.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import onnxruntime as ort

from wyoming_server.cli import main as cli_main

TRIGGER_ENV = "EDGE_TTS_CLONE_FAULT_ORT"
_REAL_SESSION = ort.InferenceSession


def _session(path: Any, *args: Any, **kwargs: Any) -> Any:
    trigger = Path(os.environ[TRIGGER_ENV])
    if trigger.exists() and trigger.read_text(encoding="utf-8") in str(path):
        raise RuntimeError(
            "[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : Exception during initialization: "
            "injected: failed to allocate memory"
        )
    return _REAL_SESSION(path, *args, **kwargs)


if __name__ == "__main__":
    ort.InferenceSession = _session  # the fault: model.py looks the class up at call time
    sys.exit(cli_main(sys.argv[1:]))
