"""Session settings of a loaded model (issue 7): enrollment sessions are not kept, threads spin only
within a run, glibc is tuned; speaking never loads an enrollment graph (issue 17)."""

from __future__ import annotations

import gc
import sys
import threading
import weakref
from pathlib import Path
from typing import Any

import onnxruntime as ort
import pytest

from tests.support.tiny_models.model_folders import copy_model_folder
from wyoming_server.engine import SynthesisOptions, memory
from wyoming_server.engine.gpt_sovits import model as model_module
from wyoming_server.engine.gpt_sovits.engine import GptSoVitsEngine
from wyoming_server.engine.gpt_sovits.model import ENROLLMENT_GRAPHS, GptSoVitsModel
from wyoming_server.engine.gpt_sovits.prompt import build_voice_prompt
from wyoming_server.engine.gpt_sovits.shared_files import PROMPT_QUANTIZER_FILE
from wyoming_server.engine.onnx import create_session as _REAL_CREATE_SESSION


def test_speaking_sessions_are_kept_and_enrollment_sessions_are_not(tiny_model_v2: Path) -> None:
    model = GptSoVitsModel.load(tiny_model_v2, precision="int8", threads=1)
    assert model.session("t2s_decoder") is model.session("t2s_decoder")
    assert model.session("vits_decoder") is model.session("vits_decoder")
    for graph in ENROLLMENT_GRAPHS:
        if model.has_graph(graph):
            assert model.session(graph) is not model.session(graph), graph


def test_threads_spin_within_a_run_and_stop_after_it(tiny_model_v2: Path) -> None:
    model = GptSoVitsModel.load(tiny_model_v2, precision="int8", threads=1)
    for name in ("t2s_encoder", "t2s_decoder", "t2s_step", "vits_decoder"):
        options = model.session(name).get_session_options()
        assert options.get_session_config_entry("session.intra_op.allow_spinning") == "1", name
        assert options.get_session_config_entry("session.force_spinning_stop") == "1", name
        # Dynamic blocks let the host's timing decide how work is split: not reproducible under load.
        with pytest.raises(RuntimeError, match="does not have configuration"):
            options.get_session_config_entry("session.dynamic_block_base")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator exists on Linux only")
def test_glibc_heap_settings_apply_on_linux() -> None:
    assert memory.use_mmap_for_large_buffers() is True
    assert memory.use_mmap_for_large_buffers() is True  # once per process; later calls just report it
    assert isinstance(memory.trim_heap(), bool)


class _SessionLog:
    """Wraps the model's session factory: which graphs were opened, and weak references to the sessions."""

    def __init__(self) -> None:
        self.opened: list[str] = []
        self.sessions: list[weakref.ref[ort.InferenceSession]] = []

    def __call__(self, path: Path, *args: Any, **kwargs: Any) -> ort.InferenceSession:
        session = _REAL_CREATE_SESSION(path, *args, **kwargs)
        self.opened.append(path.name.split(".")[0])
        self.sessions.append(weakref.ref(session))
        return session




def _enrollment_file(stem: str) -> bool:
    """A graph file only enrolling opens: its stem is an enrollment graph's, the prompt quantizer's or
    the shared HuBERT's."""
    return stem in ENROLLMENT_GRAPHS or stem == PROMPT_QUANTIZER_FILE.split(".")[0] or stem.startswith("hubert-")


@pytest.mark.parametrize("stream_tokens", [True, False], ids=["streamed", "whole"])
@pytest.mark.parametrize("precision", ["int8", "fp32"])
def test_speaking_opens_no_enrollment_graph(
    tiny_model_v2pro: Path,
    reference_clip: tuple[Any, int],
    monkeypatch: pytest.MonkeyPatch,
    precision: str,
    stream_tokens: bool,
) -> None:
    samples, rate_hz = reference_clip
    prompt = build_voice_prompt(samples, rate_hz, "这是一段参考音频。", "zh", GptSoVitsModel.load(tiny_model_v2pro))
    log = _SessionLog()
    monkeypatch.setattr(model_module, "create_session", log)
    engine = GptSoVitsEngine(GptSoVitsModel.load(tiny_model_v2pro, precision=precision, threads=1))  # warms up
    options = SynthesisOptions(seed=1, max_tokens=40, stream_tokens=stream_tokens, language="auto")
    for _ in engine.synthesize("晚饭好了。Dinner is ready, come and eat.", prompt, options, threading.Event()):
        pass
    assert log.opened, "the engine opened no graph through the model"
    assert not [name for name in log.opened if _enrollment_file(name)], log.opened


def test_enrolling_opens_the_prompt_extractor_and_lets_it_go(
    tiny_model_v2pro: Path, reference_clip: tuple[Any, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    samples, rate_hz = reference_clip
    model = GptSoVitsModel.load(tiny_model_v2pro, precision="int8", threads=1)
    log = _SessionLog()
    monkeypatch.setattr(model_module, "create_session", log)
    build_voice_prompt(samples, rate_hz, "这是一段参考音频。", "zh", model)
    assert {"prompt_quantizer", "ref_embedder", "sv_embedder"} <= set(log.opened)
    assert any(name.startswith("hubert-") for name in log.opened), log.opened  # the shared one
    gc.collect()
    alive = [name for name, ref in zip(log.opened, log.sessions, strict=True) if ref() is not None]
    # HuBERT (378 MB at real size) must be gone once the prompt exists; speaking graphs may stay.
    assert not [name for name in alive if _enrollment_file(name)], alive


def test_an_unchanged_model_is_hashed_once_and_a_rewritten_file_again(
    tiny_model_v2: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Switching back to an evicted model must not reread every file (issue 17), yet a changed file is caught."""
    import os

    from wyoming_server.engine.errors import ModelLoadError
    from wyoming_server.engine.gpt_sovits import manifest as manifest_module

    folder = tmp_path / "mum"
    copy_model_folder(tiny_model_v2, folder)
    hashed: list[str] = []
    real_sha256 = manifest_module.sha256_file

    def counting_sha256(path: Path, chunk_bytes: int = 1 << 20) -> str:
        hashed.append(path.name)
        return real_sha256(path, chunk_bytes)

    monkeypatch.setattr(manifest_module, "sha256_file", counting_sha256)
    GptSoVitsModel.load(folder)
    first = len(hashed)
    assert first == len(manifest_module.Manifest.read(folder).files)
    GptSoVitsModel.load(folder)
    assert len(hashed) == first
    graph = folder / "vits_decoder.onnx"
    data = bytearray(graph.read_bytes())
    data[len(data) // 2] ^= 0xFF
    stat = graph.stat()
    graph.write_bytes(bytes(data))
    os.utime(graph, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # the clock may not have ticked
    with pytest.raises(ModelLoadError, match=r"vits_decoder\.onnx does not match its sha256"):
        GptSoVitsModel.load(folder)
    assert hashed[first:] == ["vits_decoder.onnx"]
