"""Our HuBERT (`chinese-hubert-base`), loading the Hugging Face folder's `pytorch_model.bin` strictly.

Only what GPT-SoVITS uses: `HubertModel(wave)["last_hidden_state"]` on the raw 16 kHz float wave
(no feature-extractor normalization, reference pitfall 15). Layout of the HF model, written from
its documented structure: a conv feature encoder (7 convs; GroupNorm after the first when
`feat_extract_norm == "group"`, LayerNorm after each when "layer"; GELU), a feature projection
(LayerNorm, Linear), a weight-normed grouped positional conv (even kernels drop their last output
frame; GELU) added to the features, LayerNorm, then post-norm transformer layers.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from ...checkpoints.dims.hubert import UNUSED_KEYS, WEIGHTS_FILE, HubertDims, infer_hubert_dims, read_hubert_config
from ...checkpoints.official import hubert_weights
from ..checkpoints import load_state_dict_file
from .state_dicts import StateDictReader, fuse_weight_norm


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


def load_hubert(folder: Path) -> Hubert:
    """Build our HuBERT from a Hugging Face `chinese-hubert-base` folder; ConversionError names bad keys."""
    config = read_hubert_config(folder)
    raw = load_state_dict_file(folder / WEIGHTS_FILE, f"HuBERT weights {folder.name}/{WEIGHTS_FILE}")
    reader = StateDictReader(fuse_weight_norm(hubert_weights(raw)), f"HuBERT weights {folder.name}/{WEIGHTS_FILE}")
    model = Hubert(infer_hubert_dims(config, reader))
    reader.load(model, "")
    reader.mark_unused(UNUSED_KEYS)
    reader.check_all_used()
    return model.eval()
