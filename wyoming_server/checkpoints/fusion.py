"""The numpy transforms a checkpoint's tensors go through before they become graph weights.

- Weight norm: official files keep weight-normed layers as `weight_g`/`weight_v` pairs (old
  `torch.nn.utils.weight_norm`) or `parametrizations.weight.original0/1` (newer saves); the graphs
  hold the fused `weight = g * v / ||v||`, the norm over every dim where `g` has size 1. `fused_view`
  presents a state dict with the pairs fused, lazily: shapes at once, values on demand.
- Conv + BatchNorm: torch's ONNX export folds an eval-mode BatchNorm into the convolution before it
  (`conv_bn_weight`, `conv_bn_bias`).

Both follow the torch converter's arithmetic (`convert/torch_modules/state_dicts.py`, torch's export
peephole): weight norm in float64 then rounded to float32, BatchNorm folding in float32.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, Protocol

import numpy as np
from numpy.typing import NDArray

from .errors import ConversionError

WEIGHT_NORM_PAIRS: Final = (
    (".weight_g", ".weight_v"),
    (".parametrizations.weight.original0", ".parametrizations.weight.original1"),
)


class Readable(Protocol):
    """A tensor whose shape is known and whose values can be read as float32."""

    @property
    def shape(self) -> tuple[int, ...]: ...

    def float32(self) -> NDArray[np.float32]: ...


class ArrayTensor:
    """An in-memory array as a `Readable`."""

    def __init__(self, array: NDArray[Any]) -> None:
        self.array = array
        self.shape: tuple[int, ...] = tuple(int(n) for n in array.shape)

    def float32(self) -> NDArray[np.float32]:
        """The values as float32."""
        values: NDArray[np.float32] = np.asarray(self.array, dtype=np.float32)
        return values


class FusedWeight:
    """`g * v / ||v||` of a weight-norm pair, computed when read."""

    def __init__(self, g: Readable, v: Readable, key: str) -> None:
        if len(g.shape) != len(v.shape):
            raise ConversionError(f"weight-norm pair of {key!r} has shapes {tuple(g.shape)}/{tuple(v.shape)}")
        self.g, self.v = g, v
        self.shape: tuple[int, ...] = tuple(v.shape)

    def float32(self) -> NDArray[np.float32]:
        """The fused weight (float64 arithmetic, rounded to float32 as the torch converter does)."""
        g = self.g.float32().astype(np.float64)
        v = self.v.float32().astype(np.float64)
        norm_axes = tuple(i for i in range(v.ndim) if g.shape[i] == 1)
        norm = np.sqrt(np.sum(v * v, axis=norm_axes, keepdims=True)) if norm_axes else np.abs(v)
        fused: NDArray[np.float32] = (g * v / norm).astype(np.float32)
        return fused


def fused_view(weights: Mapping[str, Readable]) -> dict[str, Readable]:
    """`weights` with every weight-norm pair replaced by its fused `weight` (read lazily)."""
    fused: dict[str, Readable] = {}
    consumed: set[str] = set()
    for key, value in weights.items():
        for g_suffix, v_suffix in WEIGHT_NORM_PAIRS:
            if not key.endswith(g_suffix):
                continue
            stem = key[: -len(g_suffix)]
            v_key = stem + v_suffix
            if v_key not in weights:
                raise ConversionError(f"weight-norm key {key!r} has no matching {v_key!r}")
            fused[stem + ".weight"] = FusedWeight(value, weights[v_key], key)
            consumed.update((key, v_key))
    for key, value in weights.items():
        for g_suffix, v_suffix in WEIGHT_NORM_PAIRS:
            if key.endswith(v_suffix) and key not in consumed:
                raise ConversionError(f"weight-norm key {key!r} has no matching {key[: -len(v_suffix)] + g_suffix!r}")
        if key not in consumed:
            if key in fused:
                raise ConversionError(f"key {key!r} appears both plain and weight-normed")
            fused[key] = value
    return fused


def batch_norm_scale(weights: Mapping[str, Readable], bn: str, eps: float) -> NDArray[np.float32]:
    """gamma / sqrt(running_var + eps) of the BatchNorm whose keys start with `bn`."""
    variance = weights[bn + "running_var"].float32()
    scale: NDArray[np.float32] = weights[bn + "weight"].float32() / np.sqrt(variance + np.float32(eps))
    return scale


def conv_bn_weight(weights: Mapping[str, Readable], conv: str, bn: str, eps: float) -> NDArray[np.float32]:
    """The convolution weight `conv` with the BatchNorm `bn` after it folded in (scaled per output channel)."""
    weight = weights[conv].float32()
    scale = batch_norm_scale(weights, bn, eps)
    folded: NDArray[np.float32] = weight * scale.reshape((-1,) + (1,) * (weight.ndim - 1))
    return folded


def conv_bn_bias(
    weights: Mapping[str, Readable], conv_bias: str | None, bn: str, eps: float, channels: int
) -> NDArray[np.float32]:
    """The bias of that folded convolution: (conv bias - running_mean) * scale + beta."""
    bias = weights[conv_bias].float32() if conv_bias is not None else np.zeros(channels, np.float32)
    scale = batch_norm_scale(weights, bn, eps)
    mean, beta = weights[bn + "running_mean"].float32(), weights[bn + "bias"].float32()
    folded: NDArray[np.float32] = (bias - mean) * scale + beta
    return folded
