"""Graph specs for the SoVITS side of a model folder: decoder, reference embedder, prompt extractor,
speaker-verification embedder, and (optionally) Chinese BERT.

The converter orchestration (the `convert` command) calls `sovits_graph_specs` / `bert_graph_specs`,
exports each spec with `graph.export_graph` (verified against the torch module) and, for INT8,
`graph.quantize_graph`. Precision choices per graph (the measurements behind them are in
docs/decisions.md, "SoVITS decoder"):
- `vits_decoder`: static per-channel QDQ (uint8 activations, int8 weights) on the convolutions of
  the generator's residual blocks, all five stages; the upsampling ConvTransposes, conv_pre,
  conv_post, the flow and enc_p stay fp32; calibrated on realistic inputs;
- `bert`: dynamic INT8 MatMuls;
- `ref_embedder`, `prompt_extractor`, `sv_embedder`: fp32 only. They run once per enrollment, and
  the prompt tokens are an argmin over codebook distances that INT8 flips (pitfall 16).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Final

import numpy as np
import torch
from numpy.typing import NDArray

from ..checkpoints.dims.sovits import infer_sovits_dims
from ..engine.gpt_sovits.reference import kaldi_fbank, linear_spectrogram
from ..engine.gpt_sovits.sovits import frame_count
from .checkpoints import SovitsCheckpoint
from .errors import ConversionError
from .graph import GraphSpec, Inputs
from .sovits_calibration import (
    NOISE_SCALE,
    PROMPT_TAIL_SAMPLES_16K,
    ReferenceFeatures,
    decoder_calibration_sets,
    synthetic_voice,
)
from .torch_modules.bert import BertFeatures, load_bert, read_bert_vocab
from .torch_modules.eres2net import ERes2NetV2, load_eres2net, sv_output_dim
from .torch_modules.hubert import Hubert, load_hubert
from .torch_modules.sovits import SemanticCodebook, SovitsModules, build_sovits_modules
from .torch_modules.state_dicts import StateDictReader, fuse_weight_norm

_LOGGER = logging.getLogger(__name__)

BERT_VOCAB_FILE: Final = "bert_vocab.txt"
"""Name of the BERT vocabulary (one token per line, line number = id) inside the model folder."""
CALIBRATION_CLIPS: Final = 2
"""Synthetic reference clips behind the decoder's calibration sets (x4 speeds/sentences each)."""
VERIFY_SPEEDS: Final = (1.0, 0.8, 1.25)
DECODER_CONV_OPS: Final = ("Conv",)
"""ConvTranspose stays fp32: onnxruntime has no fused int8 kernel for it, so INT8 would only add rounding."""
PROMPT_TOKEN_MISMATCH: Final = 0.02


class PromptExtractor(torch.nn.Module):
    """The `prompt_extractor` graph: 16 kHz wave (1, N) -> prompt semantic tokens (T25,) int64."""

    def __init__(self, hubert: Hubert, codebook: SemanticCodebook) -> None:
        super().__init__()
        self.hubert = hubert
        self.codebook = codebook

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """(1, N) float32 -> (T25,) int64."""
        return self.codebook.encode(self.hubert(wave).transpose(1, 2))


def generator_int8_prefixes(upsample_rates: tuple[int, ...], kernels_per_stage: int) -> tuple[str, ...]:
    """ONNX node-name prefixes of the generator layers we quantize: the residual blocks of every stage,
    which hold nearly all of the decoder's multiply-adds (docs/decisions.md, "SoVITS decoder")."""
    return tuple(f"/dec/resblocks.{j}/" for j in range(len(upsample_rates) * kernels_per_stage))


def sovits_dims(sovits: SovitsCheckpoint) -> dict[str, Any]:
    """The manifest's `dims["sovits"]` (gin, inter_channels, samples_per_token, version, ...)."""
    reader = StateDictReader(fuse_weight_norm(sovits.weights), f"SoVITS checkpoint {sovits.path.name}")
    return infer_sovits_dims(sovits.version, sovits.config, reader).to_manifest()


