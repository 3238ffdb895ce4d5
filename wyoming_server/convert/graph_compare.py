"""Are two ONNX models the same graph? Node for node, and weight for weight within float rounding.

The template maker checks its templates with it, and the tests and `bench convert --compare` compare
the template converter's model folders with the torch converter's (`compare_folders`): every graph,
fp32 and INT8, structurally (`compare_models`: initializers in any order, float ones within
`rtol`/`atol` of their largest value, others exactly) and by its outputs on the plans' random
inputs, within the converter's own tolerance (units of the output's RMS, at least 1). An INT8 graph
is held to the same quality: its distance from the reference fp32 graph at most `INT8_MARGIN` times
the reference INT8 graph's. Statically quantized graphs cannot match each other bit for bit: a
last-bit difference in the fp32 weights (torch's vectorized sqrt is not numpy's, nor the same on
every CPU) moves a calibration range by a last bit, which flips the rounding of a few activations,
and in a 30-layer decoder those flips add up to about the INT8 error itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import onnx
from numpy.typing import NDArray
from onnx import numpy_helper

from ..engine.gpt_sovits.shared_files import shared_files_of
from ..importer.plans import GraphPlan
from ..importer.quantize import session

RTOL: Final = 1e-5
ATOL: Final = 1e-6
"""Of the initializer's largest magnitude: weight norm and BatchNorm folding round differently in numpy."""
INTEGER_STEPS: Final = 1
"""Quantized integers (a QDQ bias is divided by its input's scale) may round one step apart when that
scale, calibrated on float outputs, differs in its last bit."""
INT8_MARGIN: Final = 1.25
"""An INT8 graph as far from fp32 as the reference's, within 2 dB."""


def _wire(values: object) -> list[bytes]:
    """Each message's deterministic bytes."""
    return [v.SerializeToString(deterministic=True) for v in values]  # type: ignore[attr-defined]


def _constants(graph: onnx.GraphProto) -> dict[str, onnx.TensorProto]:
    """Initializers by name, with each `Identity` of one counted as an initializer of its output's name.

    torch's exporter gives weights with equal values one initializer and an Identity per copy (real
    checkpoints have some: zero biases, untrained scales; upstream's random tiny models repeat whole
    layers); the template converter binds each separately. Both are the same graph.
    """
    values = {init.name: init for init in graph.initializer}
    for node in graph.node:
        if node.op_type == "Identity" and node.input[0] in values:
            values[node.output[0]] = values[node.input[0]]
    return values


def _operations(graph: onnx.GraphProto, constants: dict[str, onnx.TensorProto]) -> list[onnx.NodeProto]:
    """The nodes that compute something (not the Identities of constants)."""
    return [n for n in graph.node if not (n.op_type == "Identity" and n.input[0] in constants)]


def _same_values(want_proto: onnx.TensorProto, got_proto: onnx.TensorProto, rtol: float, atol: float) -> str:
    want, got = numpy_helper.to_array(want_proto), numpy_helper.to_array(got_proto)
    if want.dtype != got.dtype or want.shape != got.shape:
        return f"is {got.dtype}{got.shape}, expected {want.dtype}{want.shape}"
    if np.issubdtype(want.dtype, np.floating):
        scale = float(np.max(np.abs(want), initial=0.0))
        if not np.allclose(got, want, rtol=rtol, atol=atol * scale):
            worst = float(np.max(np.abs(got.astype(np.float64) - want)))
            return f"differs by up to {worst:.3g} (largest value {scale:.3g})"
    elif np.any(np.abs(got.astype(np.int64) - want.astype(np.int64)) > INTEGER_STEPS):
        return "differs"
    return ""


def _same_attributes(want: onnx.NodeProto, got: onnx.NodeProto, rtol: float, atol: float) -> bool:
    """Equal attributes; a tensor attribute (a Constant's value, e.g. a positional table the exporter
    computed with this CPU's sin and exp) within the weights' tolerance."""
    if [a.name for a in want.attribute] != [a.name for a in got.attribute]:
        return False
    for left, right in zip(want.attribute, got.attribute, strict=True):
        if left.type == right.type == onnx.AttributeProto.TENSOR:
            if _same_values(left.t, right.t, rtol, atol):
                return False
        elif _wire([left]) != _wire([right]):
            return False
    return True


