"""What the pipeline needs to know of each graph, apart from where its fp32 file comes from.

A `GraphPlan` names the graph, its inputs and outputs, how to draw valid random inputs (to verify
a graph and to measure its INT8 copy), and what INT8 means for it. The torch exporter adds a module
to a plan (`convert/graph.py` `GraphSpec`); the template converter binds weights into the template
made for it. `GraphResult` is what the manifest records of one graph.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from numpy.typing import NDArray

Inputs = dict[str, NDArray[Any]]
Quantization = Literal["none", "dynamic", "static"]


@dataclass(frozen=True)
class GraphResult:
    """What the manifest records for one graph."""

    name: str
    files: dict[str, str]
    """precision -> file name inside the model folder."""
    max_abs_error: float
    """fp32 ONNX vs torch, over the verification runs (template graphs: measured when the template was made)."""
    int8_error: dict[str, float] = field(default_factory=dict)
    """INT8 vs fp32 ONNX: max_abs_error, and snr_db / cosine of the first float output."""
    quantization: Quantization = "none"
    """How the INT8 file was made ("none" = no INT8 file: the runtime uses fp32 for this graph)."""
    int8_note: str = ""
    """The INT8 choice in words (GraphPlan.int8_note)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON form for the manifest."""
        return {
            "files": self.files,
            "max_abs_error": self.max_abs_error,
            "int8": self.int8_error or None,
            "quantization": self.quantization,
        }


@dataclass
class GraphPlan:
    """How to check and quantize one graph (and, for the torch exporter, which axes are dynamic)."""

    name: str
    """File stem: `<name>.onnx` (fp32) and `<name>.int8.onnx`."""
    input_names: list[str]
    output_names: list[str]
    sample_inputs: Callable[[Any], Inputs]
    """A valid random input set from a numpy Generator (lengths vary with it); used to verify and measure."""
    dynamic_axes: dict[str, dict[int, str]] = field(default_factory=dict)
    tolerance: float = 1e-4
    """Largest allowed |onnx - torch| over every float output, in units of that output's scale
    (its RMS, at least 1), so float rounding at any magnitude passes on any CPU.
    Integer outputs must match exactly (up to `integer_mismatch`)."""
    quantization: Quantization = "none"
    """What INT8 means for this graph: nothing, dynamic MatMul weights, or static QDQ."""
    int8_note: str = ""
    """The INT8 choice in words (which layers, which scheme), recorded in the manifest."""
    calibration_inputs: Callable[[], Iterable[Inputs]] | None = None
    """Realistic inputs for static quantization (required when quantization == "static")."""
    dynamic_op_types: tuple[str, ...] = ("MatMul", "Gemm")
    static_op_types: tuple[str, ...] | None = None
    """Op types static quantization touches (None: every type onnxruntime supports)."""
    static_node_prefixes: tuple[str, ...] | None = None
    """Static quantization only touches nodes whose names start with one of these (None: all)."""
    static_unsigned_activations: bool = False
    """uint8 asymmetric activations (faster u8s8 kernels on x86, finer steps for one-sided ranges)."""
    int16_weights: bool = False
    """Conv weights the INT8 graph keeps in fp32 are stored as int16 (`weight_storage`): half the memory."""
    integer_mismatch: float = 0.0
    """Fraction of integer outputs allowed to differ from torch (argmin outputs: rounding flips ties)."""
    quantization_excluded_nodes: tuple[str, ...] = ()
    """Nodes whose name contains one of these stay fp32 in the INT8 graph (e.g. an output head)."""
    int8_companion: Callable[[Path, Path], GraphResult | None] | None = None
    """After quantization: writes an INT8 graph derived from this one (fp32 path, INT8 path) that does
    its INT8 work instead, and returns its own manifest entry (this graph's INT8 file is then removed),
    or None when it is not worth keeping and this graph's INT8 file stays (the T2S step graph)."""
    verified_outputs: tuple[str, ...] | None = None
    """Outputs compared with torch (None = all); e.g. skip buffers whose unused rows are unspecified."""
    verify_runs: int = 3
    opset: int = 17
