"""Bind a checkpoint's weights into a graph template and write the ONNX file, one tensor at a time.

An ONNX file is a protobuf `ModelProto`, and protobuf merges a message field that occurs twice: a
`graph` holding only one more initializer, appended after the template's bytes, adds that
initializer to the graph. So the file is written as the template followed by one such piece per
weight, and only one weight is ever in memory (a real T2S decoder holds 300 MB of them).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Final

import numpy as np
from numpy.typing import NDArray
from onnx import numpy_helper

from ..checkpoints.errors import ConversionError
from ..checkpoints.fusion import Readable, conv_bn_bias, conv_bn_weight
from .templates import Binding, Template

_LENGTH_DELIMITED: Final = 2
_MODEL_GRAPH_FIELD: Final = 7
"""`ModelProto.graph`."""
_GRAPH_INITIALIZER_FIELD: Final = 5
"""`GraphProto.initializer`."""

Sources = Mapping[str, Mapping[str, Readable]]
"""{"gpt" | "sovits" | "hubert" | "sv": {tensor key: tensor}} (weight-norm pairs already fused)."""


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | _LENGTH_DELIMITED) + _varint(len(payload)) + payload


def binding_value(binding: Binding, sources: Sources) -> NDArray[np.float32]:
    """The initializer's values, computed as its recipe says; ConversionError on a missing key or shape."""
    weights = sources.get(binding.source)
    if weights is None:
        raise ConversionError(f"graph weight {binding.name} needs the {binding.source} checkpoint")
    missing = [k for k in binding.tensor_keys() if k not in weights]
    if missing:
        raise ConversionError(f"{binding.source} checkpoint is missing key {missing[0]!r}")
    recipe = binding.recipe
    if recipe["op"] == "tensor":
        value = weights[recipe["key"]].float32()
        if recipe.get("perm") is not None:
            value = np.transpose(value, recipe["perm"])
    elif recipe["op"] == "conv_bn" and recipe["part"] == "weight":
        value = conv_bn_weight(weights, recipe["conv"], recipe["bn"], float(recipe["eps"]))
    elif recipe["op"] == "conv_bn":
        value = conv_bn_bias(weights, recipe["bias"], recipe["bn"], float(recipe["eps"]), binding.shape[0])
    else:
        raise ConversionError(f"graph weight {binding.name} has an unknown recipe {recipe['op']!r}")
    if value.size != int(np.prod(binding.shape, dtype=np.int64)):
        raise ConversionError(
            f"{binding.source} checkpoint: {binding.tensor_keys()[0]!r} gives {value.shape} values where the graph "
            f"needs {binding.shape}"
        )
    return np.ascontiguousarray(value.reshape(binding.shape), dtype=np.float32)


def bind_template(template: Template, sources: Sources, out_path: Path) -> None:
    """Write `out_path`: the template's graph with every binding's weight computed from `sources`."""
    with out_path.open("wb") as out:
        out.write(template.model.SerializeToString(deterministic=True))
        for binding in template.bindings:
            tensor = numpy_helper.from_array(binding_value(binding, sources), binding.name)
            out.write(_field(_MODEL_GRAPH_FIELD, _field(_GRAPH_INITIALIZER_FIELD, tensor.SerializeToString())))
