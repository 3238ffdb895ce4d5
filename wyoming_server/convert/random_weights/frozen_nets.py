"""Random-weight HuBERT, speaker-verification and BERT files in their official formats, plus helpers.

Tests write tiny ones; the benchmark passes the released sizes (`HUBERT_REAL`, `REAL_SV_CHANNELS`,
`BERT_REAL`).

- `write_tiny_hubert`: a Hugging Face `chinese-hubert-base`-style folder (config.json,
  preprocessor_config.json, pytorch_model.bin with HF key names and an old-style weight-normed
  positional conv).
- `write_tiny_sv`: a plain ERes2NetV2 state dict like `pretrained_eres2netv2w24s4ep4.ckpt`.
- `write_tiny_bert`: a `chinese-roberta-wwm-ext-large`-style folder (BertForMaskedLM keys, vocab.txt).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Final

import torch
from torch import nn

from ...checkpoints.dims.hubert import HubertDims
from ...checkpoints.dims.sv import STAGE_STRIDES, BlockDims, SvDims
from ..torch_modules.bert import BertDims, BertFeatures
from ..torch_modules.eres2net import ERes2NetV2
from ..torch_modules.hubert import Hubert

TINY_SV_CHANNELS: Final = 64
"""Stage-4 channels of the tiny SV network: embeddings of 64 x 10 = 640 values."""
REAL_SV_CHANNELS: Final = 2048
"""The released SV network's stage-4 channels: 2048 x 10 = 20480 values."""


_NORMS: Final = (nn.LayerNorm, nn.GroupNorm, nn.BatchNorm2d)


def randomize(module: nn.Module, generator: torch.Generator) -> None:
    """Fill every parameter: weights ~ N(0, 1/fan_in), biases small, norm scales near 1."""
    with torch.no_grad():
        for _, param in module.named_parameters():
            if param.dim() == 1:
                param.copy_(0.05 * torch.randn(param.shape, generator=generator))
            else:
                param.copy_(torch.randn(param.shape, generator=generator) / param[0].numel() ** 0.5)
        for name, param in module.named_parameters():
            owner = module.get_submodule(name.rpartition(".")[0]) if "." in name else module
            if name.endswith("gamma") or (isinstance(owner, _NORMS) and name.endswith("weight")):
                param.copy_(1.0 + 0.1 * torch.randn(param.shape, generator=generator))


def split_weight_norm(key: str, weight: torch.Tensor, dim: int = 0) -> dict[str, torch.Tensor]:
    """A weight as the `weight_g` / `weight_v` pair that weight normalization saves in official files."""
    dims = [i for i in range(weight.dim()) if i != dim]
    g = weight.pow(2).sum(dim=dims, keepdim=True).sqrt()
    stem = key.removesuffix(".weight")
    return {f"{stem}.weight_g": g, f"{stem}.weight_v": weight.clone()}


_HUBERT_KERNELS: Final = (10, 3, 3, 3, 3, 2, 2)
_HUBERT_STRIDES: Final = (5, 2, 2, 2, 2, 2, 2)
"""320 samples per frame, as every HuBERT base."""
HUBERT_REAL: Final = HubertDims(
    conv_channels=(512,) * 7,
    conv_kernels=_HUBERT_KERNELS,
    conv_strides=_HUBERT_STRIDES,
    conv_bias=False,
    layer_norm_convs=False,
    projection_norm=True,
    hidden=768,
    heads=12,
    ffn=3072,
    layers=12,
    pos_kernel=128,
    pos_groups=16,
    eps=1e-5,
)
"""`chinese-hubert-base` (95 M parameters)."""


def tiny_hubert_dims(hidden: int = 32, layers: int = 1) -> HubertDims:
    """Tiny HuBERT dims with the released conv strides."""
    return replace(
        HUBERT_REAL,
        conv_channels=(16,) * 7,
        hidden=hidden,
        heads=2,
        ffn=2 * hidden,
        layers=layers,
        pos_kernel=16,
        pos_groups=4,
    )


