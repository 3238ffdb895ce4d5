"""Random-weight SoVITS, HuBERT, speaker-verification and BERT files in the official formats.

Tests write tiny ones (`SOVITS_TINY`); the benchmark writes them at the released sizes (`SOVITS_REAL`).

- `write_tiny_sovits`: a `.pth` as GPT-SoVITS writes it: `torch.save({"weight": fp16 state dict,
  "config": ..., "info": ...})`; fine-tuned files drop `enc_q.*` and pickle the config as an
  upstream `utils.HParams` object; v2Pro/v2ProPlus overwrite the zip's first two bytes with "05"/"06".
- `write_tiny_hubert`, `write_tiny_sv`, `write_tiny_bert` (from `frozen_nets.py`): the frozen helper
  networks' files.

The tensors come from the converter's own modules with official key names (weight-normed layers
split back into `weight_g`/`weight_v`); the conformance test runs the upstream-written fixtures.
`SOVITS_REAL` gives the released models' sizes, for benchmarks.
"""

from __future__ import annotations

import io
import re
import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final

import torch

from ...checkpoints.dims.sovits import (
    CODEBOOK_KEY,
    FlowDims,
    GeneratorDims,
    RefEncoderDims,
    SovitsDims,
    TextEncoderDims,
)
from ..torch_modules.sovits import SemanticCodebook, SovitsDecoderModule
from ..torch_modules.sovits_ref_encoder import GlobalEmbedder
from .frozen_nets import (
    REAL_SV_CHANNELS,
    TINY_SV_CHANNELS,
    randomize,
    split_weight_norm,
    write_tiny_bert,
    write_tiny_hubert,
    write_tiny_sv,
)

__all__ = [
    "REAL_SV_CHANNELS",
    "SOVITS_REAL",
    "SOVITS_TINY",
    "TINY_SV_CHANNELS",
    "SovitsSize",
    "utils_module",
    "write_tiny_bert",
    "write_tiny_hubert",
    "write_tiny_sovits",
    "write_tiny_sv",
]

VERSION_HEADERS: Final = {"v2": b"PK", "v2Pro": b"05", "v2ProPlus": b"06"}
UPSAMPLE_RATES: Final = (10, 8, 2, 2, 2)
PHONE_COUNT: Final = 732
CODEBOOK_SIZE: Final = 1024
# Layers whose weights upstream keeps weight-normed (old torch.nn.utils.weight_norm, dim 0).
_WEIGHT_NORMED = re.compile(
    r"^(dec\.(ups\.\d+|resblocks\.\d+\.convs[12]\.\d+)|flow\.flows\.\d+\.enc\.(in_layers\.\d+|res_skip_layers\.\d+|cond_layer))\.weight$"
)


@dataclass(frozen=True)
class SovitsSize:
    """Config-level sizes of a SoVITS model."""

    ssl_dim: int = 32
    hidden: int = 16
    filter: int = 32
    n_heads: int = 2
    layers: tuple[int, int, int] = (1, 2, 1)
    """encoder_ssl, encoder_text, encoder2."""
    inter: int = 8
    mrte_hidden: int = 16
    gin: int = 16
    flow_hidden: int = 16
    wn_layers: int = 2
    couplings: int = 4
    initial_channels: int = 32
    upsample_kernels: tuple[int, ...] = (16, 16, 8, 2, 2)
    resblock_kernels: tuple[int, ...] = (3, 5)
    resblock_dilations: tuple[tuple[int, ...], ...] = ((1, 3, 5), (1, 3, 5))
    ref_hidden: int = 16
    sv_dim: int | None = None


