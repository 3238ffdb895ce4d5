"""Our HuBERT (`chinese-hubert-base`), loading the Hugging Face folder's `pytorch_model.bin` strictly.

Only what GPT-SoVITS uses: `HubertModel(wave)["last_hidden_state"]` on the raw 16 kHz float wave
(no feature-extractor normalization, reference pitfall 15). Layout of the HF model, written from
its documented structure: a conv feature encoder (7 convs; GroupNorm after the first when
`feat_extract_norm == "group"`, LayerNorm after each when "layer"; GELU), a feature projection
(LayerNorm, Linear), a weight-normed grouped positional conv (even kernels drop their last output
frame; GELU) added to the features, LayerNorm, then post-norm transformer layers.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from ..checkpoints import load_state_dict_file
from ..errors import ConversionError
from .state_dicts import StateDictReader, fuse_weight_norm

WEIGHTS_FILE = "pytorch_model.bin"
CONFIG_FILE = "config.json"
_UNUSED_KEYS = ("masked_spec_embed",)
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


class _ConvLayer(nn.Module):
    def __init__(self, n_in: int, n_out: int, kernel: int, stride: int, bias: bool, norm: str) -> None:
        super().__init__()
        self.conv = nn.Conv1d(n_in, n_out, kernel, stride=stride, bias=bias)
        self.norm = norm
        self.layer_norm: nn.Module | None = None
        if norm == "group":
            self.layer_norm = nn.GroupNorm(n_out, n_out, affine=True)
        elif norm == "layer":
            self.layer_norm = nn.LayerNorm(n_out, elementwise_affine=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        if self.layer_norm is not None:
            x = (
                self.layer_norm(x.transpose(1, 2)).transpose(1, 2)
                if self.norm == "layer"
                else self.layer_norm(x)
            )
        return F.gelu(x)


class _FeatureExtractor(nn.Module):
    def __init__(self, dims: HubertDims) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        n_in = 1
        for i, (ch, k, s) in enumerate(
            zip(dims.conv_channels, dims.conv_kernels, dims.conv_strides, strict=True)
        ):
            norm = "layer" if dims.layer_norm_convs else ("group" if i == 0 else "none")
            layers.append(_ConvLayer(n_in, ch, k, s, dims.conv_bias, norm))
            n_in = ch
        self.conv_layers = nn.ModuleList(layers)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        x = wave.unsqueeze(1)
        for layer in self.conv_layers:
            x = layer(x)
        return x


class _FeatureProjection(nn.Module):
    def __init__(self, dims: HubertDims) -> None:
        super().__init__()
        self.layer_norm = nn.LayerNorm(dims.conv_channels[-1], eps=dims.eps) if dims.projection_norm else None
        self.projection = nn.Linear(dims.conv_channels[-1], dims.hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.layer_norm is not None:
            x = self.layer_norm(x)
        result: torch.Tensor = self.projection(x)
        return result


class _PositionalConv(nn.Module):
    def __init__(self, dims: HubertDims) -> None:
        super().__init__()
        self.conv = nn.Conv1d(
            dims.hidden, dims.hidden, dims.pos_kernel, padding=dims.pos_kernel // 2, groups=dims.pos_groups
        )
        self.trim = 1 if dims.pos_kernel % 2 == 0 else 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(1, T, C) -> (1, T, C)."""
        y = self.conv(x.transpose(1, 2))
        if self.trim:
            y = y[:, :, : -self.trim]
        return F.gelu(y).transpose(1, 2)


class _Attention(nn.Module):
    def __init__(self, hidden: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.head_dim = hidden // heads
        self.q_proj = nn.Linear(hidden, hidden)
        self.k_proj = nn.Linear(hidden, hidden)
        self.v_proj = nn.Linear(hidden, hidden)
        self.out_proj = nn.Linear(hidden, hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q = self.q_proj(x).view(1, -1, self.heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(1, -1, self.heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(1, -1, self.heads, self.head_dim).transpose(1, 2)
        p = torch.softmax(torch.matmul(q * (1.0 / math.sqrt(self.head_dim)), k.transpose(2, 3)), dim=-1)
        out = torch.matmul(p, v).transpose(1, 2).reshape(1, -1, self.heads * self.head_dim)
        result: torch.Tensor = self.out_proj(out)
        return result


class _FeedForward(nn.Module):
    def __init__(self, hidden: int, ffn: int) -> None:
        super().__init__()
        self.intermediate_dense = nn.Linear(hidden, ffn)
        self.output_dense = nn.Linear(ffn, hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        result: torch.Tensor = self.output_dense(F.gelu(self.intermediate_dense(x)))
        return result


class _EncoderLayer(nn.Module):
    def __init__(self, dims: HubertDims) -> None:
        super().__init__()
        self.attention = _Attention(dims.hidden, dims.heads)
        self.layer_norm = nn.LayerNorm(dims.hidden, eps=dims.eps)
        self.feed_forward = _FeedForward(dims.hidden, dims.ffn)
        self.final_layer_norm = nn.LayerNorm(dims.hidden, eps=dims.eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layer_norm(x + self.attention(x))
        result: torch.Tensor = self.final_layer_norm(x + self.feed_forward(x))
        return result


class _Encoder(nn.Module):
    def __init__(self, dims: HubertDims) -> None:
        super().__init__()
        self.pos_conv_embed = _PositionalConv(dims)
        self.layer_norm = nn.LayerNorm(dims.hidden, eps=dims.eps)
        self.layers = nn.ModuleList(_EncoderLayer(dims) for _ in range(dims.layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layer_norm(x + self.pos_conv_embed(x))
        for layer in self.layers:
            x = layer(x)
        return x


class Hubert(nn.Module):
    """16 kHz wave (1, N) -> last_hidden_state (1, T50, hidden)."""

    def __init__(self, dims: HubertDims) -> None:
        super().__init__()
        self.dims = dims
        self.feature_extractor = _FeatureExtractor(dims)
        self.feature_projection = _FeatureProjection(dims)
        self.encoder = _Encoder(dims)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """(1, N) -> (1, T50, hidden) with T50 = the conv stack's output length."""
        features = self.feature_extractor(wave).transpose(1, 2)
        result: torch.Tensor = self.encoder(self.feature_projection(features))
        return result


def _read_config(folder: Path) -> dict[str, Any]:
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


def _infer_dims(config: dict[str, Any], reader: StateDictReader) -> HubertDims:
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


def load_hubert(folder: Path) -> Hubert:
    """Build our HuBERT from a Hugging Face `chinese-hubert-base` folder; ConversionError names bad keys."""
    config = _read_config(folder)
    raw = load_state_dict_file(folder / WEIGHTS_FILE, f"HuBERT weights {folder.name}/{WEIGHTS_FILE}")
    if raw and all(k.startswith("hubert.") for k in raw if not k.startswith(("lm_head.", "final_proj."))):
        raw = {k.removeprefix("hubert."): v for k, v in raw.items() if k.startswith("hubert.")}
    reader = StateDictReader(fuse_weight_norm(raw), f"HuBERT weights {folder.name}/{WEIGHTS_FILE}")
    model = Hubert(_infer_dims(config, reader))
    reader.load(model, "")
    reader.mark_unused(_UNUSED_KEYS)
    reader.check_all_used()
    return model.eval()
