"""SoVITS `flow` run in reverse: mean-only residual coupling layers with WaveNet conditioning.

Facts (reference §2.5 step 5): `flow.flows` = [Coupling, Flip] x n; reverse runs them backwards.
A coupling layer splits channels in half, `m = post(WN(pre(x0), ge))`, `x1 -= m`. WN layer i:
`a = in_layer_i(x) + cond_layer(ge)[i*2h:(i+1)*2h]`, `acts = tanh(a[:h]) * sigmoid(a[h:])`,
`res_skip_i(acts)` gives h residual + h skip channels (the last layer: h skip channels only).
Upstream builds the WN with dilation rate 1; weight norm is fused at load.
"""

from __future__ import annotations

import torch
from torch import nn

from ...checkpoints.dims.sovits import FlowDims


class WaveNet(nn.Module):
    """Non-causal gated WaveNet conditioned on a global vector (keys `in_layers.N`, `res_skip_layers.N`)."""

    def __init__(self, hidden: int, kernel_size: int, n_layers: int, gin: int) -> None:
        super().__init__()
        self.hidden = hidden
        self.cond_layer = nn.Conv1d(gin, 2 * hidden * n_layers, 1)
        self.in_layers = nn.ModuleList(
            nn.Conv1d(hidden, 2 * hidden, kernel_size, padding=(kernel_size - 1) // 2)
            for _ in range(n_layers)
        )
        self.res_skip_layers = nn.ModuleList(
            nn.Conv1d(hidden, 2 * hidden if i < n_layers - 1 else hidden, 1) for i in range(n_layers)
        )

    def forward(self, x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        """x (1, h, T), g (1, gin, 1) -> (1, h, T)."""
        h = self.hidden
        cond = self.cond_layer(g)
        output = torch.zeros_like(x)
        last = len(self.in_layers) - 1
        for i, (in_layer, res_skip) in enumerate(zip(self.in_layers, self.res_skip_layers, strict=True)):
            a = in_layer(x) + cond[:, i * 2 * h : (i + 1) * 2 * h]
            acts = torch.tanh(a[:, :h]) * torch.sigmoid(a[:, h:])
            res_skip_acts = res_skip(acts)
            if i < last:
                x = x + res_skip_acts[:, :h]
                output = output + res_skip_acts[:, h:]
            else:
                output = output + res_skip_acts
        return output


class MeanOnlyCoupling(nn.Module):
    """Residual coupling layer with `mean_only=True` (keys `pre`, `enc`, `post`)."""

    def __init__(self, dims: FlowDims) -> None:
        super().__init__()
        self.half_channels = dims.channels // 2
        self.pre = nn.Conv1d(self.half_channels, dims.hidden, 1)
        self.enc = WaveNet(dims.hidden, dims.kernel_size, dims.wn_layers, dims.gin)
        self.post = nn.Conv1d(dims.hidden, self.half_channels, 1)

    def reverse(self, x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        """Inverse transform: (1, C, T) -> (1, C, T)."""
        x0, x1 = x[:, : self.half_channels], x[:, self.half_channels :]
        m = self.post(self.enc(self.pre(x0), g))
        return torch.cat([x0, x1 - m], dim=1)


class ReverseFlow(nn.Module):
    """`flow` in the inference direction: z_p -> z. Couplings sit at even indices of `flows`."""

    def __init__(self, dims: FlowDims) -> None:
        super().__init__()
        # Odd entries are parameter-free Flips; Identity keeps the checkpoint's indices.
        layers: list[nn.Module] = []
        for _ in range(dims.n_couplings):
            layers += [MeanOnlyCoupling(dims), nn.Identity()]
        self.flows = nn.ModuleList(layers)

    def forward(self, z: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        """z (1, C, T), g (1, gin, 1) -> (1, C, T)."""
        for layer in reversed(list(self.flows)):
            z = layer.reverse(z, g) if isinstance(layer, MeanOnlyCoupling) else torch.flip(z, [1])
        return z
