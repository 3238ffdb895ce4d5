"""A runtime install (`pip install edge-tts-clone`, no `[convert]` extra) has no torch or onnx.

Each CLI command runs in a child process where importing torch or onnx fails, as on such an
install; the commands that only speak or serve must work, and the converter's must say what to
install instead of crashing with a traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import soundfile as sf

_BLOCKED_RUN = textwrap.dedent(
    """
    import importlib.abc, sys

    class NoConverterPackages(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in ("torch", "onnx"):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, NoConverterPackages())
    from wyoming_server.cli import main
    code = main(sys.argv[1:])
    assert "torch" not in sys.modules and "onnx" not in sys.modules
    sys.exit(code)
    """
)


def _run_without_torch(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    return subprocess.run(
        [sys.executable, "-c", _BLOCKED_RUN, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_say_speaks_with_the_stock_voice_without_torch(tmp_path: Path) -> None:
    done = _run_without_torch(
        "say", "--data-dir", str(tmp_path / "data"), "--text", "Dinner is ready.", "-o", "out.wav", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    audio, rate = sf.read(tmp_path / "out.wav")
    assert rate == 22050 and len(audio) > rate // 2


def test_serve_help_and_voices_list_work_without_torch(tmp_path: Path) -> None:
    assert _run_without_torch("serve", "--help", cwd=tmp_path).returncode == 0
    listed = _run_without_torch("voices", "list", "--data-dir", str(tmp_path / "data"), cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "joe" in listed.stdout


def test_convert_without_torch_says_what_to_install(tmp_path: Path) -> None:
    done = _run_without_torch(
        "convert", "--gpt", "g.ckpt", "--sovits", "s.pth", "--hubert", "h", "--out", "m", cwd=tmp_path
    )
    assert done.returncode != 0
    assert "edge-tts-clone[convert]" in done.stderr + done.stdout
    assert "Traceback" not in done.stderr
