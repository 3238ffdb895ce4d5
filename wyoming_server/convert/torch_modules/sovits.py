"""Our torch modules for a SoVITS checkpoint: sizes inferred from its tensors, weights loaded strictly.

`build_sovits_modules` turns a `SovitsCheckpoint` into the three modules the graphs are exported
from: the decoder (codebook lookup -> enc_p -> flow reverse -> HiFi-GAN), the reference
embedder (spectrogram [+ SV embedding] -> ge) and the semantic codebook (ssl_proj + nearest
codebook row, used by the prompt extractor). Every tensor of the checkpoint must be used by one
of them or be a known training-only buffer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import torch
from torch import nn
from torch.nn import functional as F

from ..checkpoints import SovitsCheckpoint
from ..errors import ConversionError
from .hifigan import Generator, GeneratorDims
from .sovits_flow import FlowDims, ReverseFlow
from .sovits_ref_encoder import GlobalEmbedder, RefEncoderDims
from .sovits_text_encoder import TextEncoder, TextEncoderDims
from .state_dicts import StateDictReader, fuse_weight_norm

SAMPLE_RATE_HZ: Final = 32000
HOP_SAMPLES: Final = 640
"""Samples per 50 Hz SoVITS frame; one 25 Hz semantic token is two frames."""
FRAMES_PER_TOKEN: Final = 2
DEFAULT_UPSAMPLE_RATES: Final = (10, 8, 2, 2, 2)
DEFAULT_DILATIONS: Final = (1, 3, 5)
CODEBOOK_KEY: Final = "quantizer.vq.layers.0._codebook.embed"
# EMA statistics of the k-means codebook: training state only.
_UNUSED_KEYS: Final = (
    "quantizer.vq.layers.0._codebook.inited",
    "quantizer.vq.layers.0._codebook.cluster_size",
    "quantizer.vq.layers.0._codebook.embed_avg",
)


@dataclass(frozen=True)
class SovitsDims:
    """Every size of a SoVITS model, inferred from its tensors (and strides from its config)."""

    version: str
    ssl_dim: int
    codebook_size: int
    text: TextEncoderDims
    flow: FlowDims
    generator: GeneratorDims
    ref: RefEncoderDims

    @property
    def gin(self) -> int:
        """Channels of ge."""
        return self.ref.gin

    def to_manifest(self) -> dict[str, Any]:
        """The manifest's `dims["sovits"]`: what the runtime needs to feed the graphs."""
        return {
            "version": self.version,
            "gin": self.gin,
            "inter_channels": self.text.inter,
            "hidden_channels": self.text.hidden,
            "phone_count": self.text.phone_count,
            "codebook_size": self.codebook_size,
            "ssl_dim": self.ssl_dim,
            "sv_dim": self.ref.sv_dim,
            "sample_rate_hz": SAMPLE_RATE_HZ,
            "hop_samples": self.generator.hop,
            "frames_per_token": FRAMES_PER_TOKEN,
            "samples_per_token": FRAMES_PER_TOKEN * self.generator.hop,
            "spec_bins": 1025,
            "ref_bins": self.ref.in_bins,
        }


def _config_value(sovits: SovitsCheckpoint, key: str, default: Any) -> Any:
    value = sovits.model_config.get(key)
    return default if value is None else value


def _count_flows(reader: StateDictReader) -> int:
    n = 0
    while reader.has(f"flow.flows.{2 * n}.pre.weight"):
        n += 1
    return n


def _encoder_dims(reader: StateDictReader, gin: int, v2pro: bool) -> TextEncoderDims:
    rel = reader.shape("enc_p.encoder_text.attn_layers.0.emb_rel_k")
    hidden = reader.shape("enc_p.ssl_proj.weight")[0]
    ffn = reader.shape("enc_p.encoder_text.ffn_layers.0.conv_1.weight")
    mrte_hidden = reader.shape("enc_p.mrte.c_pre.weight")[0]
    mrte_ge = reader.shape("ge_to512.weight")[0] if v2pro else gin
    if mrte_ge != mrte_hidden:
        raise ConversionError(
            f"{reader.what}: MRTE width {mrte_hidden} does not match the ge it is given ({mrte_ge} channels)"
        )
    if hidden % rel[2] or mrte_hidden % 4:
        raise ConversionError(
            f"{reader.what}: attention widths {hidden}/{mrte_hidden} do not split into heads"
        )
    return TextEncoderDims(
        ssl_dim=reader.shape("enc_p.ssl_proj.weight")[1],
        hidden=hidden,
        filter=ffn[0],
        n_heads=hidden // rel[2],
        window=(rel[1] - 1) // 2,
        kernel_size=ffn[2],
        ssl_layers=reader.count("enc_p.encoder_ssl.attn_layers.", ".conv_q.weight"),
        text_layers=reader.count("enc_p.encoder_text.attn_layers.", ".conv_q.weight"),
        post_layers=reader.count("enc_p.encoder2.attn_layers.", ".conv_q.weight"),
        phone_count=reader.shape("enc_p.text_embedding.weight")[0],
        mrte_hidden=mrte_hidden,
        mrte_ge_dim=mrte_ge,
        inter=reader.shape("enc_p.proj.weight")[0] // 2,
    )


