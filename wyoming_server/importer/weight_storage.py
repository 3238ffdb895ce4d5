"""Store the convolution weights an INT8 graph keeps in fp32 as int16, dequantized when the graph runs.

Static quantization leaves most of the SoVITS decoder's weight bytes in fp32 (the text encoder, the
flow, the upsampling layers): they cost little time but most of its memory. Kept as per-channel int16
with a `com.microsoft.DequantizeLinear` in front of each (onnxruntime does not fold those into fp32
constants), they take half the memory and change the output by less than fp32 rounding between CPUs
does; the convolutions still run in fp32. Figures: docs/performance.md, "Peak RSS with one voice".
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import numpy as np

WEIGHT_OPS: Final = ("Conv", "ConvTranspose")
MIN_WEIGHT_BYTES: Final = 16 << 10
"""Smaller weights stay fp32: each dequantization is a kernel call per run, for little memory."""
INT16_MAX: Final = 32767
MS_DOMAIN: Final = "com.microsoft"
"""Its DequantizeLinear takes int16 at every opset; the standard one only from opset 21."""


def output_channel_axis(op_type: str) -> int:
    """The weight's axis of output channels: Conv (out, in, k...), ConvTranspose (in, out, k...)."""
    return 1 if op_type == "ConvTranspose" else 0


def to_int16(weight: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric per-channel int16 values and fp32 scales (zero point 0)."""
    reduce = tuple(i for i in range(weight.ndim) if i != axis)
    scale = (np.abs(weight).max(axis=reduce) / INT16_MAX).astype(np.float32)
    scale[scale == 0] = 1.0
    shape = [1] * weight.ndim
    shape[axis] = -1
    values = np.clip(np.rint(weight / scale.reshape(shape)), -INT16_MAX, INT16_MAX).astype(np.int16)
    return values, scale


def store_fp32_conv_weights_as_int16(path: Path, min_bytes: int = MIN_WEIGHT_BYTES) -> int:
    """Rewrite the graph at `path` in place (weights of `min_bytes` and up); returns the bytes saved."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(path))
    graph = model.graph
    initializers = {init.name: init for init in graph.initializer}
    dequantizers = []
    converted: dict[str, str] = {}
    saved = 0
    for node in graph.node:
        if node.op_type not in WEIGHT_OPS or len(node.input) < 2:
            continue
        name = node.input[1]
        if name in converted:  # a weight shared by two nodes is dequantized once
            node.input[1] = converted[name]
            continue
        init = initializers.get(name)
        if init is None or init.data_type != onnx.TensorProto.FLOAT:
            continue
        weight = numpy_helper.to_array(init)
        if weight.nbytes < min_bytes:
            continue
        axis = output_channel_axis(node.op_type)
        values, scale = to_int16(weight, axis)
        graph.initializer.remove(init)
        graph.initializer.extend([
            numpy_helper.from_array(values, f"{name}_int16"),
            numpy_helper.from_array(scale, f"{name}_scale"),
            numpy_helper.from_array(np.zeros_like(scale, dtype=np.int16), f"{name}_zero"),
        ])
        dequantizers.append(helper.make_node(
            "DequantizeLinear", [f"{name}_int16", f"{name}_scale", f"{name}_zero"], [f"{name}_fp32"],
            name=f"{name}_dequantize", axis=axis, domain=MS_DOMAIN,
        ))
        converted[name] = node.input[1] = f"{name}_fp32"
        saved += weight.nbytes - values.nbytes
    if not dequantizers:
        return 0
    for dequantizer in reversed(dequantizers):  # their inputs are initializers: first is topological
        graph.node.insert(0, dequantizer)
    if not any(opset.domain == MS_DOMAIN for opset in model.opset_import):
        model.opset_import.append(helper.make_opsetid(MS_DOMAIN, 1))
    onnx.save(model, str(path))
    return saved
