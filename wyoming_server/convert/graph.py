"""Export one torch module to ONNX and check it against torch.

Every graph the torch converter writes goes through `export_graph`: the module is exported,
run by onnxruntime on several random input sets, compared with torch output by output,
and rejected with the figure when it disagrees beyond the plan's tolerance. Quantizing the
result is shared with the template converter (`importer/quantize.py`).
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from ..checkpoints.errors import ConversionError
from ..importer import quantize
from ..importer.plans import GraphPlan, GraphResult, Inputs
from .graph_compare import output_scale

_LOGGER = logging.getLogger(__name__)


@dataclass(kw_only=True)
class GraphSpec(GraphPlan):
    """A graph plan plus the torch module its fp32 graph is exported from."""

    module: torch.nn.Module


def with_module(plan: GraphPlan, module: torch.nn.Module) -> GraphSpec:
    """The spec that exports `module` as the graph `plan` describes."""
    return GraphSpec(**{f.name: getattr(plan, f.name) for f in fields(plan)}, module=module)


def _to_torch(array: NDArray[Any]) -> torch.Tensor:
    """A torch view of `array`; 0-d stays 0-d (np.ascontiguousarray alone would make it 1-d)."""
    return torch.from_numpy(np.ascontiguousarray(array).reshape(array.shape))


def _torch_outputs(module: torch.nn.Module, names: list[str], inputs: Inputs) -> list[NDArray[Any]]:
    with torch.inference_mode():
        result = module(*(_to_torch(inputs[n]) for n in names))
    tensors = result if isinstance(result, tuple | list) else (result,)
    return [t.detach().cpu().numpy() for t in tensors]


def _compare(
    name: str, output: str, expected: NDArray[Any], actual: NDArray[Any], allowed_mismatch: float = 0.0
) -> tuple[float, float]:
    """(max |actual - expected|, the same divided by `output_scale(expected)`); raises on shape or integers."""
    if expected.shape != actual.shape:
        raise ConversionError(f"graph {name}: output {output} has shape {actual.shape}, torch gives {expected.shape}")
    if not np.issubdtype(expected.dtype, np.floating):
        mismatches = int(np.count_nonzero(expected != actual))
        if mismatches > allowed_mismatch * expected.size:
            raise ConversionError(f"graph {name}: output {output} differs from torch in {mismatches} places")
        return 0.0, 0.0
    difference = np.abs(expected.astype(np.float64) - actual.astype(np.float64))
    if np.isnan(difference).any():  # NaN anywhere (weights or graph) is a failed conversion, never "0 error"
        return float("inf"), float("inf")
    error = float(np.max(difference, initial=0.0))
    return error, error / output_scale(expected)


def export_graph(spec: GraphSpec, out_dir: Path, seed: int = 0) -> GraphResult:
    """Export `spec.module` to `out_dir/<name>.onnx` and verify it; raises ConversionError."""
    rng = np.random.default_rng(seed)
    module = spec.module.eval()
    example = spec.sample_inputs(rng)
    path = out_dir / f"{spec.name}.onnx"
    with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            tuple(_to_torch(example[n]) for n in spec.input_names),
            str(path),
            input_names=spec.input_names,
            output_names=spec.output_names,
            dynamic_axes=spec.dynamic_axes,
            opset_version=spec.opset,
            do_constant_folding=True,
            dynamo=False,
        )
    error = verify_graph(spec, path, rng)
    _LOGGER.info("graph %s: max |onnx - torch| = %.3g", spec.name, error)
    return GraphResult(name=spec.name, files={"fp32": path.name}, max_abs_error=error)


def verify_graph(spec: GraphSpec, path: Path, rng: np.random.Generator) -> float:
    """Largest |onnx - torch| over `spec.verify_runs` random input sets; raises ConversionError when
    an output's error exceeds `spec.tolerance` times its scale."""
    session = quantize.session(path)
    worst = worst_scaled = 0.0
    for _ in range(spec.verify_runs):
        inputs = spec.sample_inputs(rng)
        expected = _torch_outputs(spec.module, spec.input_names, inputs)
        actual = session.run(spec.output_names, {n: inputs[n] for n in spec.input_names})
        for output, e, a in zip(spec.output_names, expected, actual, strict=True):
            if spec.verified_outputs is not None and output not in spec.verified_outputs:
                continue
            error, scaled = _compare(spec.name, output, e, np.asarray(a), spec.integer_mismatch)
            worst, worst_scaled = max(worst, error), max(worst_scaled, scaled)
    if not worst_scaled <= spec.tolerance:
        raise ConversionError(
            f"graph {spec.name} disagrees with its torch module: error {worst_scaled:.3g} of the output's scale "
            f"> tolerance {spec.tolerance:.3g} (largest |onnx - torch| {worst:.3g})"
        )
    return worst
