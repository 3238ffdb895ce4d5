"""Tiny SoVITS decoders in torch whose self-attention reach is known, for token-chunk streaming tests.

Random weights make every attention row nearly uniform over the whole sentence, so every frame
depends on every other frame: no windowed decode can match the whole-sentence decode there (the
figure is in docs/engine.md too). To test the join design itself, these variants bound the reach:
- "none": the SSL-side encoders' attention output is zeroed, leaving only convolutions (flow,
  generator, FFNs), whose receptive field is finite;
- "local": every head attends almost only within the relative-position window (+-4 frames), as a
  trained encoder that looks at its neighbourhood would.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Final

import numpy as np
import torch
from numpy.typing import NDArray

from wyoming_server.convert.checkpoints import load_sovits_checkpoint
from wyoming_server.convert.random_weights.sovits import write_tiny_sovits
from wyoming_server.convert.torch_modules.sovits import SovitsDecoderModule, build_sovits_modules
from wyoming_server.convert.torch_modules.sovits_attention import RelativeSelfAttention

HOP_SAMPLES: Final = 640
BAND_LOGIT: Final = 12.0
"""Attention logit inside the relative window: e^12 outweighs hundreds of frames outside it."""


class TorchWindowDecoder:
    """`streaming.WindowDecoder` over our torch decoder module."""

    def __init__(self, module: SovitsDecoderModule) -> None:
        self.module = module
        self.hop_samples = HOP_SAMPLES
        self.inter_channels = module.dims.text.inter
        self.gin = module.dims.gin
        self.codebook_size = module.dims.codebook_size
        self.phone_count = module.dims.text.phone_count

    def decode_with_noise(
        self,
        tokens: NDArray[np.int64],
        phones: NDArray[np.int64],
        ge: NDArray[np.float32],
        noise: NDArray[np.float32],
        keep: tuple[int, int] | None = None,
    ) -> NDArray[np.float32]:
        """Waveform ((keep[1] - keep[0]) * 640,) float32; all frames when keep is None."""
        start, stop = keep if keep is not None else (0, noise.shape[2])
        with torch.inference_mode():
            wave = self.module(
                torch.from_numpy(np.ascontiguousarray(tokens))[None, None],
                torch.from_numpy(np.ascontiguousarray(phones))[None],
                torch.from_numpy(ge),
                torch.from_numpy(np.ascontiguousarray(noise)),
                torch.tensor([start, stop]),
            )
        result: NDArray[np.float32] = wave[0].numpy().astype(np.float32)
        return result


def _bias(conv: torch.nn.Conv1d) -> torch.Tensor:
    if conv.bias is None:
        raise ValueError("attention projections have biases")
    return conv.bias


def _make_local(module: torch.nn.Module) -> None:
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for attention in module.modules():
            if not isinstance(attention, RelativeSelfAttention):
                continue
            head_dim = attention.head_dim
            # Every frame's query ~ one fixed vector (a large bias, small weights), the same in
            # every head; the relative keys point along it, the content keys nearly vanish.
            direction = torch.randn(head_dim, generator=generator)
            direction = direction / direction.norm() * math.sqrt(head_dim)
            attention.conv_q.weight.mul_(0.05)
            _bias(attention.conv_q).copy_(direction.repeat(attention.n_heads))
            attention.conv_k.weight.mul_(0.05)
            query = direction / math.sqrt(head_dim)
            attention.emb_rel_k.copy_((BAND_LOGIT * query / query.pow(2).sum()).expand_as(attention.emb_rel_k))


def _remove_attention(module: torch.nn.Module) -> None:
    with torch.no_grad():
        for attention in module.modules():
            if isinstance(attention, RelativeSelfAttention):
                attention.conv_o.weight.zero_()
                _bias(attention.conv_o).zero_()


def window_decoder(folder: Path, attention: str, version: str = "v2") -> TorchWindowDecoder:
    """A tiny decoder whose SSL-side attention is "random" (as written), "local" or "none"."""
    folder.mkdir(parents=True, exist_ok=True)
    path = write_tiny_sovits(folder / f"sovits-{version}.pth", version)
    decoder = build_sovits_modules(load_sovits_checkpoint(path)).decoder
    if attention == "local":
        _make_local(decoder.enc_p)
    elif attention == "none":
        _remove_attention(decoder.enc_p)
    elif attention != "random":
        raise ValueError(f"unknown attention variant {attention!r}")
    return TorchWindowDecoder(decoder)