def _generator_dims(sovits: SovitsCheckpoint, reader: StateDictReader, gin: int) -> GeneratorDims:
    if str(_config_value(sovits, "resblock", "1")) != "1":
        raise ConversionError(
            f"{reader.what}: only resblock type '1' is supported (every released model uses it)"
        )
    n_ups = reader.count("dec.ups.", ".weight")
    rates = tuple(int(r) for r in _config_value(sovits, "upsample_rates", DEFAULT_UPSAMPLE_RATES))
    if len(rates) != n_ups:
        raise ConversionError(
            f"{reader.what}: config lists {len(rates)} upsample rates but dec has {n_ups} stages"
        )
    n_blocks = reader.count("dec.resblocks.", ".convs1.0.weight")
    if n_ups == 0 or n_blocks % n_ups:
        raise ConversionError(f"{reader.what}: dec has {n_blocks} resblocks for {n_ups} upsampling stages")
    per_stage = n_blocks // n_ups
    kernels = tuple(reader.shape(f"dec.resblocks.{j}.convs1.0.weight")[2] for j in range(per_stage))
    convs = [reader.count(f"dec.resblocks.{j}.convs1.", ".weight") for j in range(per_stage)]
    configured = _config_value(sovits, "resblock_dilation_sizes", [DEFAULT_DILATIONS] * per_stage)
    dilations = tuple(tuple(int(d) for d in ds) for ds in configured)
    if len(dilations) != per_stage or any(len(d) != n for d, n in zip(dilations, convs, strict=False)):
        raise ConversionError(f"{reader.what}: resblock dilations {dilations} do not match the dec tensors")
    dims = GeneratorDims(
        in_channels=reader.shape("dec.conv_pre.weight")[1],
        initial_channels=reader.shape("dec.conv_pre.weight")[0],
        gin=gin,
        upsample_rates=rates,
        upsample_kernels=tuple(reader.shape(f"dec.ups.{i}.weight")[2] for i in range(n_ups)),
        resblock_kernels=kernels,
        resblock_dilations=dilations,
    )
    if dims.hop != HOP_SAMPLES:
        raise ConversionError(
            f"{reader.what}: upsample rates {rates} give {dims.hop} samples per frame, not 640"
        )
    return dims


def infer_sovits_dims(sovits: SovitsCheckpoint, reader: StateDictReader) -> SovitsDims:
    """All sizes from the (weight-norm fused) tensors; ConversionError on a layout we cannot run."""
    frame_rate = str(_config_value(sovits, "semantic_frame_rate", "25hz"))
    if frame_rate != "25hz" or reader.shape("ssl_proj.weight")[2] != 2:
        raise ConversionError(f"{reader.what}: only 25 Hz semantic tokens are supported (got {frame_rate})")
    rate = sovits.config.get("data", {}).get("sampling_rate", SAMPLE_RATE_HZ)
    if int(rate) != SAMPLE_RATE_HZ:
        raise ConversionError(
            f"{reader.what}: sampling rate {rate} Hz; v2/v2Pro/v2ProPlus models are 32000 Hz"
        )
    v2pro = sovits.version in ("v2Pro", "v2ProPlus")
    if v2pro != reader.has("sv_emb.weight"):
        raise ConversionError(
            f"{reader.what}: version {sovits.version} but sv_emb is {'absent' if v2pro else 'present'}"
        )
    ref_fc = reader.shape("ref_enc.fc.fc.weight")
    gin = ref_fc[0]
    codebook = reader.shape(CODEBOOK_KEY)
    flow_pre = reader.shape("flow.flows.0.pre.weight")
    text = _encoder_dims(reader, gin, v2pro)
    if codebook[1] != text.ssl_dim:
        raise ConversionError(
            f"{reader.what}: codebook width {codebook[1]} != enc_p.ssl_proj input {text.ssl_dim}"
        )
    return SovitsDims(
        version=sovits.version,
        ssl_dim=codebook[1],
        codebook_size=codebook[0],
        text=text,
        flow=FlowDims(
            channels=flow_pre[1] * 2,
            hidden=flow_pre[0],
            kernel_size=reader.shape("flow.flows.0.enc.in_layers.0.weight")[2],
            wn_layers=reader.count("flow.flows.0.enc.in_layers.", ".weight"),
            n_couplings=_count_flows(reader),
            gin=gin,
        ),
        generator=_generator_dims(sovits, reader, gin),
        ref=RefEncoderDims(
            in_bins=reader.shape("ref_enc.spectral.0.fc.weight")[1],
            hidden=ref_fc[1],
            kernel_size=reader.shape("ref_enc.temporal.0.conv1.conv.weight")[2],
            gin=gin,
            sv_dim=reader.shape("sv_emb.weight")[1] if v2pro else None,
        ),
    )


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
    dims = infer_sovits_dims(sovits, reader)
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
    reader.mark_unused(_UNUSED_KEYS)
    reader.check_all_used()
    return SovitsModules(dims, decoder.eval(), ref_embedder.eval(), codebook.eval())
