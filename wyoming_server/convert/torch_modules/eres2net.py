"""Our ERes2NetV2 speaker-verification network (v2Pro/v2ProPlus), `forward3` only.

Facts (reference §3.2; upstream `eres2net/ERes2NetV2.py`, from 3D-Speaker): input an 80-bin Kaldi
fbank (B, T, 80) seen as a 1-channel image (B, 1, 80, T); stem conv3x3 + BN + ReLU; four stages of
Res2Net-style bottleneck blocks (stride 1, 2, 2, 2 in each stage's first block), stages 3 and 4 fusing
their sub-bands with attentional feature fusion (AFF) instead of addition; the block activation is
ReLU clipped at 20 (Hardtanh(0, 20)). `forward3` fuses stage 4 with a stride-2 conv of stage 3 by
AFF and returns the mean over time of the flattened (channels x frequency) map: (B, 20480) for the
released `pretrained_eres2netv2w24s4ep4.ckpt`. Widths, scale, expansion and block counts are read
from the state dict, so smaller test networks load the same way.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ...checkpoints.dims.sv import HEAD_PREFIXES, BlockDims, SvDims, infer_sv_dims
from ..checkpoints import load_state_dict_file
from .state_dicts import StateDictReader

CLIP_RELU_MAX = 20.0


class _ClippedRelu(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.clamp(x, 0.0, CLIP_RELU_MAX)


class Aff(nn.Module):
    """Attentional feature fusion of two equal-shape maps (keys `local_att.{0,1,3,4}`)."""

    def __init__(self, channels: int, hidden: int) -> None:
        super().__init__()
        self.local_att = nn.Sequential(
            nn.Conv2d(channels * 2, hidden, 1),
            nn.BatchNorm2d(hidden),
            nn.SiLU(),
            nn.Conv2d(hidden, channels, 1),
            nn.BatchNorm2d(channels),
        )

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        att = 1.0 + torch.tanh(self.local_att(torch.cat((x, y), dim=1)))
        return x * att + y * (2.0 - att)


class Bottleneck(nn.Module):
    """Res2Net bottleneck of ERes2NetV2 (plain or AFF-fused sub-bands)."""

    def __init__(self, dims: BlockDims) -> None:
        super().__init__()
        self.dims = dims
        width, scale = dims.width, dims.scale
        self.conv1 = nn.Conv2d(dims.in_channels, width * scale, 1, stride=dims.stride, bias=False)
        self.bn1 = nn.BatchNorm2d(width * scale)
        self.convs = nn.ModuleList(nn.Conv2d(width, width, 3, padding=1, bias=False) for _ in range(scale))
        self.bns = nn.ModuleList(nn.BatchNorm2d(width) for _ in range(scale))
        self.fuse_models = nn.ModuleList(Aff(width, dims.aff_hidden) for _ in range(scale - 1) if dims.fused)
        self.conv3 = nn.Conv2d(width * scale, dims.out_channels, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(dims.out_channels)
        self.shortcut = nn.Sequential()
        if dims.shortcut:
            self.shortcut = nn.Sequential(
                nn.Conv2d(dims.in_channels, dims.out_channels, 1, stride=dims.stride, bias=False),
                nn.BatchNorm2d(dims.out_channels),
            )
        self.relu = _ClippedRelu()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        bands = torch.split(out, self.dims.width, dim=1)
        outputs: list[torch.Tensor] = []
        sp = bands[0]
        for i in range(self.dims.scale):
            if i > 0:
                sp = self.fuse_models[i - 1](sp, bands[i]) if self.dims.fused else sp + bands[i]
            sp = self.relu(self.bns[i](self.convs[i](sp)))
            outputs.append(sp)
        out = self.bn3(self.conv3(torch.cat(outputs, dim=1)))
        result: torch.Tensor = self.relu(out + self.shortcut(x))
        return result


class ERes2NetV2(nn.Module):
    """fbank (1, T, 80) -> speaker map embedding (1, C * 10) (`forward3`)."""

    def __init__(self, dims: SvDims) -> None:
        super().__init__()
        self.dims = dims
        stem_channels, stages, aff_hidden = dims.stem_channels, dims.stages, dims.aff_hidden
        self.conv1 = nn.Conv2d(1, stem_channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(stem_channels)
        self.layer1 = nn.Sequential(*(Bottleneck(b) for b in stages[0]))
        self.layer2 = nn.Sequential(*(Bottleneck(b) for b in stages[1]))
        self.layer3 = nn.Sequential(*(Bottleneck(b) for b in stages[2]))
        self.layer4 = nn.Sequential(*(Bottleneck(b) for b in stages[3]))
        c3, c4 = stages[2][-1].out_channels, stages[3][-1].out_channels
        self.out_channels = c4
        self.layer3_ds = nn.Conv2d(c3, c4, 3, padding=1, stride=2, bias=False)
        self.fuse34 = Aff(c4, aff_hidden)

    def forward(self, fbank: torch.Tensor) -> torch.Tensor:
        """(1, T, 80) -> (1, C * 10)."""
        x = fbank.transpose(1, 2).unsqueeze(1)
        out = torch.relu(self.bn1(self.conv1(x)))
        out3 = self.layer3(self.layer2(self.layer1(out)))
        fused = self.fuse34(self.layer4(out3), self.layer3_ds(out3))
        result: torch.Tensor = fused.flatten(start_dim=1, end_dim=2).mean(dim=-1)
        return result


def load_eres2net(path: Path) -> ERes2NetV2:
    """Our ERes2NetV2 from a plain state dict (`pretrained_eres2netv2w24s4ep4.ckpt`), loaded strictly."""
    what = f"speaker-verification checkpoint {path.name}"
    reader = StateDictReader(load_state_dict_file(path, what), what)
    dims = infer_sv_dims(reader)
    model = ERes2NetV2(dims)
    reader.load(model, "")
    reader.mark_unused(k for k in reader.weights if k.startswith(HEAD_PREFIXES))
    reader.check_all_used()
    return model.eval()


def sv_output_dim(model: ERes2NetV2) -> int:
    """Width of `forward3`'s output: stage-4 channels x 10 frequency rows (80 bins / 8)."""
    return model.dims.output_dim
