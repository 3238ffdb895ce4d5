"""The one onnxruntime session factory both engines use, the execution provider it runs on, and the
check that a graph has the inputs we feed."""

from __future__ import annotations

from pathlib import Path
from typing import Final

import onnxruntime as ort

from ..settings import DEFAULT_THREADS
from .errors import ModelLoadError

CPU_PROVIDER: Final = "CPUExecutionProvider"
_PROVIDER_SUFFIX: Final = "executionprovider"
_INSTALL_HINTS: Final = {
    "CUDAExecutionProvider": "onnxruntime-gpu",
    "TensorrtExecutionProvider": "onnxruntime-gpu",
    "OpenVINOExecutionProvider": "onnxruntime-openvino",
    "DmlExecutionProvider": "onnxruntime-directml",
    "QNNExecutionProvider": "onnxruntime-qnn",
    "MIGraphXExecutionProvider": "onnxruntime-migraphx",
}
"""The PyPI build that brings a provider, for the message when it is missing (it replaces `onnxruntime`)."""


class ProviderError(ValueError):
    """The execution provider asked for is unknown or not in this onnxruntime build (a one-line message)."""


def short_provider_name(provider: str) -> str:
    """"CUDAExecutionProvider" -> "cuda": the name the command line takes."""
    return provider.lower().removesuffix(_PROVIDER_SUFFIX)


def available_providers() -> list[str]:
    """Short names of the execution providers this onnxruntime build can run ("cpu" always among them)."""
    return [short_provider_name(p) for p in ort.get_available_providers()]


def resolve_provider(name: str) -> str:
    """onnxruntime's name for `name` ("cpu", "cuda", "CUDAExecutionProvider"...), checked against this build.

    Raises ProviderError with one line saying what this build has and which package would bring it.
    """
    wanted = short_provider_name(name.strip())
    known: dict[str, str] = {short_provider_name(p): p for p in ort.get_all_providers()}
    provider = known.get(wanted)
    if provider is None:
        raise ProviderError(f"--provider {name}: unknown execution provider (known: {', '.join(sorted(known))})")
    if provider not in ort.get_available_providers():
        hint = _INSTALL_HINTS.get(provider)
        install = f"; install {hint} in place of onnxruntime to use it" if hint else ""
        raise ProviderError(
            f"--provider {name}: this onnxruntime {ort.__version__} has no {provider} "
            f"(it has {', '.join(available_providers())}){install}, or use --provider cpu"
        )
    return provider


def create_session(
    path: Path, threads: int = DEFAULT_THREADS, memory_arena: bool = True, provider: str = CPU_PROVIDER
) -> ort.InferenceSession:
    """An onnxruntime session on `provider` (onnxruntime's name) with our thread and memory settings.

    Nodes the provider cannot run fall back to the CPU provider, listed after it. Raises ModelLoadError.

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
        providers = [CPU_PROVIDER] if provider == CPU_PROVIDER else [provider, CPU_PROVIDER]
        return ort.InferenceSession(str(path), options, providers=providers)
    except Exception as err:  # onnxruntime raises its own Fail/InvalidGraph types
        raise ModelLoadError(f"cannot load graph {path.name}: {err}") from err


def require_inputs(session: ort.InferenceSession, graph: str, names: tuple[str, ...]) -> None:
    """Fail with the missing input's name when a graph is not the one this runtime expects."""
    present = {i.name for i in session.get_inputs()}
    missing = [n for n in names if n not in present]
    if missing:
        raise ModelLoadError(f"graph {graph} lacks input(s) {', '.join(missing)}; has {sorted(present)}")
