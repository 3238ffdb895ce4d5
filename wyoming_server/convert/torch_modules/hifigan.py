"""SoVITS `dec`: the HiFi-GAN generator (reference §2.5 step 6, pitfalls 8-10).

`conv_pre` + `cond(ge)`, then per upsampling stage: leaky ReLU 0.1, ConvTranspose1d (stride u,
kernel k, padding (k-u)//2), and the mean of the stage's ResBlock1 outputs. Finally leaky ReLU
with PyTorch's default slope 0.01, `conv_post` without bias, tanh. Weight norm is fused at load.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ...checkpoints.dims.sovits import GeneratorDims

LRELU_SLOPE = 0.1
"""Slope inside the generator; the last activation uses torch's default 0.01 instead."""
FINAL_LRELU_SLOPE = 0.01


class ResBlock1(nn.Module):
    """For each dilation d: x += conv2(lrelu(conv1_d(lrelu(x)))) (keys `convs1.N`, `convs2.N`)."""

    def __init__(self, channels: int, kernel_size: int, dilations: tuple[int, ...]) -> None:
        super().__init__()
        self.convs1 = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel_size, dilation=d, padding=(kernel_size * d - d) // 2)
            for d in dilations
        )
        self.convs2 = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel_size, padding=(kernel_size - 1) // 2) for _ in dilations
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(1, C, T) -> (1, C, T)."""
        for c1, c2 in zip(self.convs1, self.convs2, strict=True):
            xt = c1(F.leaky_relu(x, LRELU_SLOPE))
            x = x + c2(F.leaky_relu(xt, LRELU_SLOPE))
        return x


class Generator(nn.Module):
    """z (1, inter, T) + ge (1, gin, 1) -> waveform (1, 1, T * hop)."""

    def __init__(self, dims: GeneratorDims) -> None:
        super().__init__()
        self.dims = dims
        ch = dims.initial_channels
        self.conv_pre = nn.Conv1d(dims.in_channels, ch, 7, padding=3)
        self.cond = nn.Conv1d(dims.gin, ch, 1)
        self.ups = nn.ModuleList()
        self.resblocks = nn.ModuleList()
        for u, k in zip(dims.upsample_rates, dims.upsample_kernels, strict=True):
            self.ups.append(nn.ConvTranspose1d(ch, ch // 2, k, u, padding=(k - u) // 2))
            ch //= 2
            for kernel, dilations in zip(dims.resblock_kernels, dims.resblock_dilations, strict=True):
                self.resblocks.append(ResBlock1(ch, kernel, dilations))
        self.conv_post = nn.Conv1d(ch, 1, 7, padding=3, bias=False)

    def forward(self, z: torch.Tensor, ge: torch.Tensor) -> torch.Tensor:
        """(1, inter, T), (1, gin, 1) -> (1, 1, T * hop)."""
        x = self.conv_pre(z) + self.cond(ge)
        n_kernels = len(self.dims.resblock_kernels)
        for i, up in enumerate(self.ups):
            x = up(F.leaky_relu(x, LRELU_SLOPE))
            blocks = self.resblocks[i * n_kernels : (i + 1) * n_kernels]
            total = blocks[0](x)
            for block in blocks[1:]:
                total = total + block(x)
            x = total / n_kernels
        x = self.conv_post(F.leaky_relu(x, FINAL_LRELU_SLOPE))
        return torch.tanh(x)
