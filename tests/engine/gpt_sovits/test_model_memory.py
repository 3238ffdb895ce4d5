"""Session settings of a loaded model (issue 7): enrollment sessions are not kept, threads spin only
within a run, glibc is tuned."""

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