def _voice_16k(rng: np.random.Generator, low_s: float, high_s: float) -> NDArray[np.float32]:
    return synthetic_voice(float(rng.uniform(low_s, high_s)), 16000, int(rng.integers(1 << 30)))


def _decoder_spec(modules: SovitsModules, references: list[ReferenceFeatures]) -> GraphSpec:
    dims = modules.dims

    def sample(rng: np.random.Generator) -> Inputs:
        tokens, phones = int(rng.integers(4, 20)), int(rng.integers(3, 20))
        speed = float(VERIFY_SPEEDS[int(rng.integers(len(VERIFY_SPEEDS)))])
        ge = references[int(rng.integers(len(references)))].ge
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

    return GraphSpec(
        name="vits_decoder",
        module=modules.decoder,
        input_names=["codes", "phones", "ge", "noise", "keep"],
        output_names=["wave"],
        sample_inputs=sample,
        dynamic_axes={
            "codes": {2: "tokens"},
            "phones": {1: "phones"},
            "noise": {2: "frames"},
            "wave": {1: "samples"},
        },
        quantization="static",
        calibration_inputs=lambda: decoder_calibration_sets(references, dims.text.inter),
        static_op_types=DECODER_CONV_OPS,
        static_node_prefixes=generator_int8_prefixes(
            dims.generator.upsample_rates, len(dims.generator.resblock_kernels)
        ),
        static_unsigned_activations=True,
        int8_note=(
            "static QDQ: per-channel int8 weights, uint8 activations (MinMax, calibrated on voice-like clips "
            "through the converter's HuBERT and reference modules) on the Conv layers of every generator "
            "residual block; upsampling ConvTranspose, conv_pre, conv_post, flow and enc_p fp32"
        ),
    )


def _ref_embedder_spec(modules: SovitsModules) -> GraphSpec:
    sv_dim = modules.dims.ref.sv_dim

    def sample(rng: np.random.Generator) -> Inputs:
        clip = synthetic_voice(float(rng.uniform(1.0, 4.0)), 32000, int(rng.integers(1 << 30)))
        inputs: Inputs = {"spec": linear_spectrogram(clip)}
        if sv_dim is not None:
            inputs["sv_emb"] = (rng.standard_normal((1, sv_dim)) * 0.5).astype(np.float32)
        return inputs

    return GraphSpec(
        name="ref_embedder",
        module=modules.ref_embedder,
        input_names=["spec"] if sv_dim is None else ["spec", "sv_emb"],
        output_names=["ge"],
        sample_inputs=sample,
        dynamic_axes={"spec": {2: "frames"}},
    )


def _prompt_extractor_spec(extractor: PromptExtractor) -> GraphSpec:
    def sample(rng: np.random.Generator) -> Inputs:
        clip = np.concatenate([_voice_16k(rng, 1.0, 3.0), np.zeros(PROMPT_TAIL_SAMPLES_16K, np.float32)])
        return {"wave": clip[None]}

    return GraphSpec(
        name="prompt_extractor",
        module=extractor,
        input_names=["wave"],
        output_names=["codes"],
        sample_inputs=sample,
        dynamic_axes={"wave": {1: "samples"}, "codes": {0: "tokens"}},
        verify_runs=2,
        # A token whose two nearest codebook rows are within float rounding may flip between torch
        # and onnxruntime; that is not a conversion error. Anything more is.
        integer_mismatch=PROMPT_TOKEN_MISMATCH,
    )


def _sv_embedder_spec(sv: ERes2NetV2) -> GraphSpec:
    def sample(rng: np.random.Generator) -> Inputs:
        return {"fbank": kaldi_fbank(_voice_16k(rng, 1.0, 3.0))}

    return GraphSpec(
        name="sv_embedder",
        module=sv,
        input_names=["fbank"],
        output_names=["sv_emb"],
        sample_inputs=sample,
        dynamic_axes={"fbank": {1: "frames"}},
        verify_runs=2,
    )


