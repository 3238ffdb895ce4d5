"""Session settings of a loaded model (issue 7): enrollment sessions are not kept, only per-token graphs
spin, glibc is tuned."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from wyoming_server.engine import memory
from wyoming_server.engine.gpt_sovits.model import ENROLLMENT_GRAPHS, GptSoVitsModel


def test_speaking_sessions_are_kept_and_enrollment_sessions_are_not(tiny_model_v2: Path) -> None:
    model = GptSoVitsModel.load(tiny_model_v2, precision="int8", threads=1)
    assert model.session("t2s_decoder") is model.session("t2s_decoder")
    assert model.session("vits_decoder") is model.session("vits_decoder")
    for graph in ENROLLMENT_GRAPHS:
        if model.has_graph(graph):
            assert model.session(graph) is not model.session(graph), graph


def test_only_the_per_token_graphs_spin(tiny_model_v2: Path) -> None:
    model = GptSoVitsModel.load(tiny_model_v2, precision="int8", threads=1)
    spinning = {
        name: model.session(name).get_session_options().get_session_config_entry("session.intra_op.allow_spinning")
        for name in ("t2s_encoder", "t2s_decoder", "t2s_step", "vits_decoder")
    }
    assert spinning == {"t2s_encoder": "0", "t2s_decoder": "1", "t2s_step": "1", "vits_decoder": "0"}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator exists on Linux only")
def test_glibc_heap_settings_apply_on_linux() -> None:
    assert memory.use_mmap_for_large_buffers() is True
    assert memory.use_mmap_for_large_buffers() is True  # once per process; later calls just report it
    assert isinstance(memory.trim_heap(), bool)
