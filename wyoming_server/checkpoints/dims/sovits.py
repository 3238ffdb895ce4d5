"""Sizes of a SoVITS model (enc_p, flow, the HiFi-GAN generator `dec`, ref_enc), from its tensors and config.

Channels, kernels and layer counts come from tensor shapes (read after weight-norm pairs are fused,
whose fused shape is `weight_v`'s); strides, dilations and the resblock type from the config.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from ..errors import ConversionError
from .reader import TensorReader

SAMPLE_RATE_HZ: Final = 32000
HOP_SAMPLES: Final = 640
"""Samples per 50 Hz SoVITS frame; one 25 Hz semantic token is two frames."""
FRAMES_PER_TOKEN: Final = 2
DEFAULT_UPSAMPLE_RATES: Final = (10, 8, 2, 2, 2)
DEFAULT_DILATIONS: Final = (1, 3, 5)
CODEBOOK_KEY: Final = "quantizer.vq.layers.0._codebook.embed"
# EMA statistics of the k-means codebook: training state only.
UNUSED_KEYS: Final = (
    "quantizer.vq.layers.0._codebook.inited",
    "quantizer.vq.layers.0._codebook.cluster_size",
    "quantizer.vq.layers.0._codebook.embed_avg",
)


@dataclass(frozen=True)
class GeneratorDims:
    """Sizes of `dec`: channels and kernels from the tensors, strides and dilations from the config."""

    in_channels: int
    initial_channels: int
    gin: int
    upsample_rates: tuple[int, ...]
    upsample_kernels: tuple[int, ...]
    resblock_kernels: tuple[int, ...]
    resblock_dilations: tuple[tuple[int, ...], ...]

    @property
    def hop(self) -> int:
        """Output samples per input frame."""
        hop = 1
        for rate in self.upsample_rates:
            hop *= rate
        return hop


@dataclass(frozen=True)
class FlowDims:
    """Sizes of `flow`, inferred from its tensors."""

    channels: int
    hidden: int
    kernel_size: int
    wn_layers: int
    n_couplings: int
    gin: int


@dataclass(frozen=True)
class RefEncoderDims:
    """Sizes of `ref_enc` (+ the v2Pro speaker-verification projection)."""

    in_bins: int
    hidden: int
    kernel_size: int
    gin: int
    sv_dim: int | None
    """Input width of `sv_emb` (20480 for the real network); None for v2."""


@dataclass(frozen=True)
class TextEncoderDims:
    """Sizes of `enc_p`, inferred from its tensors."""

    ssl_dim: int
    hidden: int
    filter: int
    n_heads: int
    window: int
    kernel_size: int
    ssl_layers: int
    text_layers: int
    post_layers: int
    phone_count: int
    mrte_hidden: int
    mrte_ge_dim: int
    """Channels of the `ge` MRTE adds (gin for v2; the `ge_to512` output for v2Pro)."""
    inter: int


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


def _config_value(config: Mapping[str, Any], key: str, default: Any) -> Any:
    model = config.get("model", {}) if isinstance(config.get("model"), dict) else {}
    value = model.get(key)
    return default if value is None else value


def _count_flows(reader: TensorReader[Any]) -> int:
    n = 0
    while reader.has(f"flow.flows.{2 * n}.pre.weight"):
        n += 1
    return n


def _encoder_dims(reader: TensorReader[Any], gin: int, v2pro: bool) -> TextEncoderDims:
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


def _generator_dims(config: Mapping[str, Any], reader: TensorReader[Any], gin: int) -> GeneratorDims:
    if str(_config_value(config, "resblock", "1")) != "1":
        raise ConversionError(
            f"{reader.what}: only resblock type '1' is supported (every released model uses it)"
        )
    n_ups = reader.count("dec.ups.", ".weight")
    rates = tuple(int(r) for r in _config_value(config, "upsample_rates", DEFAULT_UPSAMPLE_RATES))
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
    configured = _config_value(config, "resblock_dilation_sizes", [DEFAULT_DILATIONS] * per_stage)
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


def infer_sovits_dims(version: str, config: Mapping[str, Any], reader: TensorReader[Any]) -> SovitsDims:
    """All sizes from the (weight-norm fused) tensors; ConversionError on a layout we cannot run."""
    frame_rate = str(_config_value(config, "semantic_frame_rate", "25hz"))
    if frame_rate != "25hz" or reader.shape("ssl_proj.weight")[2] != 2:
        raise ConversionError(f"{reader.what}: only 25 Hz semantic tokens are supported (got {frame_rate})")
    data = config.get("data", {}) if isinstance(config.get("data"), dict) else {}
    rate = data.get("sampling_rate", SAMPLE_RATE_HZ)
    if int(rate) != SAMPLE_RATE_HZ:
        raise ConversionError(
            f"{reader.what}: sampling rate {rate} Hz; v2/v2Pro/v2ProPlus models are 32000 Hz"
        )
    v2pro = version in ("v2Pro", "v2ProPlus")
    if v2pro != reader.has("sv_emb.weight"):
        raise ConversionError(
            f"{reader.what}: version {version} but sv_emb is {'absent' if v2pro else 'present'}"
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
        version=version,
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
        generator=_generator_dims(config, reader, gin),
        ref=RefEncoderDims(
            in_bins=reader.shape("ref_enc.spectral.0.fc.weight")[1],
            hidden=ref_fc[1],
            kernel_size=reader.shape("ref_enc.temporal.0.conv1.conv.weight")[2],
            gin=gin,
            sv_dim=reader.shape("sv_emb.weight")[1] if v2pro else None,
        ),
    )
