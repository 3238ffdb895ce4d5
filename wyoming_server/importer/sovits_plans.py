"""Plans of the SoVITS side of a model folder: decoder, reference embedder, prompt extractor and
speaker-verification embedder, in the order they must be written.

Precision choices per graph (the measurements behind them are in docs/decisions.md, "SoVITS decoder"):
- `vits_decoder`: static per-channel QDQ (uint8 activations, int8 weights) on the convolutions of
  the generator's residual blocks, except the cheapest ones (`generator_int8_prefixes`); the
  other residual blocks, the upsampling ConvTransposes, conv_pre, conv_post, the flow and enc_p
  compute in fp32, their weights stored as per-channel int16; calibrated on realistic inputs, which
  the folder's enrollment graphs make (so those are written first);
- `ref_embedder`, `prompt_extractor`, `sv_embedder`: fp32 only. They run once per enrollment, and
  the prompt tokens are an argmin over codebook distances that INT8 flips (pitfall 16).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import numpy as np
from numpy.typing import NDArray

from ..checkpoints.dims.hubert import HubertDims
from ..checkpoints.dims.sovits import GeneratorDims, SovitsDims
from ..checkpoints.dims.sv import SvDims
from ..checkpoints.errors import ConversionError
from ..engine.gpt_sovits.reference import kaldi_fbank, linear_spectrogram
from ..engine.gpt_sovits.sovits import frame_count
from .calibration import (
    NOISE_SCALE,
    PROMPT_EXTRACTOR,
    PROMPT_TAIL_SAMPLES_16K,
    REF_EMBEDDER,
    SV_EMBEDDER,
    LazyReferences,
    decoder_calibration_sets,
    synthetic_voice,
)
from .plans import GraphPlan, Inputs

VITS_DECODER: Final = "vits_decoder"
CALIBRATION_CLIPS: Final = 2
"""Synthetic reference clips behind the decoder's calibration sets (x4 speeds/sentences each)."""
VERIFY_SPEEDS: Final = (1.0, 0.8, 1.25)
DECODER_CONV_OPS: Final = ("Conv",)
"""ConvTranspose stays fp32: onnxruntime has no fused int8 kernel for it, so INT8 would only add rounding."""
PROMPT_TOKEN_MISMATCH: Final = 0.02
SV_TOLERANCE: Final = 1e-3
"""The 16-block speaker-verification network accumulates rounding: on a random network of the
released size, torch's own fp32 output differs from fp64 by up to 1e-4 of its scale."""
FP32_RESBLOCK_SHARE: Final = 0.04
"""A residual block holding less than this share of the residual blocks' multiply-adds stays fp32:
each block's INT8 adds about the same noise, so the cheapest blocks buy the most SNR per unit of time."""
DECODER_INT8_NOTE: Final = (
    "static QDQ: per-channel int8 weights, uint8 activations (MinMax, calibrated on voice-like clips "
    "through the folder's prompt_extractor and ref_embedder) on the Conv layers of the generator "
    "residual blocks {int8} (each >= {share:.0%} of the blocks' multiply-adds); residual blocks {fp32}, "
    "upsampling ConvTranspose, conv_pre, conv_post, flow and enc_p fp32, their weights stored as "
    "per-channel int16"
)


def resblock_macs(generator: GeneratorDims) -> list[int]:
    """Multiply-adds per input frame of each residual block, in `dec.resblocks` order (stage by stage)."""
    macs = []
    rate = 1
    for stage, upsample in enumerate(generator.upsample_rates):
        rate *= upsample
        channels = generator.initial_channels // 2 ** (stage + 1)
        for kernel, dilations in zip(generator.resblock_kernels, generator.resblock_dilations, strict=True):
            macs.append(2 * len(dilations) * channels * channels * kernel * rate)
    return macs


def int8_resblocks(generator: GeneratorDims) -> list[int]:
    """Indices of the residual blocks we quantize: those with at least FP32_RESBLOCK_SHARE of the
    blocks' multiply-adds (docs/decisions.md, "SoVITS decoder")."""
    macs = resblock_macs(generator)
    total = sum(macs)
    return [j for j, count in enumerate(macs) if count >= FP32_RESBLOCK_SHARE * total]


def generator_int8_prefixes(generator: GeneratorDims) -> tuple[str, ...]:
    """ONNX node-name prefixes of the generator layers we quantize (`int8_resblocks`)."""
    return tuple(f"/dec/resblocks.{j}/" for j in int8_resblocks(generator))


def decoder_int8_note(generator: GeneratorDims) -> str:
    """DECODER_INT8_NOTE for this generator's sizes."""
    quantized = int8_resblocks(generator)
    kept = [j for j in range(len(resblock_macs(generator))) if j not in quantized]
    return DECODER_INT8_NOTE.format(
        int8=", ".join(map(str, quantized)), fp32=", ".join(map(str, kept)) or "none", share=FP32_RESBLOCK_SHARE
    )


def check_helper_nets(
    dims: SovitsDims, sovits_name: str, hubert: HubertDims, hubert_name: str, sv: SvDims | None, sv_name: str
) -> None:
    """The HuBERT and speaker-verification networks must give the widths the SoVITS model expects."""
    if hubert.hidden != dims.ssl_dim:
        raise ConversionError(
            f"HuBERT in {hubert_name} gives {hubert.hidden}-d features but {sovits_name} expects "
            f"{dims.ssl_dim}-d (use the chinese-hubert-base folder of this GPT-SoVITS version)"
        )
    if dims.ref.sv_dim is not None:
        if sv is None:
            raise ConversionError(
                f"{sovits_name} is a {dims.version} model: pass the speaker-verification checkpoint "
                "(--sv .../sv/pretrained_eres2netv2w24s4ep4.ckpt)"
            )
        if sv.output_dim != dims.ref.sv_dim:
            raise ConversionError(
                f"speaker-verification checkpoint {sv_name} gives {sv.output_dim}-d embeddings but "
                f"{sovits_name} expects {dims.ref.sv_dim}-d"
            )


