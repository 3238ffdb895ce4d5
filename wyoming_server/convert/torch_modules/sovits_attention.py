"""The attention stacks of SoVITS's text/SSL encoders (VITS-style), batch 1, no padding.

Facts (reference §2.5, pitfalls 10-11): post-norm layers `x = LN(x + MHA(x)); x = LN(x + FFN(x))`,
LayerNorm over channels (eps 1e-5, parameters `gamma`/`beta`), 1x1-conv q/k/v/o, and a relative
position term with window 4 shared by all heads (`emb_rel_k`, `emb_rel_v` of shape (1, 9, d_head)):
score(i, j) += (q_i / sqrt(d)) . Ek[j - i + 4] and out_i += sum_j p_ij Ev[j - i + 4] for |j - i| <= 4.

VITS computes those terms with a pad-and-reshape trick whose slice bounds are Python ints of the
sequence length, which an ONNX trace would freeze. We gather the same numbers with index tensors
built from `arange(T)`, so every length stays dynamic in the exported graph.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

LAYER_NORM_EPS = 1e-5


class ChannelLayerNorm(nn.Module):
    """LayerNorm over the channel axis of (B, C, T) tensors (keys `gamma`, `beta`)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(channels))
        self.beta = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, T) -> (B, C, T)."""
        y = F.layer_norm(x.transpose(1, -1), (self.gamma.shape[0],), self.gamma, self.beta, LAYER_NORM_EPS)
        return y.transpose(1, -1)


class RelativeSelfAttention(nn.Module):
    """Multi-head self-attention with VITS's windowed relative-position keys and values."""

    def __init__(self, channels: int, n_heads: int, window: int) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.head_dim = channels // n_heads
        self.window = window
        self.conv_q = nn.Conv1d(channels, channels, 1)
        self.conv_k = nn.Conv1d(channels, channels, 1)
        self.conv_v = nn.Conv1d(channels, channels, 1)
        self.conv_o = nn.Conv1d(channels, channels, 1)
        self.emb_rel_k = nn.Parameter(torch.zeros(1, 2 * window + 1, self.head_dim))
        self.emb_rel_v = nn.Parameter(torch.zeros(1, 2 * window + 1, self.head_dim))

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        # (1, C, T) -> (1, H, T, D)
        return x.view(1, self.n_heads, self.head_dim, -1).transpose(2, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(1, C, T) -> (1, C, T)."""
        q = self._heads(self.conv_q(x)) / math.sqrt(self.head_dim)
        k = self._heads(self.conv_k(x))
        v = self._heads(self.conv_v(x))
        length = x.shape[2]
        positions = torch.arange(length, device=x.device)
        span = 2 * self.window + 1
        # Relative keys: (1, H, T, span) logits, spread onto the band |j - i| <= window.
        rel_logits = torch.matmul(q, self.emb_rel_k.transpose(1, 2).unsqueeze(0))
        offset = positions.unsqueeze(0) - positions.unsqueeze(1) + self.window  # [i, j] = j - i + w
        in_band = (offset >= 0) & (offset < span)
        band_index = offset.clamp(0, span - 1).expand(1, self.n_heads, length, length)
        band = torch.gather(rel_logits, 3, band_index) * in_band.to(q.dtype)
        scores = torch.matmul(q, k.transpose(2, 3)) + band
        p = torch.softmax(scores, dim=-1)
        out = torch.matmul(p, v)
        # Relative values: weight of Ev[r] for row i is p[i, i + r - w] (zero outside the sequence).
        p_padded = F.pad(p, (self.window, self.window))
        rel_index = (positions.unsqueeze(1) + torch.arange(span, device=x.device).unsqueeze(0)).expand(
            1, self.n_heads, length, span
        )
        rel_weights = torch.gather(p_padded, 3, rel_index)
        out = out + torch.matmul(rel_weights, self.emb_rel_v.unsqueeze(0))
        out = out.transpose(2, 3).reshape(1, self.n_heads * self.head_dim, length)
        result: torch.Tensor = self.conv_o(out)
        return result


class CrossAttention(nn.Module):
    """Plain multi-head attention, queries from `x`, keys/values from `context` (MRTE; no relative term)."""

    def __init__(self, channels: int, n_heads: int) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.head_dim = channels // n_heads
        self.conv_q = nn.Conv1d(channels, channels, 1)
        self.conv_k = nn.Conv1d(channels, channels, 1)
        self.conv_v = nn.Conv1d(channels, channels, 1)
        self.conv_o = nn.Conv1d(channels, channels, 1)

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """x (1, C, Tq), context (1, C, Tk) -> (1, C, Tq)."""
        q = self.conv_q(x).view(1, self.n_heads, self.head_dim, -1).transpose(2, 3)
        k = self.conv_k(context).view(1, self.n_heads, self.head_dim, -1).transpose(2, 3)
        v = self.conv_v(context).view(1, self.n_heads, self.head_dim, -1).transpose(2, 3)
        scores = torch.matmul(q / math.sqrt(self.head_dim), k.transpose(2, 3))
        out = torch.matmul(torch.softmax(scores, dim=-1), v)
        result: torch.Tensor = self.conv_o(out.transpose(2, 3).reshape(1, -1, x.shape[2]))
        return result


class FeedForward(nn.Module):
    """Conv -> ReLU -> Conv with "same" padding ((k-1)//2 left, k//2 right)."""

    def __init__(self, channels: int, filter_channels: int, kernel_size: int) -> None:
        super().__init__()
        self.pad = ((kernel_size - 1) // 2, kernel_size // 2)
        self.conv_1 = nn.Conv1d(channels, filter_channels, kernel_size)
        self.conv_2 = nn.Conv1d(filter_channels, channels, kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(1, C, T) -> (1, C, T)."""
        x = torch.relu(self.conv_1(F.pad(x, self.pad)))
        result: torch.Tensor = self.conv_2(F.pad(x, self.pad))
        return result


class AttentionEncoder(nn.Module):
    """A stack of post-norm relative-attention + FFN layers (keys `attn_layers.N`, `ffn_layers.N`, ...)."""

    def __init__(
        self, channels: int, filter_channels: int, n_heads: int, n_layers: int, kernel_size: int, window: int
    ) -> None:
        super().__init__()
        self.attn_layers = nn.ModuleList(
            RelativeSelfAttention(channels, n_heads, window) for _ in range(n_layers)
        )
        self.norm_layers_1 = nn.ModuleList(ChannelLayerNorm(channels) for _ in range(n_layers))
        self.ffn_layers = nn.ModuleList(
            FeedForward(channels, filter_channels, kernel_size) for _ in range(n_layers)
        )
        self.norm_layers_2 = nn.ModuleList(ChannelLayerNorm(channels) for _ in range(n_layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(1, C, T) -> (1, C, T)."""
        for attn, norm_1, ffn, norm_2 in zip(
            self.attn_layers, self.norm_layers_1, self.ffn_layers, self.norm_layers_2, strict=True
        ):
            x = norm_1(x + attn(x))
            x = norm_2(x + ffn(x))
        return x
