"""The one onnxruntime session factory both engines use, and the check that a graph has the inputs we feed."""

from __future__ import annotations

from pathlib import Path

import onnxruntime as ort

from ..settings import DEFAULT_THREADS
from .errors import ModelLoadError


def create_session(path: Path, threads: int = DEFAULT_THREADS, memory_arena: bool = True) -> ort.InferenceSession:
    """An onnxruntime CPU session with our thread and memory settings; raises ModelLoadError.

    Weights live outside the arena (less resident memory); `memory_arena=False` keeps activations
    out of it too. Idle threads spin between the kernels of a run but stop when it ends, so one
    session's threads never take CPU from the next session's run (docs/decisions.md, "Sessions").
    Parallel loops keep onnxruntime's static blocks: sized by timing, they made the same seed give
    other audio under load (docs/reproducibility.md).
    """
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.enable_cpu_mem_arena = memory_arena
    options.add_session_config_entry("session.use_device_allocator_for_initializers", "1")
    options.add_session_config_entry("session.intra_op.allow_spinning", "1")
    options.add_session_config_entry("session.force_spinning_stop", "1")
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as err:  # onnxruntime raises its own Fail/InvalidGraph types
        raise ModelLoadError(f"cannot load graph {path.name}: {err}") from err


def require_inputs(session: ort.InferenceSession, graph: str, names: tuple[str, ...]) -> None:
    """Fail with the missing input's name when a graph is not the one this runtime expects."""
    present = {i.name for i in session.get_inputs()}
    missing = [n for n in names if n not in present]
    if missing:
        raise ModelLoadError(f"graph {graph} lacks input(s) {', '.join(missing)}; has {sorted(present)}")