def compare_models(expected: onnx.ModelProto, actual: onnx.ModelProto, rtol: float = RTOL, atol: float = ATOL) -> str:
    """"" when both compute the same with the same weights (within the tolerance), else the first difference.

    Node for node: the same op, attributes and output names; each input the same value name, or,
    where both are weights, the same values (their names may differ: the exporter and the quantizer
    name a weight after the first layer that holds its values). Node names are not compared: the
    exporter numbers unnamed nodes in order.
    """
    a, b = expected.graph, actual.graph
    for what, left, right in (("inputs", a.input, b.input), ("outputs", a.output, b.output)):
        if _wire(left) != _wire(right):
            return f"the graph {what} differ"
    if _wire(expected.opset_import) != _wire(actual.opset_import):
        return "the opsets differ"
    left_constants, right_constants = _constants(a), _constants(b)
    left_nodes, right_nodes = _operations(a, left_constants), _operations(b, right_constants)
    if len(left_nodes) != len(right_nodes):
        return f"{len(right_nodes)} nodes instead of {len(left_nodes)}"
    for want, got in zip(left_nodes, right_nodes, strict=True):
        label = want.name or want.op_type
        same = (want.op_type, want.domain, list(want.output)) == (got.op_type, got.domain, list(got.output))
        if not same or len(want.input) != len(got.input) or not _same_attributes(want, got, rtol, atol):
            return f"node {label} differs ({got.name or got.op_type})"
        for left_input, right_input in zip(want.input, got.input, strict=True):
            if left_input in left_constants and right_input in right_constants:
                problem = _same_values(left_constants[left_input], right_constants[right_input], rtol, atol)
                if problem:
                    return f"weight {left_input} of node {label} {problem}"
            elif left_input != right_input:
                return f"node {label} reads {right_input} instead of {left_input}"
    return ""


def output_scale(expected: NDArray[Any]) -> float:
    """The magnitude an output's error is measured against: its RMS, or 1 for outputs below unit scale.

    fp32 rounding grows with the values computed (one rounding step at 8000 is 0.001), so a fixed
    bound refuses correct large outputs on some CPUs; below unit scale the bound stays absolute.
    """
    values = np.asarray(expected, dtype=np.float64)
    finite = values[np.isfinite(values)]
    rms = float(np.sqrt(np.mean(finite**2))) if finite.size else 0.0
    return max(1.0, rms)


@dataclass(frozen=True)
class FileComparison:
    """One graph file of two model folders."""

    file: str
    structure: str
    """"" when `compare_models` finds them the same graph, else the first difference."""
    output_error: float
    """Largest |b - a| over the runs and compared float outputs, in units of `output_scale(a)`; for
    INT8, of the candidate from the reference's fp32 graph."""
    integer_mismatch: float
    """Largest fraction of integer outputs that differ."""
    tolerance: float
    """The plan's fp32 tolerance, or for INT8 `INT8_MARGIN` times the reference INT8 graph's distance from fp32."""

    @property
    def agrees(self) -> bool:
        """Same graph, and outputs within the plan's tolerance."""
        return not self.structure and self.output_error <= self.tolerance


def compare_outputs(plan: GraphPlan, a: Path, b: Path, runs: int = 3, seed: int = 5) -> tuple[float, float]:
    """(worst scaled float error, worst integer mismatch fraction) of graph `b` against `a` on the plan's inputs."""
    first, second = session(a), session(b)
    rng = np.random.default_rng(seed)
    worst = mismatch = 0.0
    names = [n for n in plan.output_names if plan.verified_outputs is None or n in plan.verified_outputs]
    for _ in range(runs):
        inputs = plan.sample_inputs(rng)
        feeds = {n: inputs[n] for n in plan.input_names}
        for want, got in zip(first.run(names, feeds), second.run(names, feeds), strict=True):
            want, got = np.asarray(want), np.asarray(got)
            if np.issubdtype(want.dtype, np.floating):
                error = float(np.max(np.abs(got.astype(np.float64) - want), initial=0.0))
                worst = max(worst, error / output_scale(want))
            else:
                mismatch = max(mismatch, float(np.count_nonzero(want != got)) / max(1, want.size))
    return worst, mismatch


def compare_folders(reference: Path, candidate: Path, plans: list[GraphPlan]) -> list[FileComparison]:
    """Every `*.onnx` of `reference` against the same file of `candidate` (graphs with a plan also by outputs)."""
    by_name = {plan.name: plan for plan in plans}
    results = []
    for path in sorted(reference.glob("*.onnx")):
        other = candidate / path.name
        if not other.is_file():
            results.append(FileComparison(path.name, "missing", float("inf"), 1.0, 0.0))
            continue
        structure = compare_models(onnx.load(str(path)), onnx.load(str(other)))
        plan = by_name.get(path.name.split(".")[0])
        error = mismatch = 0.0
        tolerance = plan.tolerance if plan is not None else 0.0
        if plan is not None and not structure:
            error, mismatch = compare_outputs(plan, path, other)
            fp32 = reference / f"{plan.name}.onnx"
            if path.name.endswith(".int8.onnx") and fp32.is_file():
                error = compare_outputs(plan, fp32, other)[0]
                tolerance = max(tolerance, INT8_MARGIN * compare_outputs(plan, fp32, path)[0])
        results.append(FileComparison(path.name, structure, error, mismatch, tolerance))
    return results


def compare_shared_files(reference: Path, candidate: Path) -> list[FileComparison]:
    """The shared files (HuBERT) two model folders' manifests name, in turn, by structure: their names
    hash the weights, which two converters round a last bit apart, so they are paired, not matched."""
    pairs = zip(shared_files_of(reference).values(), shared_files_of(candidate).values(), strict=True)
    return [
        FileComparison(b.name, compare_models(onnx.load(str(a)), onnx.load(str(b))), 0.0, 0.0, 0.0) for a, b in pairs
    ]
