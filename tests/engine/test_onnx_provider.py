"""`--provider` (issue 17): CPU by default, another onnxruntime execution provider when the build has it,
and one clear line (no traceback) when it does not."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
import soundfile

from wyoming_server.cli import main as cli_main
from wyoming_server.engine import SynthesisOptions
from wyoming_server.engine.gpt_sovits.engine import GptSoVitsEngine
from wyoming_server.engine.gpt_sovits.model import GptSoVitsModel
from wyoming_server.engine.gpt_sovits.prompt import build_voice_prompt
from wyoming_server.engine.onnx import CPU_PROVIDER, ProviderError, resolve_provider
from wyoming_server.voices.folder_library import open_library

AZURE = "AzureExecutionProvider"
"""In onnxruntime's default CPU build: a second provider that is really there (it runs no ordinary node)."""
REF_TEXT = "这是一段参考音频。"

needs_absent_cuda = pytest.mark.skipif(
    "CUDAExecutionProvider" in ort.get_available_providers(), reason="this onnxruntime has CUDA"
)
needs_azure = pytest.mark.skipif(AZURE not in ort.get_available_providers(), reason="no second provider here")


@pytest.mark.parametrize("name", ["cpu", "CPU", " cpu ", "CPUExecutionProvider", "cpuexecutionprovider"])
def test_cpu_is_always_there(name: str) -> None:
    assert resolve_provider(name) == CPU_PROVIDER


@needs_absent_cuda
def test_an_absent_provider_is_one_line_naming_the_build_to_install() -> None:
    with pytest.raises(ProviderError) as caught:
        resolve_provider("cuda")
    message = str(caught.value)
    assert "\n" not in message
    assert "CUDAExecutionProvider" in message and "onnxruntime-gpu" in message and "--provider cpu" in message


def test_an_unknown_provider_lists_the_known_ones() -> None:
    with pytest.raises(ProviderError, match=r"unknown execution provider.*cuda"):
        resolve_provider("warp-drive")


def test_graphs_run_on_cpu_by_default(tiny_model_v2: Path) -> None:
    model = GptSoVitsModel.load(tiny_model_v2, precision="int8", threads=1)
    assert model.session("t2s_decoder").get_providers() == [CPU_PROVIDER]


def _speak(model: GptSoVitsModel, clip: tuple[Any, int]) -> np.ndarray[Any, Any]:
    samples, rate_hz = clip
    prompt = build_voice_prompt(samples, rate_hz, REF_TEXT, "zh", model)
    options = SynthesisOptions(seed=1, top_k=1, noise_scale=0.0, max_tokens=24)
    chunks = GptSoVitsEngine(model).synthesize("晚饭好了。", prompt, options, threading.Event())
    return np.concatenate([c.samples for c in chunks])


@needs_azure
def test_another_provider_reaches_every_session_and_speaks_as_the_cpu(
    tiny_model_v2: Path, reference_clip: tuple[Any, int]
) -> None:
    on_cpu = GptSoVitsModel.load(tiny_model_v2, precision="int8", threads=1)
    other = GptSoVitsModel.load(tiny_model_v2, precision="int8", threads=1, provider=resolve_provider("azure"))
    # Azure claims no ordinary node, so the CPU runs them all: the same audio proves the fallback order.
    assert np.array_equal(_speak(other, reference_clip), _speak(on_cpu, reference_clip))
    for graph in ("t2s_encoder", "t2s_decoder", "vits_decoder", "prompt_extractor"):
        assert other.session(graph).get_providers() == [AZURE, CPU_PROVIDER], graph


@needs_azure
def test_the_library_loads_models_on_the_provider(tiny_model_v2: Path, tmp_path: Path) -> None:
    library = open_library(tmp_path / "data", provider=AZURE)
    loaded = library._gpt_sovits_loader(tiny_model_v2, 1)
    assert loaded.model is not None
    assert loaded.model.session("t2s_encoder").get_providers() == [AZURE, CPU_PROVIDER]


def _say_args(model: Path, clip: tuple[Any, int], tmp_path: Path, *extra: str) -> list[str]:
    samples, rate_hz = clip
    ref = tmp_path / "ref.wav"
    soundfile.write(ref, samples, rate_hz)
    args = ["say", "--model", str(model), "--ref-audio", str(ref), "--ref-text", REF_TEXT, "--text", "晚饭好了。"]
    return [*args, "--top-k", "1", "--noise-scale", "0", "--max-tokens", "24", "--data-dir", str(tmp_path), *extra]


@needs_absent_cuda
def test_say_with_an_absent_provider_fails_in_one_line_and_cpu_still_speaks(
    tiny_model_v2: Path, reference_clip: tuple[Any, int], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.wav"
    assert cli_main(_say_args(tiny_model_v2, reference_clip, tmp_path, "-o", str(out), "--provider", "cuda")) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: --provider cuda:") and err.count("\n") == 1
    assert not out.exists()
    assert cli_main(_say_args(tiny_model_v2, reference_clip, tmp_path, "-o", str(out), "--provider", "cpu")) == 0
    assert soundfile.info(str(out)).frames > 0


@needs_absent_cuda
@pytest.mark.parametrize(
    "argv",
    [
        ("serve", "--provider", "cuda", "--uri", "tcp://127.0.0.1:0", "--http-port", "0"),
        ("bench", "engine", "--tiny", "--provider", "cuda"),
    ],
    ids=["serve", "bench"],
)
def test_serve_and_bench_refuse_an_absent_provider_at_start(argv: tuple[str, ...], tmp_path: Path) -> None:
    extra = ("--data-dir", str(tmp_path / "data")) if argv[0] == "serve" else ("--out-dir", str(tmp_path / "bench"))
    command = [sys.executable, "-m", "wyoming_server", *argv, *extra]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert "--provider cuda" in lines[0] and "CUDAExecutionProvider" in lines[0]
    assert not (tmp_path / "bench").exists()  # refused before any work
