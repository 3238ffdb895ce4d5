"""Write a random-weight GPT (`.ckpt`) exactly as upstream's s1 training saves one.

Tests write tiny ones; the benchmark writes one at the released v2 size (`T2S_REAL`).

Upstream (`s1_train.py`, `my_model_ckpt.on_train_epoch_end`) saves
`{"weight": OrderedDict(fp16 state dict with the lightning `model.` prefix), "config": the s1 YAML
as a dict, "info": "GPT-e<epoch>"}` with `torch.save` through a temporary file. This writes the
same structure with our own torch module's random weights.
"""

from __future__ import annotations

import copy
import os
import tempfile
from collections import OrderedDict
from pathlib import Path
from typing import Any, Final

import torch

from ..torch_modules.t2s import T2SDims, T2SModel

PHONE_VOCAB: Final = 732
AUDIO_VOCAB: Final = 1025
T2S_REAL: Final = {"n_layer": 24, "d_model": 512, "n_head": 16, "ffn": 2048}
"""Keyword arguments of `write_tiny_gpt` for the released v2 size (77.6 M parameters)."""

S1_CONFIG: dict[str, Any] = {
    "train": {
        "seed": 1234,
        "epochs": 20,
        "batch_size": 8,
        "save_every_n_epoch": 1,
        "precision": "16-mixed",
        "gradient_clip": 1.0,
        "if_save_every_weights": True,
        "if_save_latest": True,
        "if_dpo": False,
        "half_weights_save_dir": "GPT_weights_v2",
        "exp_name": "tiny",
    },
    "optimizer": {"lr": 0.01, "lr_init": 1e-05, "lr_end": 0.0001, "warmup_steps": 2000, "decay_steps": 40000},
    "data": {"max_eval_sample": 8, "max_sec": 54, "num_workers": 4, "pad_val": 1024},
    "model": {
        "vocab_size": AUDIO_VOCAB,
        "phoneme_vocab_size": PHONE_VOCAB,
        "embedding_dim": 512,
        "hidden_dim": 512,
        "head": 16,
        "linear_units": 2048,
        "n_layer": 24,
        "dropout": 0,
        "EOS": AUDIO_VOCAB - 1,
        "random_bert": 0,
    },
    "inference": {"top_k": 15},
    "pretrained_s1": "",
    "train_semantic_path": "",
    "train_phoneme_path": "",
    "output_dir": "",
}


def tiny_gpt_state_dict(
    *, n_layer: int = 2, d_model: int = 64, n_head: int = 2, ffn: int = 256, seed: int = 0
) -> dict[str, torch.Tensor]:
    """Random fp32 weights (no `model.` prefix), with non-trivial alphas and LayerNorms."""
    torch.manual_seed(seed)
    model = T2SModel(T2SDims(n_layer, d_model, n_head, ffn, PHONE_VOCAB, AUDIO_VOCAB))
    generator = torch.Generator().manual_seed(seed + 1)
    state = model.state_dict()
    for key, value in state.items():
        if key.endswith(("norm1.weight", "norm2.weight", "alpha")):
            value.add_(0.1 * torch.randn(value.shape, generator=generator))
        elif key.endswith(("norm1.bias", "norm2.bias", "in_proj_bias")):
            value.add_(0.05 * torch.randn(value.shape, generator=generator))
    return state


def write_tiny_gpt(
    path: Path,
    *,
    n_layer: int = 2,
    d_model: int = 64,
    n_head: int = 2,
    ffn: int = 256,
    seed: int = 0,
    weights: dict[str, torch.Tensor] | None = None,
) -> Path:
    """Write a GPT `.ckpt` in upstream's format; `weights` (no prefix) replaces the random ones."""
    state = (
        weights
        if weights is not None
        else tiny_gpt_state_dict(n_layer=n_layer, d_model=d_model, n_head=n_head, ffn=ffn, seed=seed)
    )
    config = copy.deepcopy(S1_CONFIG)
    config["model"].update(
        {
            "embedding_dim": d_model,
            "hidden_dim": d_model,
            "head": n_head,
            "linear_units": ffn,
            "n_layer": n_layer,
        }
    )
    saved: OrderedDict[str, Any] = OrderedDict()
    saved["weight"] = OrderedDict((f"model.{k}", v.detach().half()) for k, v in state.items())
    saved["config"] = config
    saved["info"] = "GPT-e1"
    path.parent.mkdir(parents=True, exist_ok=True)
    # Upstream's my_save writes to a temporary name and moves it (the zip's root folder is that name).
    fd, tmp_name = tempfile.mkstemp(suffix=".pth", dir=path.parent)
    os.close(fd)
    torch.save(saved, tmp_name)
    os.replace(tmp_name, path)
    return path


EOS_LOGIT: Final = -20.0
"""The EOS logit of `without_eos` weights, whatever the input (the others are about N(0, 1))."""


def without_eos(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Weights whose EOS logit is `EOS_LOGIT` at every step, so decoding runs to its token cap.

    Random weights rarely but sometimes sample EOS; the benchmark needs an exact token count. The
    last layer ends in LayerNorm, h = gamma * n + beta with sum(n) = 0, so the head row
    w = -a / gamma gives w . h = -a * sum(beta / gamma): a constant. beta is first nudged along
    gamma (by half of it) so that the sum is about D / 2 and the row stays as small as the others
    (a large row would magnify rounding differences beyond the converter's tolerance). Timing does
    not depend on the values.
    """
    state = {k: v.clone() for k, v in state.items()}
    last = max(int(k.split(".")[2]) for k in state if k.startswith("h.layers."))
    gamma = state[f"h.layers.{last}.norm2.weight"]
    beta = state[f"h.layers.{last}.norm2.bias"]
    beta += 0.5 * gamma
    total = float((beta / gamma).sum())
    state["ar_predict_layer.weight"][-1] = (EOS_LOGIT / total) / gamma
    return state
