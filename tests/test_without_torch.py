"""A runtime install (`pip install edge-tts-clone`, no `[convert]` extra) has no torch.

Each CLI command runs in a child process where importing torch (or what only the `[convert]` extra
brings: sympy, onnxscript) fails, as on such an install. Speaking and serving must work without
even onnx; converting must work too, with the shipped kind of graph templates (here: templates of
the tiny test sizes, made in the parent by the same maker), and end in voices that speak.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import soundfile as sf

from tests.support.tiny_models.checkpoints import TinyCheckpoints
from tests.support.voices import CONSENT, GOOD_TEXT, good_wav, speech
from wyoming_server.models.catalogue import CATALOGUE, HUBERT_DIR, SV_FILE

__all__ = ["good_wav", "speech"]

_BLOCKED_RUN = textwrap.dedent(
    """
    import dataclasses, importlib.abc, os, sys

    class NoConverterPackages(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in ("torch", "sympy", "onnxscript"):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, NoConverterPackages())
    if os.environ.get("TINY_HUBERT"):  # the tiny HuBERT file is not the catalogue's size
        import wyoming_server.models.catalogue as catalogue
        catalogue.HUBERT_FILES = tuple(dataclasses.replace(f, size=None) for f in catalogue.HUBERT_FILES)
    from wyoming_server.cli import main
    code = main(sys.argv[1:])
    assert "torch" not in sys.modules
    if os.environ.get("NO_ONNX"):
        assert "onnx" not in sys.modules, "speaking imported onnx"
    sys.exit(code)
    """
)


def _run_without_torch(*args: str, cwd: Path, **env_flags: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), **env_flags}
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
        "say", "--data-dir", str(tmp_path / "data"), "--text", "Dinner is ready.", "-o", "out.wav", cwd=tmp_path,
        NO_ONNX="1",
    )
    assert done.returncode == 0, done.stderr
    audio, rate = sf.read(tmp_path / "out.wav")
    assert rate == 22050 and len(audio) > rate // 2


def test_serve_help_and_voices_list_work_without_torch(tmp_path: Path) -> None:
    assert _run_without_torch("serve", "--help", cwd=tmp_path, NO_ONNX="1").returncode == 0
    listed = _run_without_torch("voices", "list", "--data-dir", str(tmp_path / "data"), cwd=tmp_path, NO_ONNX="1")
    assert listed.returncode == 0, listed.stderr
    assert "joe" in listed.stdout


def test_converting_with_torch_says_what_to_install(tmp_path: Path) -> None:
    done = _run_without_torch(
        "convert", "--converter", "torch", "--gpt", "g.ckpt", "--sovits", "s.pth", "--hubert", "h", "--out", "m",
        cwd=tmp_path,
    )
    assert done.returncode != 0
    assert "edge-tts-clone[convert]" in done.stderr + done.stdout
    assert "Traceback" not in done.stderr


def _pretrained_folder(tiny: TinyCheckpoints, gpt: Path, root: Path) -> Path:
    """Tiny files where `models download v2pro --from` looks for the released ones."""
    release = CATALOGUE["v2pro"]
    files = {release.gpt.path: gpt, release.sovits.path: tiny.sovits_v2pro, SV_FILE.path: tiny.sv}
    files.update({f"{HUBERT_DIR}/{name}": tiny.hubert / name for name in ("config.json", "preprocessor_config.json",
                                                                         "pytorch_model.bin")})
    for relative, source in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, root / relative)
    return root


def _enroll(data: Path, clip: Path, name: str, cwd: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return _run_without_torch(
        "voices", "add", "--data-dir", str(data), "--name", name, "--audio", str(clip), "--text", GOOD_TEXT,
        "--language", "en", "--consent", CONSENT, *extra, cwd=cwd,
    )


def _speaks(data: Path, voice: str, cwd: Path) -> None:
    out = cwd / f"{voice}-said.wav"
    done = _run_without_torch(
        "say", "--data-dir", str(data), "--voice", voice, "--text", "Dinner is ready.", "-o", str(out), "--seed", "1",
        cwd=cwd,
    )
    assert done.returncode == 0, done.stderr
    audio, rate = sf.read(out)
    assert rate == 32000 and len(audio) >= 11 * 1280 and float(abs(audio).max()) > 0  # 11 tokens at least


@pytest.mark.slow
def test_pretrained_download_and_a_fine_tune_become_speaking_voices_without_torch(
    tiny_checkpoints: TinyCheckpoints, tiny_templates: Path, good_wav: bytes, tmp_path: Path
) -> None:
    from tests.support.tiny_models.t2s import eos_forcing_weights
    from wyoming_server.convert.random_weights.gpt import write_tiny_gpt

    gpt = write_tiny_gpt(tmp_path / "gpt.ckpt", weights=eos_forcing_weights())  # stops after 11 tokens
    clip, data = tmp_path / "mum.wav", tmp_path / "data"
    clip.write_bytes(good_wav)
    source = _pretrained_folder(tiny_checkpoints, gpt, tmp_path / "pretrained")
    done = _run_without_torch(
        "models", "download", "v2pro", "--from", str(source), "--data-dir", str(data), "--templates",
        str(tiny_templates), cwd=tmp_path, TINY_HUBERT="1",
    )
    assert done.returncode == 0, done.stderr
    assert "installed model v2pro" in done.stdout
    assert "converting v2pro [" in done.stderr and "quantizing vits_decoder" in done.stderr  # the progress bar
    manifest = json.loads((data / "models" / "v2pro" / "manifest.json").read_text())
    assert manifest["extra"]["converter"] == "templates" and manifest["version"] == "v2Pro"
    enrolled = _enroll(data, clip, "Mum", tmp_path, "--model", "v2pro")
    assert enrolled.returncode == 0, enrolled.stderr
    _speaks(data, "mum", tmp_path)

    fine_tune = _enroll(
        data, clip, "Dad", tmp_path, "--gpt", str(gpt), "--sovits", str(tiny_checkpoints.sovits_v2),
        "--hubert-dir", str(tiny_checkpoints.hubert), "--templates", str(tiny_templates),
    )
    assert fine_tune.returncode == 0, fine_tune.stderr
    manifest = json.loads((data / "models" / "dad-ft" / "manifest.json").read_text())
    assert manifest["extra"]["converter"] == "templates" and manifest["version"] == "v2"
    _speaks(data, "dad", tmp_path)


def test_a_fine_tune_of_other_sizes_says_what_it_needs_without_torch(
    tiny_checkpoints: TinyCheckpoints, good_wav: bytes, tmp_path: Path
) -> None:
    clip, data = tmp_path / "mum.wav", tmp_path / "data"
    clip.write_bytes(good_wav)
    done = _enroll(
        data, clip, "Mum", tmp_path, "--gpt", str(tiny_checkpoints.gpt), "--sovits", str(tiny_checkpoints.sovits_v2),
        "--hubert-dir", str(tiny_checkpoints.hubert),
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "no graph template" in done.stderr and "edge-tts-clone[convert]" in done.stderr
    assert not (data / "models").exists() or not any((data / "models").iterdir())
