"""Copies of a checkpoint set in the official formats, every tensor replaced by distinct random values.

The template maker traces each graph initializer back to the tensor it came from by value, which
needs every tensor to differ from every other (real files and our writers repeat some: zeros, ones,
a codebook and its running average). Each float tensor gets normal noise of a tenth of its own
spread (at least `MIN_SPREAD`): enough to make it unique, little enough to keep the network in the
working range its values put it in (a deep network with arbitrary BatchNorm statistics saturates,
and then rounding decides its output). Positive tensors stay positive; shapes, dtypes, keys,
configs and SoVITS version headers are kept.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import torch

from ..checkpoints.hparams import config_dict
from .checkpoints import torch_load

POSITIVE_SUFFIXES: Final = ("running_var", "weight_g", "original0")
MIN_SPREAD: Final = 0.05
NOISE: Final = 0.1


@dataclass(frozen=True)
class CheckpointPaths:
    """One checkpoint set: GPT, SoVITS, the HuBERT folder and (v2Pro/v2ProPlus) the SV checkpoint."""

    gpt: Path
    sovits: Path
    hubert: Path
    sv: Path | None


def _distinct(weights: dict[str, Any], generator: torch.Generator) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in sorted(weights):
        value = weights[key]
        if not isinstance(value, torch.Tensor) or not value.is_floating_point():
            out[key] = value
            continue
        x = value.float()
        spread = float(x.std()) if x.numel() > 1 else 0.0
        spread = max(spread, MIN_SPREAD * max(1.0, float(x.abs().max()) if x.numel() else 1.0))
        fresh = x + NOISE * spread * torch.randn(value.shape, generator=generator)
        if key.endswith(POSITIVE_SUFFIXES):
            fresh = fresh.abs() + NOISE * spread
        out[key] = fresh.to(value.dtype)
    return out


def _copy_checkpoint(source: Path, target: Path, generator: torch.Generator, header: bytes = b"") -> None:
    raw = source.read_bytes()
    data = torch_load(b"PK" + raw[2:] if header else raw, source.name)
    if isinstance(data, dict) and isinstance(data.get("weight"), dict):
        data = {**data, "weight": _distinct(data["weight"], generator)}
        if "config" in data:
            data["config"] = config_dict(data["config"])  # upstream's HParams as a plain dict
    else:
        data = _distinct(dict(data), generator)
    target.parent.mkdir(parents=True, exist_ok=True)
    torch.save(data, target)
    if header:
        with target.open("r+b") as f:
            f.write(header)


def write_distinct_copy(originals: CheckpointPaths, folder: Path, seed: int) -> CheckpointPaths:
    """The set copied into `folder` with distinct random weights (same seed, same values)."""
    generator = torch.Generator().manual_seed(seed)
    header = originals.sovits.read_bytes()[:2]
    copy = CheckpointPaths(
        gpt=folder / "gpt.ckpt",
        sovits=folder / "sovits.pth",
        hubert=folder / "chinese-hubert-base",
        sv=folder / "sv.ckpt" if originals.sv is not None else None,
    )
    _copy_checkpoint(originals.gpt, copy.gpt, generator)
    _copy_checkpoint(originals.sovits, copy.sovits, generator, header if header != b"PK" else b"")
    copy.hubert.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "preprocessor_config.json"):
        if (originals.hubert / name).is_file():
            shutil.copyfile(originals.hubert / name, copy.hubert / name)
    _copy_checkpoint(originals.hubert / "pytorch_model.bin", copy.hubert / "pytorch_model.bin", generator)
    if originals.sv is not None and copy.sv is not None:
        _copy_checkpoint(originals.sv, copy.sv, generator)
    return copy
