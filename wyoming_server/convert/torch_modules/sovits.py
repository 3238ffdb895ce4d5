"""Our torch modules for a SoVITS checkpoint: sizes inferred from its tensors, weights loaded strictly.

`build_sovits_modules` turns a `SovitsCheckpoint` into the three modules the graphs are exported
from: the decoder (codebook lookup -> enc_p -> flow reverse -> HiFi-GAN), the reference
embedder (spectrogram [+ SV embedding] -> ge) and the semantic codebook (ssl_proj + nearest
codebook row, used by the prompt extractor). Every tensor of the checkpoint must be used by one
of them or be a known training-only buffer.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from ...checkpoints.dims.sovits import CODEBOOK_KEY, FRAMES_PER_TOKEN, UNUSED_KEYS, SovitsDims, infer_sovits_dims
from ..checkpoints import SovitsCheckpoint
from .hifigan import Generator
from .sovits_flow import ReverseFlow
from .sovits_ref_encoder import GlobalEmbedder
from .sovits_text_encoder import TextEncoder
from .state_dicts import StateDictReader, fuse_weight_norm


class SemanticCodebook(nn.Module):
    """`ssl_proj` (25 Hz) + the VQ codebook: SSL features <-> semantic tokens."""

    def __init__(self, ssl_dim: int, codebook_size: int) -> None:
        super().__init__()
        self.ssl_proj = nn.Conv1d(ssl_dim, ssl_dim, 2, stride=2)
        self.register_buffer("embed", torch.zeros(codebook_size, ssl_dim))
        self.embed: torch.Tensor

    def encode(self, features: torch.Tensor) -> torch.Tensor:
        """HuBERT features (1, ssl_dim, T50) -> codes (T25,) int64: nearest row, upstream's formula."""
        x: torch.Tensor = self.ssl_proj(features)[0].transpose(0, 1)  # (T25, D)
        embed_t = self.embed.t()
        dist = -(x.pow(2).sum(1, keepdim=True) - 2 * x @ embed_t + embed_t.pow(2).sum(0, keepdim=True))
        return dist.argmax(dim=-1)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """codes (1, 1, Tn) -> (1, ssl_dim, Tn)."""
        return F.embedding(codes[0], self.embed).transpose(1, 2)


class SovitsDecoderModule(nn.Module):
    """The `vits_decoder` graph: tokens + phones + ge + scaled noise -> 32 kHz waveform (1, S)."""

    def __init__(self, dims: SovitsDims) -> None:
        super().__init__()
        self.dims = dims
        self.codebook = SemanticCodebook(dims.ssl_dim, dims.codebook_size)
        self.enc_p = TextEncoder(dims.text)
        self.flow = ReverseFlow(dims.flow)
        self.dec = Generator(dims.generator)
        self.ge_to512: nn.Linear | None = None
        if dims.ref.sv_dim is not None:
            self.ge_to512 = nn.Linear(dims.gin, dims.text.mrte_ge_dim)

    def forward(
        self, codes: torch.Tensor, phones: torch.Tensor, ge: torch.Tensor, noise: torch.Tensor, keep: torch.Tensor
    ) -> torch.Tensor:
        """codes (1,1,Tn) int64, phones (1,N) int64, ge (1,gin,1), noise (1,inter,F), keep (2,) int64
        -> wave (1, (keep[1] - keep[0]) * 640).

        `noise` is epsilon * noise_scale; its length F sets the frame count (2*Tn at speed 1). The
        latent covers all F frames; the generator, most of the work, runs on frames [keep[0], keep[1])
        only (zero-padded at their edges), so a streamed window need not synthesize its context.
        [0, F) is the whole decode.
        """
        quantized = self.codebook.decode(codes)
        # 25 Hz -> 50 Hz by nearest-neighbour doubling.
        ssl = quantized.unsqueeze(-1).expand(-1, -1, -1, FRAMES_PER_TOKEN).reshape(1, self.dims.ssl_dim, -1)
        ge_mrte = ge if self.ge_to512 is None else self.ge_to512(ge.transpose(1, 2)).transpose(1, 2)
        m_p, logs_p = self.enc_p(ssl, phones, ge_mrte, noise)
        z = self.flow(m_p + noise * torch.exp(logs_p), ge)
        wave: torch.Tensor = self.dec(z[:, :, keep[0] : keep[1]], ge)[:, 0]
        return wave


@dataclass
class SovitsModules:
    """The torch modules of one SoVITS checkpoint, weights loaded, in eval mode."""

    dims: SovitsDims
    decoder: SovitsDecoderModule
    ref_embedder: GlobalEmbedder
    codebook: SemanticCodebook


def build_sovits_modules(sovits: SovitsCheckpoint) -> SovitsModules:
    """Build and strictly load every inference module; ConversionError names a missing/extra/misshapen key."""
    reader = StateDictReader(fuse_weight_norm(sovits.weights), f"SoVITS checkpoint {sovits.path.name}")
    dims = infer_sovits_dims(sovits.version, sovits.config, reader)
    decoder = SovitsDecoderModule(dims)
    reader.load(decoder.enc_p, "enc_p.")
    reader.load(decoder.flow, "flow.")
    reader.load(decoder.dec, "dec.")
    if decoder.ge_to512 is not None:
        reader.load(decoder.ge_to512, "ge_to512.")
    codebook = SemanticCodebook(dims.ssl_dim, dims.codebook_size)
    reader.load(codebook.ssl_proj, "ssl_proj.")
    codebook.embed.copy_(reader.tensor(CODEBOOK_KEY))
    decoder.codebook.load_state_dict(codebook.state_dict())
    ref_embedder = GlobalEmbedder(dims.ref)
    reader.load(ref_embedder.ref_enc, "ref_enc.")
    if ref_embedder.sv_emb is not None and ref_embedder.prelu is not None:
        reader.load(ref_embedder.sv_emb, "sv_emb.")
        reader.load(ref_embedder.prelu, "prelu.")
    reader.mark_unused(UNUSED_KEYS)
    reader.check_all_used()
    return SovitsModules(dims, decoder.eval(), ref_embedder.eval(), codebook.eval())
