"""Are two ONNX models the same graph? Node for node, and weight for weight within float rounding.

The template maker checks its templates with it, and the tests compare the template converter's
graphs with the torch converter's. Initializers may come in any order; every float one must agree
within `rtol`/`atol` (relative to its largest value), every other one exactly.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import onnx
from onnx import numpy_helper

RTOL: Final = 1e-5
ATOL: Final = 1e-6
"""Of the initializer's largest magnitude: weight norm and BatchNorm folding round differently in numpy."""


def _wire(values: object) -> list[bytes]:
    """Each message's deterministic bytes."""
    return [v.SerializeToString(deterministic=True) for v in values]  # type: ignore[attr-defined]


def compare_models(expected: onnx.ModelProto, actual: onnx.ModelProto, rtol: float = RTOL, atol: float = ATOL) -> str:
    """"" when both are the same graph with the same weights (within the tolerance), else the first difference."""
    a, b = expected.graph, actual.graph
    for what, left, right in (("inputs", a.input, b.input), ("outputs", a.output, b.output)):
        if _wire(left) != _wire(right):
            return f"the graph {what} differ"
    if len(a.node) != len(b.node):
        return f"{len(b.node)} nodes instead of {len(a.node)}"
    for left_node, right_node in zip(a.node, b.node, strict=True):
        if _wire([left_node]) != _wire([right_node]):
            return f"node {left_node.name or left_node.op_type} differs ({right_node.name or right_node.op_type})"
    if [o.SerializeToString() for o in expected.opset_import] != [o.SerializeToString() for o in actual.opset_import]:
        return "the opsets differ"
    left_inits = {i.name: i for i in a.initializer}
    right_inits = {i.name: i for i in b.initializer}
    if set(left_inits) != set(right_inits):
        missing = sorted(set(left_inits) - set(right_inits))[:3]
        extra = sorted(set(right_inits) - set(left_inits))[:3]
        return f"initializers differ (missing {missing}, extra {extra})"
    for name, init in left_inits.items():
        want, got = numpy_helper.to_array(init), numpy_helper.to_array(right_inits[name])
        if want.dtype != got.dtype or want.shape != got.shape:
            return f"initializer {name} is {got.dtype}{got.shape}, expected {want.dtype}{want.shape}"
        if np.issubdtype(want.dtype, np.floating):
            scale = float(np.max(np.abs(want), initial=0.0))
            if not np.allclose(got, want, rtol=rtol, atol=atol * scale):
                worst = float(np.max(np.abs(got.astype(np.float64) - want)))
                return f"initializer {name} differs by up to {worst:.3g} (largest value {scale:.3g})"
        elif not np.array_equal(want, got):
            return f"initializer {name} differs"
    return ""
