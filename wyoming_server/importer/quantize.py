"""INT8 copies of fp32 graphs with onnxruntime's quantization tools, and how far they are from fp32.

`quantize_graph` writes `<name>.int8.onnx` as the plan says: dynamic INT8 MatMul weights
(`quantize_dynamic`) or static QDQ calibrated on the plan's realistic inputs (`quantize_static`,
MinMax, per-channel int8 weights); `measure_int8` records the distance from fp32 for the manifest.
The same code quantizes the torch exporter's graphs and the template converter's.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any, Final

import numpy as np
import onnxruntime as ort
from numpy.typing import NDArray

from ..checkpoints.errors import ConversionError
from ..engine.audio import snr_db
from ..engine.memory import trim_heap
from .plans import GraphPlan, GraphResult, Inputs
from .weight_storage import store_fp32_conv_weights_as_int16

_LOGGER = logging.getLogger(__name__)


def session(path: Path) -> ort.InferenceSession:
    """A plain CPU session, quiet (the converter's sessions, not the runtime's tuned ones)."""
    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class _CalibrationReader:
    """onnxruntime's CalibrationDataReader over an iterable of input dicts."""

    def __init__(self, inputs: Iterable[Inputs]) -> None:
        self._iter = iter(inputs)

    def get_next(self) -> Inputs | None:
        return next(self._iter, None)


CALIBRATION_PASSES: Final = 8
"""onnxruntime's calibrator keeps every calibrated activation alive until a run ends (1.5 GB more for
the real decoder); an eighth of the tensors per pass keeps a real-size conversion under 1.5 GB."""


def _calibration_cache(prepared: Path, plan: GraphPlan, cache: Path, passes: int = CALIBRATION_PASSES) -> Path:
    """MinMax ranges of every tensor static quantization needs, computed by onnxruntime's own
    calibrator a part of the tensors at a time, written where `quantize_static` reads them."""
    from onnxruntime.quantization.calibrate import (
        CalibrationMethod,
        MinMaxCalibrater,
        TensorsData,
        save_tensors_data,
    )

    class PartCalibrater(MinMaxCalibrater):  # type: ignore[misc]
        """Calibrates every `passes`-th tensor (in name order) from `part` on."""

        part = 0

        def select_tensors_to_calibrate(self, model: Any) -> tuple[set[str], dict[str, Any]]:
            tensors, value_infos = super().select_tensors_to_calibrate(model)
            return set(sorted(tensors)[self.part :: passes]), value_infos

    inputs = list(plan.calibration_inputs() if plan.calibration_inputs else [])
    augmented = cache.with_suffix(".augmented.onnx")
    ranges: dict[str, Any] = {}
    op_types = list(plan.static_op_types) if plan.static_op_types else None
    for part in range(passes):
        PartCalibrater.part = part
        calibrator = PartCalibrater(prepared, op_types_to_calibrate=op_types, augmented_model_path=str(augmented))
        try:
            calibrator.augment_graph()
            calibrator.create_inference_session()
            calibrator.collect_data(_CalibrationReader(inputs))
            ranges.update(calibrator.compute_data().data)
        finally:
            del calibrator
            augmented.unlink(missing_ok=True)
    save_tensors_data(TensorsData(CalibrationMethod.MinMax, ranges), cache)
    return cache


def quantize_graph(plan: GraphPlan, result: GraphResult, out_dir: Path, seed: int = 1) -> GraphResult:
    """Write `<name>.int8.onnx` as `plan.quantization` says and measure it against fp32."""
    if plan.quantization == "none":
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
    int8_path = out_dir / f"{plan.name}.int8.onnx"
    prepared = out_dir / f"{plan.name}.prep.onnx"
    try:
        quant_pre_process(str(fp32_path), str(prepared), skip_symbolic_shape=True)
    except Exception:  # pre-processing is an optimisation; quantize the plain graph if it fails
        _LOGGER.debug("quant_pre_process failed for %s", plan.name, exc_info=True)
        prepared = fp32_path
    trim_heap()
    excluded = _excluded_nodes(prepared, plan.quantization_excluded_nodes)
    if plan.quantization == "dynamic":
        quantize_dynamic(
            str(prepared),
            str(int8_path),
            weight_type=QuantType.QInt8,
            op_types_to_quantize=list(plan.dynamic_op_types),
            per_channel=False,
            nodes_to_exclude=excluded,
        )
    else:
        if plan.calibration_inputs is None:
            raise ConversionError(f"graph {plan.name}: static quantization needs calibration inputs")
        nodes = None
        if plan.static_node_prefixes is not None:
            import onnx

            graph = onnx.load(str(prepared), load_external_data=False).graph
            nodes = [n.name for n in graph.node if n.name.startswith(plan.static_node_prefixes)]
        cache = out_dir / f"{plan.name}.calibration.json"
        try:
            _calibration_cache(prepared, plan, cache)
            quantize_static(
                str(prepared),
                str(int8_path),
                None,
                calibration_cache_path=str(cache),
                quant_format=QuantFormat.QDQ,
                per_channel=True,
                activation_type=QuantType.QUInt8 if plan.static_unsigned_activations else QuantType.QInt8,
                weight_type=QuantType.QInt8,
                calibrate_method=CalibrationMethod.MinMax,
                op_types_to_quantize=list(plan.static_op_types) if plan.static_op_types else None,
                nodes_to_quantize=nodes,
                nodes_to_exclude=excluded,
                extra_options={"ActivationSymmetric": not plan.static_unsigned_activations},
            )
        finally:
            cache.unlink(missing_ok=True)
        if nodes is not None and plan.static_op_types:
            _fp32_inputs_for_unquantized(int8_path, set(nodes), plan.static_op_types)
    if prepared != fp32_path:
        prepared.unlink(missing_ok=True)
    if plan.int16_weights:
        saved = store_fp32_conv_weights_as_int16(int8_path)
        _LOGGER.info("graph %s: fp32 conv weights stored as int16, %.1f MB less", plan.name, saved / 1e6)
    int8_error = measure_int8(plan, fp32_path, int8_path, np.random.default_rng(seed))
    _LOGGER.info("graph %s INT8 (%s): %s", plan.name, plan.quantization, int8_error)
    return GraphResult(
        name=result.name,
        files={**result.files, "int8": int8_path.name},
        max_abs_error=result.max_abs_error,
        int8_error=int8_error,
        quantization=plan.quantization,
        int8_note=plan.int8_note,
    )


