"""A model's sessions load into mappings of their own, so unloading it leaves no holes in glibc's heap."""

from __future__ import annotations

import ctypes
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


def _mapping_of(address: int) -> str:
    """The /proc/self/maps line whose range holds `address`."""
    for line in Path("/proc/self/maps").read_text(encoding="ascii").splitlines():
        start, end = (int(part, 16) for part in line.split()[0].split("-"))
        if start <= address < end:
            return line
    raise AssertionError(f"{address:#x} is in no mapping")


def _allocated_in_heap(libc: ctypes.CDLL) -> bool:
    """Where a new buffer goes when the heap has no free room for it (as after the trim before a load)."""
    memory.trim_heap()
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    address = libc.malloc(BUFFER_BYTES)
    try:
        return _mapping_of(address).endswith("[heap]")
    finally:
        libc.free(address)


@linux_only
def test_buffers_get_their_own_mappings_only_while_loading() -> None:
    libc = memory._glibc()
    assert libc is not None
    assert memory.use_mmap_for_large_buffers()
    assert _allocated_in_heap(libc)
    with memory.own_mappings_while_loading():
        assert not _allocated_in_heap(libc)
    assert _allocated_in_heap(libc)  # speaking allocations come from the heap again


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
