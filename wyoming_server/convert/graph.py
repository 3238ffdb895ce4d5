"""Export one torch module to ONNX, check it against torch, and quantize it.

Every graph the converter writes goes through `export_graph`: the module is exported,
run by onnxruntime on several random input sets, compared with torch output by output,
and rejected with the figure when it disagrees beyond the spec's tolerance.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import onnxruntime as ort
import torch
from numpy.typing import NDArray

from ..engine.audio import snr_db
from .errors import ConversionError

_LOGGER = logging.getLogger(__name__)

Inputs = dict[str, NDArray[Any]]
Quantization = Literal["none", "dynamic", "static"]


@dataclass
class GraphSpec:
    """How to export, verify and quantize one graph."""

    name: str
    """File stem: `<name>.onnx` (fp32) and `<name>.int8.onnx`."""
    module: torch.nn.Module
    input_names: list[str]
    output_names: list[str]
    sample_inputs: Callable[[np.random.Generator], Inputs]
    """A valid random input set (lengths vary with the generator); used to export and to verify."""
    dynamic_axes: dict[str, dict[int, str]] = field(default_factory=dict)
    tolerance: float = 1e-4
    """Largest allowed |onnx - torch| over every float output, in units of that output's scale
    (`output_scale`: its RMS, at least 1), so float rounding at any magnitude passes on any CPU.
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
    integer_mismatch: float = 0.0
    """Fraction of integer outputs allowed to differ from torch (argmin outputs: rounding flips ties)."""
    quantization_excluded_nodes: tuple[str, ...] = ()
    """Nodes whose name contains one of these stay fp32 in the INT8 graph (e.g. an output head)."""
    int8_companion: Callable[[Path, Path], GraphResult | None] | None = None
    """After quantization: writes a second INT8 graph derived from this one (fp32 path, INT8 path) and
    returns its own manifest entry, or None when it is not worth keeping (the T2S step graph)."""
    verified_outputs: tuple[str, ...] | None = None
    """Outputs compared with torch (None = all); e.g. skip buffers whose unused rows are unspecified."""
    verify_runs: int = 3
    opset: int = 17


@dataclass(frozen=True)
class GraphResult:
    """What the manifest records for one graph."""

    name: str
    files: dict[str, str]
    """precision -> file name inside the model folder."""
    max_abs_error: float
    """fp32 ONNX vs torch, over the verification runs."""
    int8_error: dict[str, float] = field(default_factory=dict)
    """INT8 vs fp32 ONNX: max_abs_error, and snr_db / cosine of the first float output."""
    quantization: Quantization = "none"
    """How the INT8 file was made ("none" = no INT8 file: the runtime uses fp32 for this graph)."""
    int8_note: str = ""
    """The INT8 choice in words (GraphSpec.int8_note)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON form for the manifest."""
        return {
            "files": self.files,
            "max_abs_error": self.max_abs_error,
            "int8": self.int8_error or None,
            "quantization": self.quantization,
        }


