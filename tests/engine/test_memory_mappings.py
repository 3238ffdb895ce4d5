"""A model's sessions load into mappings of their own, so unloading it leaves no holes in glibc's heap."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from wyoming_server.engine import memory
from wyoming_server.engine.gpt_sovits import model as model_module
from wyoming_server.engine.gpt_sovits.engine import GptSoVitsEngine
from wyoming_server.engine.gpt_sovits.model import GptSoVitsModel
from wyoming_server.engine.onnx import create_session as real_create_session

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator exists on Linux only")
BUFFER_BYTES = 3 << 20
"""Above the loading threshold (64 kB), below the speaking one (4 MB)."""


_CHILD = f"""
import ctypes
BUFFER_BYTES = {BUFFER_BYTES}
from pathlib import Path
from wyoming_server.engine import memory

def in_heap(libc):
    memory.trim_heap()  # as before a load: the heap has no free room, so the buffer needs new memory
    address = libc.malloc(BUFFER_BYTES)
    try:
        for line in Path("/proc/self/maps").read_text().splitlines():
            start, end = (int(part, 16) for part in line.split()[0].split("-"))
            if start <= address < end:
                return line.endswith("[heap]")
        raise AssertionError("in no mapping")
    finally:
        libc.free(address)

libc = memory._glibc()
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
assert memory.use_mmap_for_large_buffers()
before = in_heap(libc)
with memory.own_mappings_while_loading():
    during = in_heap(libc)
print(before, during, in_heap(libc))
"""


@linux_only
def test_buffers_get_their_own_mappings_only_while_loading() -> None:
    # A fresh process: a long test session's heap has free chunks that would serve the buffer anyway.
    done = subprocess.run([sys.executable, "-c", _CHILD], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "False", "True"]  # heap, own mapping while loading, heap again


class _RecordingLibc:
    def __init__(self) -> None:
        self.thresholds: list[int] = []

    def mallopt(self, parameter: int, value: int) -> int:
        assert parameter == memory.M_MMAP_THRESHOLD
        self.thresholds.append(value)
        return 1


def test_nested_loads_restore_the_threshold_once_the_last_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    libc = _RecordingLibc()
    monkeypatch.setattr(memory, "_glibc", lambda: libc)
    monkeypatch.setattr(memory, "_mmap_threshold_set", True)
    with memory.own_mappings_while_loading():
        with pytest.raises(RuntimeError), memory.own_mappings_while_loading():
            raise RuntimeError("a graph failed to load")
        assert libc.thresholds == [memory.LOAD_MMAP_THRESHOLD_BYTES]
    assert libc.thresholds == [memory.LOAD_MMAP_THRESHOLD_BYTES, memory.MMAP_THRESHOLD_BYTES]


def test_every_speaking_session_is_created_while_loading(
    tiny_model_v2: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loading_at_creation: dict[str, int] = {}

    def create_session(path: Path, *args: Any, **kwargs: Any) -> Any:
        loading_at_creation[path.name.split(".")[0]] = memory._loads_in_progress
        return real_create_session(path, *args, **kwargs)

    monkeypatch.setattr(model_module, "create_session", create_session)
    GptSoVitsEngine(GptSoVitsModel.load(tiny_model_v2, precision="int8", threads=1))
    assert {"t2s_encoder", "vits_decoder"} <= set(loading_at_creation)
    assert all(count >= 1 for count in loading_at_creation.values()), loading_at_creation
    assert memory._loads_in_progress == 0