def _voice_16k(rng: np.random.Generator, low_s: float, high_s: float) -> NDArray[np.float32]:
    return synthetic_voice(float(rng.uniform(low_s, high_s)), 16000, int(rng.integers(1 << 30)))


def decoder_plan(dims: SovitsDims, references: LazyReferences) -> GraphPlan:
    """`vits_decoder`: codes + phones + ge + noise + keep -> 32 kHz wave; static QDQ INT8."""

    def sample(rng: np.random.Generator) -> Inputs:
        tokens, phones = int(rng.integers(4, 20)), int(rng.integers(3, 20))
        speed = float(VERIFY_SPEEDS[int(rng.integers(len(VERIFY_SPEEDS)))])
        known = references.get()
        ge = known[int(rng.integers(len(known)))].ge
        frames = frame_count(tokens, speed)
        # Every other sample keeps only part of the frames, as a streamed window does.
        start = int(rng.integers(0, frames // 2)) if rng.random() < 0.5 else 0
        stop = int(rng.integers(start + 1, frames + 1)) if start else frames
        return {
            "codes": rng.integers(0, dims.codebook_size, (1, 1, tokens)).astype(np.int64),
            "phones": rng.integers(0, dims.text.phone_count, (1, phones)).astype(np.int64),
            "ge": ge.astype(np.float32),
            "noise": (rng.standard_normal((1, dims.text.inter, frames)) * NOISE_SCALE).astype(np.float32),
            "keep": np.array([start, stop], dtype=np.int64),
        }

    return GraphPlan(
        name=VITS_DECODER,
        input_names=["codes", "phones", "ge", "noise", "keep"],
        output_names=["wave"],
        sample_inputs=sample,
        dynamic_axes={"codes": {2: "tokens"}, "phones": {1: "phones"}, "noise": {2: "frames"}, "wave": {1: "samples"}},
        quantization="static",
        calibration_inputs=lambda: decoder_calibration_sets(references.get(), dims.text.inter),
        static_op_types=DECODER_CONV_OPS,
        static_node_prefixes=generator_int8_prefixes(dims.generator),
        static_unsigned_activations=True,
        int16_weights=True,
        int8_note=decoder_int8_note(dims.generator),
    )


def ref_embedder_plan(dims: SovitsDims) -> GraphPlan:
    """`ref_embedder`: linear spectrogram [+ SV embedding] -> ge; fp32 only."""
    sv_dim = dims.ref.sv_dim

    def sample(rng: np.random.Generator) -> Inputs:
        clip = synthetic_voice(float(rng.uniform(1.0, 4.0)), 32000, int(rng.integers(1 << 30)))
        inputs: Inputs = {"spec": linear_spectrogram(clip)}
        if sv_dim is not None:
            inputs["sv_emb"] = (rng.standard_normal((1, sv_dim)) * 0.5).astype(np.float32)
        return inputs

    return GraphPlan(
        name=REF_EMBEDDER,
        input_names=["spec"] if sv_dim is None else ["spec", "sv_emb"],
        output_names=["ge"],
        sample_inputs=sample,
        dynamic_axes={"spec": {2: "frames"}},
    )


def prompt_extractor_plan() -> GraphPlan:
    """`prompt_extractor`: 16 kHz wave -> HuBERT -> ssl_proj -> nearest codebook row; fp32 only."""

    def sample(rng: np.random.Generator) -> Inputs:
        clip = np.concatenate([_voice_16k(rng, 1.0, 3.0), np.zeros(PROMPT_TAIL_SAMPLES_16K, np.float32)])
        return {"wave": clip[None]}

    return GraphPlan(
        name=PROMPT_EXTRACTOR,
        input_names=["wave"],
        output_names=["codes"],
        sample_inputs=sample,
        dynamic_axes={"wave": {1: "samples"}, "codes": {0: "tokens"}},
        verify_runs=2,
        # A token whose two nearest codebook rows are within float rounding may flip between torch
        # and onnxruntime; that is not a conversion error. Anything more is.
        integer_mismatch=PROMPT_TOKEN_MISMATCH,
    )


def sv_embedder_plan() -> GraphPlan:
    """`sv_embedder`: 80-bin fbank -> speaker-verification embedding; fp32 only."""

    def sample(rng: np.random.Generator) -> Inputs:
        return {"fbank": kaldi_fbank(_voice_16k(rng, 1.0, 3.0))}

    return GraphPlan(
        name=SV_EMBEDDER,
        input_names=["fbank"],
        output_names=["sv_emb"],
        sample_inputs=sample,
        dynamic_axes={"fbank": {1: "frames"}},
        tolerance=SV_TOLERANCE,
        verify_runs=2,
    )


def sovits_plans(dims: SovitsDims, folder: Path) -> list[GraphPlan]:
    """The SoVITS side's plans in writing order: the enrollment graphs, then the decoder they calibrate."""
    plans = [prompt_extractor_plan()]
    if dims.ref.sv_dim is not None:
        plans.append(sv_embedder_plan())
    plans += [ref_embedder_plan(dims), decoder_plan(dims, LazyReferences(folder, CALIBRATION_CLIPS))]
    return plans
