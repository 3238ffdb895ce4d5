"""SoVITS `ref_enc` (MelStyleEncoder) and the global speaker embedding `ge` (reference §2.3, §3.2).

MelStyleEncoder facts (pitfall 12): it reads the first 704 of the 1025 linear-spectrogram bins;
spectral = Linear, Mish, Linear, Mish; temporal = 2 x Conv1dGLU (conv to 2C, a * sigmoid(b), plus
residual); 2-head self-attention whose scores are divided by sqrt(d_model) (not sqrt(d_head)),
with a residual; Linear to gin; mean over time.
v2Pro/v2ProPlus: ge = PReLU(ref_enc(spec) + sv_emb(sv)), where sv is the speaker-verification
network's 20480-d embedding.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from ...checkpoints.dims.sovits import RefEncoderDims

STYLE_HEADS = 2
"""MelStyleEncoder's head count (upstream constant, not stored in the checkpoint)."""


class _Linear(nn.Module):
    """A Linear stored under `.fc` (upstream's LinearNorm)."""

    def __init__(self, n_in: int, n_out: int) -> None:
        super().__init__()
        self.fc = nn.Linear(n_in, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        result: torch.Tensor = self.fc(x)
        return result


class _Mish(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.tanh(F.softplus(x))


class _ConvNorm(nn.Module):
    """A "same"-padded Conv1d stored under `.conv` (upstream's ConvNorm)."""

    def __init__(self, n_in: int, n_out: int, kernel_size: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(n_in, n_out, kernel_size, padding=(kernel_size - 1) // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        result: torch.Tensor = self.conv(x)
        return result


class _ConvGlu(nn.Module):
    """Conv1d to 2C, gated linear unit, residual (keys `conv1.conv`)."""

    def __init__(self, channels: int, kernel_size: int) -> None:
        super().__init__()
        self.conv1 = _ConvNorm(channels, 2 * channels, kernel_size)
        self.channels = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y: torch.Tensor = self.conv1(x)
        return x + y[:, : self.channels] * torch.sigmoid(y[:, self.channels :])


class _StyleAttention(nn.Module):
    """Self-attention over time with residual; scores / sqrt(d_model) (keys `w_qs`, `w_ks`, `w_vs`, `fc`)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.w_qs = nn.Linear(channels, channels)
        self.w_ks = nn.Linear(channels, channels)
        self.w_vs = nn.Linear(channels, channels)
        self.fc = nn.Linear(channels, channels)
        self.temperature = math.sqrt(channels)
        self.head_dim = channels // STYLE_HEADS

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(1, T, C) -> (1, T, C)."""
        q = self.w_qs(x).view(1, -1, STYLE_HEADS, self.head_dim).transpose(1, 2)
        k = self.w_ks(x).view(1, -1, STYLE_HEADS, self.head_dim).transpose(1, 2)
        v = self.w_vs(x).view(1, -1, STYLE_HEADS, self.head_dim).transpose(1, 2)
        p = torch.softmax(torch.matmul(q, k.transpose(2, 3)) / self.temperature, dim=-1)
        out = torch.matmul(p, v).transpose(1, 2).reshape(1, -1, STYLE_HEADS * self.head_dim)
        result: torch.Tensor = self.fc(out) + x
        return result


class MelStyleEncoder(nn.Module):
    """Linear spectrogram bins (1, in_bins, T) -> style vector (1, gin, 1)."""

    def __init__(self, dims: RefEncoderDims) -> None:
        super().__init__()
        self.spectral = nn.Sequential(
            _Linear(dims.in_bins, dims.hidden),
            _Mish(),
            nn.Identity(),
            _Linear(dims.hidden, dims.hidden),
            _Mish(),
            nn.Identity(),
        )
        self.temporal = nn.Sequential(
            _ConvGlu(dims.hidden, dims.kernel_size), _ConvGlu(dims.hidden, dims.kernel_size)
        )
        self.slf_attn = _StyleAttention(dims.hidden)
        self.fc = _Linear(dims.hidden, dims.gin)

    def forward(self, spec: torch.Tensor) -> torch.Tensor:
        """(1, in_bins, T) -> (1, gin, 1)."""
        x: torch.Tensor = self.spectral(spec.transpose(1, 2))
        x = self.temporal(x.transpose(1, 2)).transpose(1, 2)
        x = self.fc(self.slf_attn(x))
        return x.mean(dim=1).unsqueeze(-1)


class GlobalEmbedder(nn.Module):
    """The `ref_embedder` graph: spectrogram (1, 1025, T) [+ sv (1, sv_dim)] -> ge (1, gin, 1)."""

    def __init__(self, dims: RefEncoderDims) -> None:
        super().__init__()
        self.dims = dims
        self.ref_enc = MelStyleEncoder(dims)
        self.sv_emb: nn.Linear | None = None
        self.prelu: nn.PReLU | None = None
        if dims.sv_dim is not None:
            self.sv_emb = nn.Linear(dims.sv_dim, dims.gin)
            self.prelu = nn.PReLU(num_parameters=dims.gin)

    def forward(self, spec: torch.Tensor, sv: torch.Tensor | None = None) -> torch.Tensor:
        """v2: (spec) ; v2Pro/v2ProPlus: (spec, sv)."""
        ge: torch.Tensor = self.ref_enc(spec[:, : self.dims.in_bins])
        if self.sv_emb is not None and self.prelu is not None:
            if sv is None:
                raise ValueError("this model needs the speaker-verification embedding")
            ge = self.prelu(ge + self.sv_emb(sv).unsqueeze(-1))
        return ge
