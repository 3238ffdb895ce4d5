"""Tiny T2S models converted by the real converter, for tests (and the inputs they take)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from wyoming_server.convert.checkpoints import GptCheckpoint, load_gpt_checkpoint
from wyoming_server.convert.graph import export_graph
from wyoming_server.convert.random_weights.gpt import tiny_gpt_state_dict
from wyoming_server.convert.t2s_export import t2s_dims, t2s_graph_specs
from wyoming_server.convert.torch_modules.t2s import T2SModel, load_t2s_model
from wyoming_server.engine.gpt_sovits.manifest import GraphEntry, Manifest
from wyoming_server.engine.gpt_sovits.model import GptSoVitsModel
from wyoming_server.engine.gpt_sovits.t2s import PREFILL_ON_STEP_GRAPH, T2SDecoder
from wyoming_server.importer.plans import GraphResult
from wyoming_server.importer.quantize import quantize_graph

Inputs = tuple[np.ndarray, np.ndarray, np.ndarray]
"""phones (N,) int64, bert (1024, N) float32, prompt (Tp,) int64."""


@dataclass(frozen=True)
class ConvertedT2S:
    """A tiny GPT checkpoint, its torch model and its converted graphs."""

    checkpoint: GptCheckpoint
    model: T2SModel
    out_dir: Path
    results: dict[str, GraphResult]

    def runtime_model(self, precision: str = "fp32") -> GptSoVitsModel:
        """This folder's graphs of that precision as the runtime loads them (sessions opened on first use)."""
        manifest = Manifest(
            version="v2",
            symbol_table="gpt-sovits-v2-732",
            dims={"t2s": t2s_dims(self.checkpoint)},
            graphs={name: GraphEntry(files=result.files) for name, result in self.results.items()},
            files={},
            precision=["fp32", "int8"],
        )
        return GptSoVitsModel(manifest, self.out_dir, precision, threads=1)

    def decoder(self, precision: str = "fp32", prefill_on_step_graph: bool = PREFILL_ON_STEP_GRAPH) -> T2SDecoder:
        """The runtime's T2SDecoder over this folder's graphs of that precision (INT8: with `t2s_step`)."""
        return T2SDecoder(self.runtime_model(precision), prefill_on_step_graph)


def convert_t2s(ckpt_path: Path, out_dir: Path, int8_kv_cache: bool = True) -> ConvertedT2S:
    """Load, export, verify and quantize both T2S graphs, and write the step graph (the converter's own path)."""
    checkpoint = load_gpt_checkpoint(ckpt_path)
    out_dir.mkdir(parents=True, exist_ok=True)
    results = {}
    for spec in t2s_graph_specs(checkpoint, int8_kv_cache):
        result = results[spec.name] = quantize_graph(spec, export_graph(spec, out_dir), out_dir)
        if spec.int8_companion is not None:
            companion = spec.int8_companion(out_dir / result.files["fp32"], out_dir / result.files["int8"])
            if companion is not None:
                results[companion.name] = companion
    return ConvertedT2S(checkpoint, load_t2s_model(checkpoint.weights, checkpoint.config), out_dir, results)


def eos_forcing_weights() -> dict[str, torch.Tensor]:
    """Tiny weights whose last layer outputs one constant vector b and whose EOS head row is 100 b.

    Then the EOS logit dominates every step: decoding must still give 11 tokens first.
    """
    state = tiny_gpt_state_dict(seed=3)
    last = max(int(k.split(".")[2]) for k in state if k.startswith("h.layers."))
    direction = torch.randn(
        state["ar_predict_layer.weight"].shape[1], generator=torch.Generator().manual_seed(5)
    )
    state[f"h.layers.{last}.norm2.weight"] = torch.zeros_like(direction)
    state[f"h.layers.{last}.norm2.bias"] = direction
    state["ar_predict_layer.weight"][-1] = 100.0 * direction
    return state