def write_tiny_hubert(
    folder: Path, hidden: int = 32, layers: int = 1, seed: int = 0, dims: HubertDims | None = None
) -> Path:
    """A `chinese-hubert-base`-style folder: tiny dims, or `dims` (e.g. `HUBERT_REAL`)."""
    folder.mkdir(parents=True, exist_ok=True)
    dims = dims or tiny_hubert_dims(hidden, layers)
    hidden, layers = dims.hidden, dims.layers
    model = Hubert(dims)
    randomize(model, torch.Generator().manual_seed(seed))
    state = dict(model.state_dict())
    pos_key = "encoder.pos_conv_embed.conv.weight"
    state.update(split_weight_norm(pos_key, state.pop(pos_key), dim=2))
    state["masked_spec_embed"] = torch.rand(hidden)
    torch.save({k: v.half() for k, v in state.items()}, folder / "pytorch_model.bin")
    config = {
        "architectures": ["HubertModel"],
        "model_type": "hubert",
        "conv_bias": False,
        "conv_dim": list(dims.conv_channels),
        "conv_kernel": list(dims.conv_kernels),
        "conv_stride": list(dims.conv_strides),
        "do_stable_layer_norm": False,
        "feat_extract_activation": "gelu",
        "feat_extract_norm": "group",
        "feat_proj_layer_norm": True,
        "hidden_act": "gelu",
        "hidden_size": hidden,
        "intermediate_size": dims.ffn,
        "layer_norm_eps": dims.eps,
        "num_attention_heads": dims.heads,
        "num_conv_pos_embedding_groups": dims.pos_groups,
        "num_conv_pos_embeddings": dims.pos_kernel,
        "num_feat_extract_layers": 7,
        "num_hidden_layers": layers,
        "torch_dtype": "float16",
    }
    (folder / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    preprocessor = {
        "do_normalize": True,
        "feature_extractor_type": "Wav2Vec2FeatureExtractor",
        "feature_size": 1,
        "padding_side": "right",
        "padding_value": 0.0,
        "return_attention_mask": False,
        "sampling_rate": 16000,
    }
    (folder / "preprocessor_config.json").write_text(json.dumps(preprocessor, indent=2), encoding="utf-8")
    return folder


def tiny_sv_dims(stage4_channels: int = TINY_SV_CHANNELS) -> SvDims:
    """A 1-block-per-stage ERes2NetV2 (expansion 2, scale 2) whose embeddings have `stage4_channels * 10` values."""
    stem = stage4_channels // 16
    stages: list[tuple[BlockDims, ...]] = []
    n_in = stem
    for stage, stride in enumerate(STAGE_STRIDES):
        planes = stem * 2**stage
        out = planes * 2
        width = max(1, planes // 8)
        fused = stage >= 2
        stages.append((BlockDims(n_in, width, 2, out, stride, True, fused, max(1, width // 4) if fused else 0),))
        n_in = out
    return SvDims(stem, tuple(stages), stage4_channels // 4)


def released_sv_dims() -> SvDims:
    """The released `pretrained_eres2netv2w24s4ep4.ckpt`: upstream's ERes2NetV2(baseWidth=24, scale=4,
    expansion=4), blocks 3/4/6/3 from 64 stem channels, AFF (r=4) in stages 3-4 and the final fusion."""
    stem, base_width, scale, expansion = 64, 24, 4, 4
    stages: list[tuple[BlockDims, ...]] = []
    n_in = stem
    for stage, (blocks, stride) in enumerate(zip((3, 4, 6, 3), STAGE_STRIDES, strict=True)):
        planes = stem * 2**stage
        width = planes * base_width // 64
        fused = stage >= 2
        stage_blocks = []
        for block in range(blocks):
            first = block == 0
            out = planes * expansion
            stage_blocks.append(BlockDims(
                n_in, width, scale, out, stride if first else 1, first and (stride != 1 or n_in != out), fused,
                width // 4 if fused else 0,
            ))
            n_in = out
        stages.append(tuple(stage_blocks))
    return SvDims(stem, tuple(stages), n_in // 4)


RESIDUAL_GAIN: Final = 0.5
"""Scale of the BatchNorm closing each residual branch and AFF gate of a deep random SV network."""


def _settle_batch_norms(model: ERes2NetV2, seed: int) -> None:
    """A deep random network (the released 16 blocks) made as well-conditioned as a trained one.

    With arbitrary BatchNorm statistics it saturates at every clipped ReLU and AFF gate, and with
    full-size residual branches it is chaotic (fp32 and fp64 outputs differ by 1e-3 of their scale,
    so no exported graph can match torch). Residual branches and gates start at half scale, as
    trained ResNets' do, and the statistics are measured on voice-like fbanks as training leaves them.
    """
    from ...engine.gpt_sovits.reference import kaldi_fbank
    from ...importer.calibration import synthetic_voice

    for name, module in model.named_modules():
        if isinstance(module, nn.BatchNorm2d):
            if name.endswith(("bn3", "local_att.4")):
                with torch.no_grad():
                    module.weight.mul_(RESIDUAL_GAIN)
            module.reset_running_stats()
            module.momentum = None  # a plain average over the batches below
    model.train()
    with torch.no_grad():
        for index in range(4):
            model(torch.from_numpy(kaldi_fbank(synthetic_voice(2.0, 16000, seed * 10 + index))))
    model.eval()


def write_tiny_sv(
    path: Path, stage4_channels: int = TINY_SV_CHANNELS, seed: int = 0, half: bool = False, dims: SvDims | None = None
) -> Path:
    """A plain ERes2NetV2 state dict: tiny (embeddings of `stage4_channels * 10` values) or of `dims`."""
    model = ERes2NetV2(dims or tiny_sv_dims(stage4_channels))
    generator = torch.Generator().manual_seed(seed)
    randomize(model, generator)
    if dims is not None:
        _settle_batch_norms(model, seed)
    else:
        for module in model.modules():
            if (
                isinstance(module, nn.BatchNorm2d)
                and module.running_mean is not None
                and module.running_var is not None
            ):
                module.running_mean.normal_(0.0, 0.1, generator=generator)
                module.running_var.uniform_(0.5, 1.5, generator=generator)
    state = {k: (v.half() if half and v.is_floating_point() else v) for k, v in model.state_dict().items()}
    state["seg_1.weight"] = torch.zeros(8, model.dims.output_dim * 2)  # the pooled head forward3 skips
    state["seg_1.bias"] = torch.zeros(8)
    torch.save(state, path)
    return path


BERT_TOKENS: Final = [
    "[PAD]",
    "[UNK]",
    "[CLS]",
    "[SEP]",
    "[MASK]",
    "!",
    ",",
    "-",
    ".",
    "?",
    "…",
    *"你好欢迎回家今天气很我们去公园散步吧智能居已经打开了客厅的灯",
]


BERT_REAL: Final = BertDims(vocab=21128, hidden=1024, heads=16, ffn=4096, layers=24, max_positions=512, eps=1e-12)
"""`chinese-roberta-wwm-ext-large` (326 M parameters)."""


def bert_vocabulary(size: int) -> list[str]:
    """`BERT_TOKENS`, then CJK ideographs in code-point order, then `[unusedN]`, up to `size` tokens."""
    tokens = list(BERT_TOKENS)
    known = set(tokens)
    for code in range(0x4E00, 0xA000):
        if len(tokens) >= size:
            break
        if chr(code) not in known:
            tokens.append(chr(code))
    tokens += [f"[unused{i}]" for i in range(size - len(tokens))]
    return tokens[:size]


def write_tiny_bert(
    folder: Path,
    hidden: int = 1024,
    layers: int = 3,
    seed: int = 0,
    heads: int = 4,
    ffn: int = 32,
    dims: BertDims | None = None,
) -> Path:
    """A `chinese-roberta-wwm-ext-large`-style folder: config.json, pytorch_model.bin, vocab.txt.

    The default width 1024 matches what the T2S `bert_proj` expects; tests of the BERT graph alone
    may pass a smaller one. `dims` (e.g. `BERT_REAL`) replaces every size.
    """
    folder.mkdir(parents=True, exist_ok=True)
    dims = dims or BertDims(
        vocab=len(BERT_TOKENS),
        hidden=hidden,
        heads=heads,
        ffn=ffn,
        layers=layers,
        max_positions=64,
        eps=1e-12,
    )
    hidden, layers = dims.hidden, dims.layers
    vocabulary = bert_vocabulary(dims.vocab)
    model = BertFeatures(dims, token_types=2)
    randomize(model, torch.Generator().manual_seed(seed))
    state = {"bert." + k: v for k, v in model.state_dict().items()}
    state["cls.predictions.bias"] = torch.zeros(dims.vocab)
    state["cls.predictions.transform.dense.weight"] = torch.zeros(hidden, hidden)
    torch.save({k: v.half() for k, v in state.items()}, folder / "pytorch_model.bin")
    config = {
        "architectures": ["BertForMaskedLM"],
        "model_type": "bert",
        "hidden_act": "gelu",
        "hidden_size": hidden,
        "intermediate_size": dims.ffn,
        "layer_norm_eps": 1e-12,
        "max_position_embeddings": dims.max_positions,
        "num_attention_heads": dims.heads,
        "num_hidden_layers": layers,
        "type_vocab_size": 2,
        "vocab_size": dims.vocab,
    }
    (folder / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    (folder / "vocab.txt").write_text("\n".join(vocabulary) + "\n", encoding="utf-8")
    return folder