SOVITS_TINY: Final = {
    "v2": SovitsSize(),
    "v2Pro": SovitsSize(gin=24, sv_dim=TINY_SV_CHANNELS * 10),
    "v2ProPlus": SovitsSize(
        gin=24, sv_dim=TINY_SV_CHANNELS * 10, initial_channels=48, upsample_kernels=(20, 16, 8, 2, 2)
    ),
}
_REAL_V2 = SovitsSize(
    ssl_dim=768,
    hidden=192,
    filter=768,
    n_heads=2,
    layers=(3, 6, 3),
    inter=192,
    mrte_hidden=512,
    gin=512,
    flow_hidden=192,
    wn_layers=4,
    couplings=4,
    initial_channels=512,
    resblock_kernels=(3, 7, 11),
    resblock_dilations=((1, 3, 5),) * 3,
    ref_hidden=128,
)
SOVITS_REAL: Final = {
    "v2": _REAL_V2,
    "v2Pro": replace(_REAL_V2, gin=1024, sv_dim=REAL_SV_CHANNELS * 10),
    "v2ProPlus": replace(
        _REAL_V2,
        gin=1024,
        sv_dim=REAL_SV_CHANNELS * 10,
        initial_channels=768,
        upsample_kernels=(20, 16, 8, 2, 2),
    ),
}


class HParams:
    """Upstream's `utils.HParams` (attribute bag, nested); pickled under the name `utils.HParams`."""

    def __init__(self, **kwargs: Any) -> None:
        for key, value in kwargs.items():
            setattr(self, key, HParams(**value) if isinstance(value, dict) else value)


HParams.__module__ = "utils"


@contextmanager
def utils_module() -> Iterator[None]:
    """Make `utils.HParams` importable while pickling, as it is inside GPT-SoVITS."""
    previous = sys.modules.get("utils")
    module = types.ModuleType("utils")
    module.HParams = HParams  # type: ignore[attr-defined]
    sys.modules["utils"] = module
    try:
        yield
    finally:
        if previous is None:
            del sys.modules["utils"]
        else:
            sys.modules["utils"] = previous


def sovits_dims_for(version: str, size: SovitsSize) -> SovitsDims:
    """The converter's dims for a size preset."""
    text = TextEncoderDims(
        ssl_dim=size.ssl_dim,
        hidden=size.hidden,
        filter=size.filter,
        n_heads=size.n_heads,
        window=4,
        kernel_size=3,
        ssl_layers=size.layers[0],
        text_layers=size.layers[1],
        post_layers=size.layers[2],
        phone_count=PHONE_COUNT,
        mrte_hidden=size.mrte_hidden,
        mrte_ge_dim=size.mrte_hidden,
        inter=size.inter,
    )
    return SovitsDims(
        version=version,
        ssl_dim=size.ssl_dim,
        codebook_size=CODEBOOK_SIZE,
        text=text,
        flow=FlowDims(size.inter, size.flow_hidden, 5, size.wn_layers, size.couplings, size.gin),
        generator=GeneratorDims(
            size.inter,
            size.initial_channels,
            size.gin,
            UPSAMPLE_RATES,
            size.upsample_kernels,
            size.resblock_kernels,
            size.resblock_dilations,
        ),
        ref=RefEncoderDims(704, size.ref_hidden, 5, size.gin, size.sv_dim),
    )


