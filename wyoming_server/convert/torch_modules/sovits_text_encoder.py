"""SoVITS `enc_p` (TextEncoder) with its MRTE cross attention, for decoding (reference §2.5 step 3).

SSL frames (the decoded semantic tokens at 50 Hz) and the target phones are encoded separately,
fused by MRTE (queries = SSL frames, keys/values = phones, plus `ge`), refined by `encoder2`,
optionally stretched in time for the speaking rate, and projected to the prior's mean and log-std.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ...checkpoints.dims.sovits import TextEncoderDims
from .sovits_attention import AttentionEncoder, CrossAttention

MRTE_HEADS = 4
"""Upstream's MRTE uses 4 heads (not stored in the checkpoint)."""


class Mrte(nn.Module):
    """Multi-reference timbre encoder: cross attention from SSL frames to phones, plus ge."""

    def __init__(self, hidden: int, mrte_hidden: int) -> None:
        super().__init__()
        self.cross_attention = CrossAttention(mrte_hidden, MRTE_HEADS)
        self.c_pre = nn.Conv1d(hidden, mrte_hidden, 1)
        self.text_pre = nn.Conv1d(hidden, mrte_hidden, 1)
        self.c_post = nn.Conv1d(mrte_hidden, hidden, 1)

    def forward(self, ssl: torch.Tensor, text: torch.Tensor, ge: torch.Tensor) -> torch.Tensor:
        """ssl (1, H, T), text (1, H, N), ge (1, mrte_hidden, 1) -> (1, H, T)."""
        ssl_enc = self.c_pre(ssl)
        text_enc = self.text_pre(text)
        x = self.cross_attention(ssl_enc, text_enc) + ssl_enc + ge
        result: torch.Tensor = self.c_post(x)
        return result


class TextEncoder(nn.Module):
    """`enc_p`: quantized SSL (1, ssl_dim, T) + phones (1, N) + ge -> prior mean and log-std."""

    def __init__(self, dims: TextEncoderDims) -> None:
        super().__init__()
        self.dims = dims

        def encoder(n_layers: int) -> AttentionEncoder:
            return AttentionEncoder(
                dims.hidden, dims.filter, dims.n_heads, n_layers, dims.kernel_size, dims.window
            )

        self.ssl_proj = nn.Conv1d(dims.ssl_dim, dims.hidden, 1)
        self.encoder_ssl = encoder(dims.ssl_layers)
        self.text_embedding = nn.Embedding(dims.phone_count, dims.hidden)
        self.encoder_text = encoder(dims.text_layers)
        self.mrte = Mrte(dims.hidden, dims.mrte_hidden)
        self.encoder2 = encoder(dims.post_layers)
        self.proj = nn.Conv1d(dims.hidden, dims.inter * 2, 1)

    def forward(
        self, ssl: torch.Tensor, phones: torch.Tensor, ge: torch.Tensor, frames_like: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns (m_p, logs_p), each (1, inter, frames) with frames = frames_like.shape[-1].

        The time axis is resampled linearly to `frames` (upstream's speed factor: int(T/speed)+1
        frames, computed by the caller in double precision). At speed 1 frames == T and the
        resampling is the identity.
        """
        y = self.encoder_ssl(self.ssl_proj(ssl))
        text = self.encoder_text(self.text_embedding(phones).transpose(1, 2))
        y = self.encoder2(self.mrte(y, text, ge))
        y = F.interpolate(y, size=frames_like.shape[-1], mode="linear", align_corners=False)
        stats = self.proj(y)
        return stats[:, : self.dims.inter], stats[:, self.dims.inter :]
