"""Sizes of HuBERT (`chinese-hubert-base`): strides, heads and norms from config.json, the rest from tensors."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from ..errors import ConversionError
from .reader import TensorReader

WEIGHTS_FILE: Final = "pytorch_model.bin"
CONFIG_FILE: Final = "config.json"
UNUSED_KEYS: Final = ("masked_spec_embed",)
"""Training-time mask embedding."""


@dataclass(frozen=True)
class HubertDims:
    """Sizes of the HuBERT model: strides and head count from config.json, the rest from tensors."""

    conv_channels: tuple[int, ...]
    conv_kernels: tuple[int, ...]
    conv_strides: tuple[int, ...]
    conv_bias: bool
    layer_norm_convs: bool
    """True: LayerNorm after every conv ("layer"); False: GroupNorm after the first ("group")."""
    projection_norm: bool
    hidden: int
    heads: int
    ffn: int
    layers: int
    pos_kernel: int
    pos_groups: int
    eps: float



def read_hubert_config(folder: Path) -> dict[str, Any]:
    path = folder / CONFIG_FILE
    if not path.is_file():
        raise ConversionError(f"HuBERT folder {folder} has no {CONFIG_FILE}")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ConversionError(f"{path} cannot be read: {err}") from err
    if not isinstance(config, dict):
        raise ConversionError(f"{path} is not a JSON object")
    return config


def infer_hubert_dims(config: dict[str, Any], reader: TensorReader[Any]) -> HubertDims:
    if config.get("do_stable_layer_norm"):
        raise ConversionError(
            f"{reader.what}: pre-norm ('stable layer norm') HuBERT models are not supported"
        )
    for key in ("hidden_act", "feat_extract_activation"):
        if config.get(key, "gelu") != "gelu":
            raise ConversionError(
                f"{reader.what}: {key} {config.get(key)!r} is not supported (expected 'gelu')"
            )
    n_convs = reader.count("feature_extractor.conv_layers.", ".conv.weight")
    strides = tuple(int(s) for s in config.get("conv_stride", ()))
    if n_convs == 0 or len(strides) != n_convs:
        raise ConversionError(
            f"{reader.what}: config conv_stride {strides} does not match {n_convs} conv layers"
        )
    convs = [reader.shape(f"feature_extractor.conv_layers.{i}.conv.weight") for i in range(n_convs)]
    pos = reader.shape("encoder.pos_conv_embed.conv.weight")
    hidden = reader.shape("feature_projection.projection.weight")[0]
    heads = int(config.get("num_attention_heads", 0))
    if heads <= 0 or hidden % heads:
        raise ConversionError(
            f"{reader.what}: num_attention_heads {heads} does not divide hidden size {hidden}"
        )
    return HubertDims(
        conv_channels=tuple(c[0] for c in convs),
        conv_kernels=tuple(c[2] for c in convs),
        conv_strides=strides,
        conv_bias=reader.has("feature_extractor.conv_layers.0.conv.bias"),
        layer_norm_convs=reader.has("feature_extractor.conv_layers.1.layer_norm.weight"),
        projection_norm=reader.has("feature_projection.layer_norm.weight"),
        hidden=hidden,
        heads=heads,
        ffn=reader.shape("encoder.layers.0.feed_forward.intermediate_dense.weight")[0],
        layers=reader.count("encoder.layers.", ".attention.q_proj.weight"),
        pos_kernel=pos[2],
        pos_groups=hidden // pos[1],
        eps=float(config.get("layer_norm_eps", 1e-5)),
    )
