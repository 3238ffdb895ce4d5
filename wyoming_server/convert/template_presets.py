"""The checkpoint sets the shipped templates are made from: our random-weight writers at the released
sizes of v2, v2Pro and v2ProPlus (and at the tests' tiny sizes).

The released sizes: GPT 24 layers x 512 (16 heads, both s1bert25hz and s1v3), SoVITS per
`configs/s2.json`, `s2v2Pro.json`, `s2v2ProPlus.json`, chinese-hubert-base, and the ERes2NetV2
w24s4ep4 speaker-verification network (`released_sv_dims`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from ..checkpoints.official import PRO_VERSIONS, SUPPORTED_VERSIONS
from .random_weights.frozen_nets import (
    HUBERT_REAL,
    released_sv_dims,
    tiny_hubert_dims,
    write_tiny_hubert,
    write_tiny_sv,
)
from .random_weights.gpt import T2S_REAL, write_tiny_gpt
from .random_weights.sovits import SOVITS_REAL, SOVITS_TINY, write_tiny_sovits
from .template_weights import CheckpointPaths

SIZES: Final = ("real", "tiny")


def write_preset(size: str, version: str, folder: Path) -> CheckpointPaths:
    """Random-weight checkpoints of `version` at the released ("real") or the tests' ("tiny") sizes."""
    if size not in SIZES or version not in SUPPORTED_VERSIONS:
        raise ValueError(f"unknown preset {size}/{version}")
    folder.mkdir(parents=True, exist_ok=True)
    real = size == "real"
    if real:
        sizes = T2S_REAL
        gpt = write_tiny_gpt(
            folder / "gpt.ckpt", n_layer=sizes["n_layer"], d_model=sizes["d_model"], n_head=sizes["n_head"],
            ffn=sizes["ffn"],
        )
    else:
        gpt = write_tiny_gpt(folder / "gpt.ckpt")
    sovits = write_tiny_sovits(folder / "sovits.pth", version, size=(SOVITS_REAL if real else SOVITS_TINY)[version])
    hubert = write_tiny_hubert(folder / "chinese-hubert-base", dims=HUBERT_REAL if real else tiny_hubert_dims())
    sv = None
    if version in PRO_VERSIONS:
        sv = write_tiny_sv(folder / "sv.ckpt", dims=released_sv_dims() if real else None)
    return CheckpointPaths(gpt, sovits, hubert, sv)
