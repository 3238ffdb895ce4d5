"""Sizes of the ERes2NetV2 speaker-verification network (v2Pro/v2ProPlus), from its state dict.

Widths, scale, expansion and block counts are read from the tensors (the released
`pretrained_eres2netv2w24s4ep4.ckpt` is baseWidth 24, scale 4, expansion 4, blocks 3/4/6/3); the
strides of each stage's first block are fixed by the architecture.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from ..errors import ConversionError
from .reader import TensorReader

FBANK_BINS: Final = 80
STAGE_STRIDES: Final = (1, 2, 2, 2)
HEAD_PREFIXES: Final = ("seg_1.", "seg_bn_1.", "seg_2.")
"""The pooled-embedding head that `forward3` bypasses."""


@dataclass(frozen=True)
class BlockDims:
    """One bottleneck block, from its tensors."""

    in_channels: int
    width: int
    scale: int
    out_channels: int
    stride: int
    shortcut: bool
    fused: bool
    """Sub-bands joined by AFF (stages 3-4) rather than by addition."""
    aff_hidden: int


@dataclass(frozen=True)
class SvDims:
    """The whole network: stem width, the blocks of the four stages, and the width of the final fusion."""

    stem_channels: int
    stages: tuple[tuple[BlockDims, ...], ...]
    aff_hidden: int

    @property
    def output_dim(self) -> int:
        """Width of `forward3`'s output: stage-4 channels x 10 frequency rows (80 bins / 8)."""
        return self.stages[-1][-1].out_channels * (FBANK_BINS // 8)


def _stage_dims(reader: TensorReader[Any], stage: int) -> list[BlockDims]:
    prefix = f"layer{stage}."
    n_blocks = reader.count(prefix, ".conv1.weight")
    if n_blocks == 0:
        raise ConversionError(f"{reader.what} is missing key '{prefix}0.conv1.weight'")
    blocks = []
    for b in range(n_blocks):
        p = f"{prefix}{b}."
        conv1 = reader.shape(p + "conv1.weight")
        width = reader.shape(p + "convs.0.weight")[0]
        fused = reader.has(p + "fuse_models.0.local_att.0.weight")
        blocks.append(
            BlockDims(
                in_channels=conv1[1],
                width=width,
                scale=reader.count(p + "convs.", ".weight"),
                out_channels=reader.shape(p + "conv3.weight")[0],
                stride=STAGE_STRIDES[stage - 1] if b == 0 else 1,
                shortcut=reader.has(p + "shortcut.0.weight"),
                fused=fused,
                aff_hidden=reader.shape(p + "fuse_models.0.local_att.0.weight")[0] if fused else 0,
            )
        )
    return blocks


def infer_sv_dims(reader: TensorReader[Any]) -> SvDims:
    """The network's sizes; ConversionError when the state dict is not an ERes2NetV2."""
    stem = reader.shape("conv1.weight")
    if len(stem) != 4 or stem[1] != 1:
        raise ConversionError(f"{reader.what}: 'conv1.weight' has shape {stem}; not an ERes2NetV2 checkpoint")
    stages = tuple(tuple(_stage_dims(reader, s)) for s in (1, 2, 3, 4))
    return SvDims(stem[0], stages, reader.shape("fuse34.local_att.0.weight")[0])