def _session(path: Path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _to_torch(array: NDArray[Any]) -> torch.Tensor:
    """A torch view of `array`; 0-d stays 0-d (np.ascontiguousarray alone would make it 1-d)."""
    return torch.from_numpy(np.ascontiguousarray(array).reshape(array.shape))


def _torch_outputs(module: torch.nn.Module, names: list[str], inputs: Inputs) -> list[NDArray[Any]]:
    with torch.inference_mode():
        result = module(*(_to_torch(inputs[n]) for n in names))
    tensors = result if isinstance(result, tuple | list) else (result,)
    return [t.detach().cpu().numpy() for t in tensors]


def output_scale(expected: NDArray[Any]) -> float:
    """The magnitude an output's error is measured against: its RMS, or 1 for outputs below unit scale.

    fp32 rounding grows with the values computed (one rounding step at 8000 is 0.001), so a fixed
    bound refuses correct large outputs on some CPUs; below unit scale the bound stays absolute.
    """
    values = np.asarray(expected, dtype=np.float64)
    finite = values[np.isfinite(values)]
    rms = float(np.sqrt(np.mean(finite**2))) if finite.size else 0.0
    return max(1.0, rms)


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
    session = _session(path)
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


class _CalibrationReader:
    """onnxruntime's CalibrationDataReader over an iterable of input dicts."""

    def __init__(self, inputs: Iterable[Inputs]) -> None:
        self._iter = iter(inputs)

    def get_next(self) -> Inputs | None:
        return next(self._iter, None)


def quantize_graph(spec: GraphSpec, result: GraphResult, out_dir: Path, seed: int = 1) -> GraphResult:
    """Write `<name>.int8.onnx` as `spec.quantization` says and measure it against fp32."""
    if spec.quantization == "none":
        return result
    from onnxruntime.quantization import (
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_dynamic,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    fp32_path = out_dir / result.files["fp32"]
    int8_path = out_dir / f"{spec.name}.int8.onnx"
    prepared = out_dir / f"{spec.name}.prep.onnx"
    try:
        quant_pre_process(str(fp32_path), str(prepared), skip_symbolic_shape=True)
    except Exception:  # pre-processing is an optimisation; quantize the plain graph if it fails
        _LOGGER.debug("quant_pre_process failed for %s", spec.name, exc_info=True)
        prepared = fp32_path
    excluded = _excluded_nodes(prepared, spec.quantization_excluded_nodes)
    if spec.quantization == "dynamic":
        quantize_dynamic(
            str(prepared),
            str(int8_path),
            weight_type=QuantType.QInt8,
            op_types_to_quantize=list(spec.dynamic_op_types),
            per_channel=False,
            nodes_to_exclude=excluded,
        )
    else:
        if spec.calibration_inputs is None:
            raise ConversionError(f"graph {spec.name}: static quantization needs calibration inputs")
        nodes = None
        if spec.static_node_prefixes is not None:
            import onnx

            graph = onnx.load(str(prepared), load_external_data=False).graph
            nodes = [n.name for n in graph.node if n.name.startswith(spec.static_node_prefixes)]
        quantize_static(
            str(prepared),
            str(int8_path),
            _CalibrationReader(spec.calibration_inputs()),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8 if spec.static_unsigned_activations else QuantType.QInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
            op_types_to_quantize=list(spec.static_op_types) if spec.static_op_types else None,
            nodes_to_quantize=nodes,
            nodes_to_exclude=excluded,
            extra_options={"ActivationSymmetric": not spec.static_unsigned_activations},
        )
    if prepared != fp32_path:
        prepared.unlink(missing_ok=True)
    int8_error = measure_int8(spec, fp32_path, int8_path, np.random.default_rng(seed))
    _LOGGER.info("graph %s INT8 (%s): %s", spec.name, spec.quantization, int8_error)
    return GraphResult(
        name=result.name,
        files={**result.files, "int8": int8_path.name},
        max_abs_error=result.max_abs_error,
        int8_error=int8_error,
        quantization=spec.quantization,
        int8_note=spec.int8_note,
    )


def _excluded_nodes(path: Path, marks: tuple[str, ...]) -> list[str]:
    """Names of the nodes in the graph at `path` whose name contains one of `marks`."""
    if not marks:
        return []
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    return [node.name for node in graph.node if any(mark in node.name for mark in marks)]


def measure_int8(spec: GraphSpec, fp32_path: Path, int8_path: Path, rng: np.random.Generator) -> dict[str, float]:
    """Distance of the INT8 graph from fp32 on the first float output: max error, SNR (dB), cosine."""
    fp32, int8 = _session(fp32_path), _session(int8_path)
    dot = norm_a = norm_b = 0.0
    worst = 0.0
    references: list[NDArray[np.float64]] = []
    outputs: list[NDArray[np.float64]] = []
    for _ in range(spec.verify_runs):
        inputs = spec.sample_inputs(rng)
        feeds = {n: inputs[n] for n in spec.input_names}
        for a, b in zip(fp32.run(None, feeds), int8.run(None, feeds), strict=True):
            a64, b64 = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
            if not np.issubdtype(np.asarray(a).dtype, np.floating):
                continue
            worst = max(worst, float(np.max(np.abs(a64 - b64), initial=0.0)))
            references.append(a64.ravel())
            outputs.append(b64.ravel())
            dot += float(np.sum(a64 * b64))
            norm_a += float(np.sum(a64**2))
            norm_b += float(np.sum(b64**2))
            break
    cosine = dot / np.sqrt(norm_a * norm_b) if norm_a > 0 and norm_b > 0 else 1.0
    snr = snr_db(np.concatenate(references), np.concatenate(outputs)) if references else float("inf")
    return {"max_abs_error": worst, "snr_db": snr, "cosine": float(cosine)}