def sovits_state_dict(version: str, size: SovitsSize, seed: int, with_enc_q: bool) -> dict[str, torch.Tensor]:
    """Official SoVITS key names and shapes, random values (fp32)."""
    dims = sovits_dims_for(version, size)
    generator = torch.Generator().manual_seed(seed)
    decoder = SovitsDecoderModule(dims)
    ref = GlobalEmbedder(dims.ref)
    codebook = SemanticCodebook(dims.ssl_dim, dims.codebook_size)
    for whole in (decoder, ref, codebook):
        randomize(whole, generator)
    flat: dict[str, torch.Tensor] = {}
    parts: tuple[tuple[str, torch.nn.Module], ...] = (
        ("enc_p.", decoder.enc_p),
        ("flow.", decoder.flow),
        ("dec.", decoder.dec),
    )
    for prefix, part in parts:
        flat.update({prefix + k: v for k, v in part.state_dict().items()})
    if decoder.ge_to512 is not None:
        flat.update({"ge_to512." + k: v for k, v in decoder.ge_to512.state_dict().items()})
    flat.update({k: v for k, v in ref.state_dict().items()})  # ref_enc.*, sv_emb.*, prelu.*
    flat.update({"ssl_proj." + k: v for k, v in codebook.ssl_proj.state_dict().items()})
    embed = torch.randn(CODEBOOK_SIZE, size.ssl_dim, generator=generator)
    flat[CODEBOOK_KEY] = embed
    flat["quantizer.vq.layers.0._codebook.inited"] = torch.ones(1)
    flat["quantizer.vq.layers.0._codebook.cluster_size"] = torch.rand(CODEBOOK_SIZE, generator=generator)
    flat["quantizer.vq.layers.0._codebook.embed_avg"] = embed.clone()
    weights: dict[str, torch.Tensor] = {}
    for key, value in flat.items():
        weights.update(split_weight_norm(key, value) if _WEIGHT_NORMED.match(key) else {key: value})
    if with_enc_q:  # the posterior encoder, present in pretrained files only
        weights["enc_q.pre.weight"] = torch.randn(size.hidden, 1025, 1, generator=generator) * 0.01
        weights["enc_q.pre.bias"] = torch.zeros(size.hidden)
        weights["enc_q.proj.weight"] = torch.randn(2 * size.inter, size.hidden, 1, generator=generator) * 0.01
        weights["enc_q.proj.bias"] = torch.zeros(2 * size.inter)
    return weights


def sovits_config(version: str, size: SovitsSize) -> dict[str, Any]:
    """An s2.json-style config with the model section matching `size`."""
    return {
        "train": {"segment_size": 20480, "seed": 1234, "fp16_run": True, "text_low_lr_rate": 0.4},
        "data": {
            "max_wav_value": 32768.0,
            "sampling_rate": 32000,
            "filter_length": 2048,
            "hop_length": 640,
            "win_length": 2048,
            "n_mel_channels": 128,
            "n_speakers": 300,
            "cleaned_text": True,
        },
        "model": {
            "inter_channels": size.inter,
            "hidden_channels": size.hidden,
            "filter_channels": size.filter,
            "n_heads": size.n_heads,
            "n_layers": size.layers[1],
            "kernel_size": 3,
            "p_dropout": 0.0,
            "resblock": "1",
            "resblock_kernel_sizes": list(size.resblock_kernels),
            "resblock_dilation_sizes": [list(d) for d in size.resblock_dilations],
            "upsample_rates": list(UPSAMPLE_RATES),
            "upsample_initial_channel": size.initial_channels,
            "upsample_kernel_sizes": list(size.upsample_kernels),
            "n_layers_q": 3,
            "use_spectral_norm": False,
            "gin_channels": size.gin,
            "semantic_frame_rate": "25hz",
            "freeze_quantizer": True,
            "version": version,
        },
        "s2_ckpt_dir": "logs/s2/tiny",
        "content_module": "cnhubert",
        "save_weight_dir": "SoVITS_weights_v2",
        "name": "tiny",
        "version": version,
    }


def write_tiny_sovits(
    path: Path,
    version: str = "v2",
    header: bytes | None = None,
    fine_tuned: bool = True,
    seed: int = 0,
    size: SovitsSize | None = None,
) -> Path:
    """Write a SoVITS `.pth` in the official format; `header` overrides the version's first two bytes."""
    size = size or SOVITS_TINY[version]
    weights = sovits_state_dict(version, size, seed, with_enc_q=not fine_tuned)
    config: Any = sovits_config(version, size)
    data: dict[str, Any] = {"weight": {k: v.half() for k, v in weights.items()}}
    if fine_tuned:
        data["config"] = HParams(**config)
        data["info"] = "8epoch_96iteration"
    else:
        data["config"] = config
        data["info"] = "pretrained"
    buffer = io.BytesIO()
    with utils_module():
        torch.save(data, buffer)
    raw = buffer.getvalue()
    first = header if header is not None else VERSION_HEADERS[version]
    path.write_bytes(first + raw[2:])
    return path