def _fp32_inputs_for_unquantized(path: Path, quantized: set[str], op_types: tuple[str, ...]) -> None:
    """Rewire the nodes of `op_types` left out of static quantization to the fp32 tensors they share
    with quantized ones (other nodes keep their Q/DQ pairs: onnxruntime fuses them into int8 kernels).

    onnxruntime quantizes a tensor once for all its readers, so an fp32 Conv that reads the same
    input as an INT8 one (the residual blocks of a stage share theirs) would get its rounding and
    no speed; the Q/DQ pairs nobody reads any more are dropped."""
    import onnx

    model = onnx.load(str(path))
    graph = model.graph
    producers = {output: node for node in graph.node for output in node.output}
    originals: dict[str, str] = {}  # DQ output -> the tensor its Q node rounded
    for node in graph.node:
        if node.op_type == "DequantizeLinear":
            source = producers.get(node.input[0])
            if source is not None and source.op_type == "QuantizeLinear":
                originals[node.output[0]] = source.input[0]
    for node in graph.node:
        if node.name in quantized or node.op_type not in op_types:
            continue
        for index, name in enumerate(node.input):
            if name in originals:
                node.input[index] = originals[name]
    while True:
        read = {name for node in graph.node for name in node.input} | {value.name for value in graph.output}
        unread = [n for n in graph.node if n.op_type in ("QuantizeLinear", "DequantizeLinear")
                  and not any(output in read for output in n.output)]
        if not unread:
            break
        for node in unread:
            graph.node.remove(node)
    onnx.save(model, str(path))


def _excluded_nodes(path: Path, marks: tuple[str, ...]) -> list[str]:
    """Names of the nodes in the graph at `path` whose name contains one of `marks`."""
    if not marks:
        return []
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    return [node.name for node in graph.node if any(mark in node.name for mark in marks)]


def measure_int8(plan: GraphPlan, fp32_path: Path, int8_path: Path, rng: np.random.Generator) -> dict[str, float]:
    """Distance of the INT8 graph from fp32 on the first float output: max error, SNR (dB), cosine."""
    fp32, int8 = session(fp32_path), session(int8_path)
    dot = norm_a = norm_b = 0.0
    worst = 0.0
    references: list[NDArray[np.float64]] = []
    outputs: list[NDArray[np.float64]] = []
    for _ in range(plan.verify_runs):
        inputs = plan.sample_inputs(rng)
        feeds = {n: inputs[n] for n in plan.input_names}
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


def drop_fp32(result: GraphResult, folder: Path) -> GraphResult:
    """For precision "int8": keep only the INT8 files of graphs that have one."""
    if "int8" not in result.files or "fp32" not in result.files:
        return result
    return _without_file(result, folder, "fp32")


def drop_int8(result: GraphResult, folder: Path) -> GraphResult:
    """The graph without its INT8 file, whose work a companion graph does instead (the INT8 T2S
    prefill and steps both run on `t2s_step`): an INT8 file nothing opens is 80 MB per folder."""
    if "int8" not in result.files:
        return result
    return replace(_without_file(result, folder, "int8"), int8_error={}, quantization="none", int8_note="")


def _without_file(result: GraphResult, folder: Path, key: str) -> GraphResult:
    (folder / result.files[key]).unlink(missing_ok=True)
    return replace(result, files={k: name for k, name in result.files.items() if k != key})