def sovits_graph_specs(sovits: SovitsCheckpoint, hubert_dir: Path, sv_path: Path | None) -> list[GraphSpec]:
    """Specs of `vits_decoder`, `ref_embedder`, `prompt_extractor` (+ `sv_embedder` for v2Pro/v2ProPlus)."""
    modules = build_sovits_modules(sovits)
    hubert = load_hubert(hubert_dir)
    if hubert.dims.hidden != modules.dims.ssl_dim:
        raise ConversionError(
            f"HuBERT in {hubert_dir} gives {hubert.dims.hidden}-d features but {sovits.path.name} expects "
            f"{modules.dims.ssl_dim}-d (use the chinese-hubert-base folder of this GPT-SoVITS version)"
        )
    extractor = PromptExtractor(hubert, modules.codebook).eval()
    sv: ERes2NetV2 | None = None
    if modules.dims.ref.sv_dim is None and sv_path is not None:
        _LOGGER.info("%s is a v2 model: the speaker-verification checkpoint is not used", sovits.path.name)
    if modules.dims.ref.sv_dim is not None:
        if sv_path is None:
            raise ConversionError(
                f"{sovits.path.name} is a {sovits.version} model: pass the speaker-verification checkpoint "
                "(--sv .../sv/pretrained_eres2netv2w24s4ep4.ckpt)"
            )
        sv = load_eres2net(sv_path)
        if sv_output_dim(sv) != modules.dims.ref.sv_dim:
            raise ConversionError(
                f"speaker-verification checkpoint {sv_path.name} gives {sv_output_dim(sv)}-d embeddings but "
                f"{sovits.path.name} expects {modules.dims.ref.sv_dim}-d"
            )
    references = [
        ReferenceFeatures(extractor, modules.ref_embedder, sv, seed=seed) for seed in range(CALIBRATION_CLIPS)
    ]
    specs = [
        _decoder_spec(modules, references),
        _ref_embedder_spec(modules),
        _prompt_extractor_spec(extractor),
    ]
    if sv is not None:
        specs.append(_sv_embedder_spec(sv))
    return specs


def bert_graph_specs(bert_dir: Path) -> list[GraphSpec]:
    """Spec of the optional `bert` graph: input_ids (1, L) -> features (L-2, hidden), dynamic INT8."""
    model: BertFeatures = load_bert(bert_dir)
    vocab = model.dims.vocab

    def sample(rng: np.random.Generator) -> Inputs:
        return {"input_ids": rng.integers(0, vocab, (1, int(rng.integers(4, 40)))).astype(np.int64)}

    return [
        GraphSpec(
            name="bert",
            module=model,
            input_names=["input_ids"],
            output_names=["features"],
            sample_inputs=sample,
            dynamic_axes={"input_ids": {1: "tokens"}, "features": {0: "chars"}},
            quantization="dynamic",
            int8_note="dynamic INT8 MatMuls (per-tensor int8 weights); embeddings and LayerNorm fp32",
        )
    ]


def bert_dims(bert_dir: Path) -> dict[str, Any]:
    """The manifest's `dims["bert"]`: feature width, characters per call, the vocabulary file's name."""
    model = load_bert(bert_dir)
    return {
        "hidden": model.dims.hidden,
        "layers": model.dims.layers,
        "max_chars": model.dims.max_positions - 2,
        "vocab_file": BERT_VOCAB_FILE,
    }


def bert_extra_files(bert_dir: Path) -> dict[str, bytes]:
    """Files to write into the model folder next to the `bert` graph: {name: content}."""
    tokens = read_bert_vocab(bert_dir)
    if "[CLS]" not in tokens or "[SEP]" not in tokens or "[UNK]" not in tokens:
        raise ConversionError(f"BERT vocabulary in {bert_dir} lacks [CLS], [SEP] or [UNK]")
    return {BERT_VOCAB_FILE: ("\n".join(tokens) + "\n").encode("utf-8")}
