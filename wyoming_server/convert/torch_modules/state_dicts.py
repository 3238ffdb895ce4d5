"""Strict loading of official state dicts into our own torch modules.

Official checkpoints keep weight-normed layers as `weight_g`/`weight_v` pairs (old
`torch.nn.utils.weight_norm`) or as `parametrizations.weight.original0/1` (newer
transformers saves). Our modules hold plain `weight` tensors, so the pairs are fused
once at conversion. Loading is strict: every tensor a module needs must be present with
its shape, and every tensor of the checkpoint must be used by some module or be on an
explicit list of known-unused entries; either failure names the key.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from ...checkpoints.dims.reader import TensorReader
from ..errors import ConversionError

_WEIGHT_NORM_PAIRS = (
    (".weight_g", ".weight_v"),
    (".parametrizations.weight.original0", ".parametrizations.weight.original1"),
)


def fuse_weight_norm(weights: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Replace every weight-norm pair `(g, v)` by `weight = g * v / ||v||`.

    The norm runs over every dim where `g` has size 1; that covers `dim=0` convolutions,
    ConvTranspose1d (whose dim 0 is the input channel) and HuBERT's `dim=2` positional conv.
    """
    fused: dict[str, torch.Tensor] = {}
    consumed: set[str] = set()
    for key, value in weights.items():
        for g_suffix, v_suffix in _WEIGHT_NORM_PAIRS:
            if not key.endswith(g_suffix):
                continue
            stem = key[: -len(g_suffix)]
            v_key = stem + v_suffix
            if v_key not in weights:
                raise ConversionError(f"weight-norm key {key!r} has no matching {v_key!r}")
            g, v = value.double(), weights[v_key].double()
            if g.dim() != v.dim():
                raise ConversionError(
                    f"weight-norm pair {key!r}/{v_key!r} has shapes {tuple(g.shape)}/{tuple(v.shape)}"
                )
            norm_dims = [i for i in range(v.dim()) if g.shape[i] == 1]
            norm = v.pow(2).sum(dim=norm_dims, keepdim=True).sqrt() if norm_dims else v.abs()
            fused[stem + ".weight"] = (g * v / norm).float()
            consumed.update((key, v_key))
    for key, value in weights.items():
        for g_suffix, v_suffix in _WEIGHT_NORM_PAIRS:
            if key.endswith(v_suffix) and key not in consumed:
                g_key = key[: -len(v_suffix)] + g_suffix
                raise ConversionError(f"weight-norm key {key!r} has no matching {g_key!r}")
        if key not in consumed:
            if key in fused:
                raise ConversionError(f"key {key!r} appears both plain and weight-normed")
            fused[key] = value
    return fused


class StateDictReader(TensorReader[torch.Tensor]):
    """A `TensorReader` that also copies tensors into our torch modules, strictly."""

    def load(self, module: torch.nn.Module, prefix: str) -> None:
        """Copy `prefix + name` into every parameter and buffer of `module`, strictly."""
        state = module.state_dict()
        loaded: dict[str, torch.Tensor] = {}
        for name, expected in state.items():
            key = prefix + name
            if name.endswith("num_batches_tracked") and key not in self.weights:
                loaded[name] = expected  # BatchNorm's training counter; torch itself fills it in when absent
                continue
            value = self.tensor(key)
            if tuple(value.shape) != tuple(expected.shape):
                raise ConversionError(
                    f"{self.what}: key {key!r} has shape {tuple(value.shape)}, "
                    f"expected {tuple(expected.shape)}"
                )
            loaded[name] = value.to(expected.dtype)
        module.load_state_dict(loaded, strict=True)
