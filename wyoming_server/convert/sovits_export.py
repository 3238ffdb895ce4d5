"""The torch modules of the SoVITS side of a model folder, and their specs (plans: `importer/sovits_plans.py`).

`sovits_graph_specs` loads the SoVITS checkpoint, HuBERT and the speaker-verification network into
our torch modules and pairs each with its plan; the optional Chinese BERT (`bert_graph_specs`) has
its spec here alone, as only the torch converter makes it (dynamic INT8 MatMuls).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Final

import numpy as np
import torch

from ..checkpoints.dims.sovits import infer_sovits_dims
from ..checkpoints.errors import ConversionError
from ..importer.plans import Inputs
from ..importer.sovits_plans import check_helper_nets, sovits_plans
from .checkpoints import SovitsCheckpoint
from .graph import GraphSpec, with_module
from .torch_modules.bert import BertFeatures, load_bert, read_bert_vocab
from .torch_modules.eres2net import ERes2NetV2, load_eres2net
from .torch_modules.hubert import Hubert, load_hubert
from .torch_modules.sovits import SemanticCodebook, build_sovits_modules
from .torch_modules.state_dicts import StateDictReader, fuse_weight_norm

_LOGGER = logging.getLogger(__name__)

BERT_VOCAB_FILE: Final = "bert_vocab.txt"
"""Name of the BERT vocabulary (one token per line, line number = id) inside the model folder."""


class PromptExtractor(torch.nn.Module):
    """The `prompt_extractor` graph: 16 kHz wave (1, N) -> prompt semantic tokens (T25,) int64."""

    def __init__(self, hubert: Hubert, codebook: SemanticCodebook) -> None:
        super().__init__()
        self.hubert = hubert
        self.codebook = codebook

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """(1, N) float32 -> (T25,) int64."""
        return self.codebook.encode(self.hubert(wave).transpose(1, 2))


def sovits_dims(sovits: SovitsCheckpoint) -> dict[str, Any]:
    """The manifest's `dims["sovits"]` (gin, inter_channels, samples_per_token, version, ...)."""
    reader = StateDictReader(fuse_weight_norm(sovits.weights), f"SoVITS checkpoint {sovits.path.name}")
    return infer_sovits_dims(sovits.version, sovits.config, reader).to_manifest()


def sovits_graph_specs(
    sovits: SovitsCheckpoint, hubert_dir: Path, sv_path: Path | None, folder: Path
) -> list[GraphSpec]:
    """Specs of `prompt_extractor` (+ `sv_embedder` for v2Pro/v2ProPlus), `ref_embedder`, `vits_decoder`,
    in writing order; the decoder's calibration reads the enrollment graphs written into `folder`."""
    modules = build_sovits_modules(sovits)
    hubert = load_hubert(hubert_dir)
    sv: ERes2NetV2 | None = None
    if modules.dims.ref.sv_dim is None and sv_path is not None:
        _LOGGER.info("%s is a v2 model: the speaker-verification checkpoint is not used", sovits.path.name)
    if modules.dims.ref.sv_dim is not None and sv_path is not None:
        sv = load_eres2net(sv_path)
    check_helper_nets(
        modules.dims, sovits.path.name, hubert.dims, str(hubert_dir), sv.dims if sv else None,
        sv_path.name if sv_path else "",
    )
    torch_modules: dict[str, torch.nn.Module] = {
        "prompt_extractor": PromptExtractor(hubert, modules.codebook).eval(),
        "ref_embedder": modules.ref_embedder,
        "vits_decoder": modules.decoder,
        **({"sv_embedder": sv} if sv is not None else {}),
    }
    return [with_module(plan, torch_modules[plan.name]) for plan in sovits_plans(modules.dims, folder)]


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
