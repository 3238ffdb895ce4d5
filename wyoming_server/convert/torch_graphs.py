"""The torch converter's `ModelSources`: checkpoints read with torch, graphs exported from our modules.

This is the reference: every graph is exported from our torch modules (which load the official
state dicts strictly) and checked against them (`graph.export_graph`). The template converter
(`importer/templates.py`) must agree with it; the shared pipeline is `importer/pipeline.py`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..checkpoints.dims.t2s import sampling_defaults
from ..checkpoints.official import PRO_VERSIONS
from ..importer.plans import GraphPlan, GraphResult
from .checkpoints import GptCheckpoint, SovitsCheckpoint, check_pair, load_gpt_checkpoint, load_sovits_checkpoint
from .graph import GraphSpec, export_graph
from .sovits_export import bert_dims, bert_extra_files, bert_graph_specs, sovits_dims, sovits_graph_specs
from .t2s_export import t2s_dims, t2s_graph_specs

CONVERTER = "torch export"


class TorchSources:
    """GPT + SoVITS read with torch.load; HuBERT, SV and BERT are loaded when the graphs are planned."""

    converter = CONVERTER

    def __init__(self, gpt: Path, sovits: Path, hubert_dir: Path, sv: Path | None, bert_dir: Path | None) -> None:
        self.gpt: GptCheckpoint = load_gpt_checkpoint(gpt)
        self.sovits: SovitsCheckpoint = load_sovits_checkpoint(sovits)
        check_pair(self.gpt, self.sovits)
        self.version = self.sovits.version
        self.hubert_dir = hubert_dir
        self.sv = sv if self.version in PRO_VERSIONS else None
        self.bert_dir = bert_dir
        self._specs: dict[str, GraphSpec] = {}

    def manifest_dims(self) -> dict[str, Any]:
        """t2s and sovits sizes (+ bert)."""
        dims = {"t2s": t2s_dims(self.gpt), "sovits": sovits_dims(self.sovits)}
        return {**dims, **({"bert": bert_dims(self.bert_dir)} if self.bert_dir is not None else {})}

    def sampling_defaults(self) -> dict[str, Any]:
        """top_k from the GPT's config."""
        return sampling_defaults(self.gpt.config)

    def plans(self, folder: Path, int8_kv_cache: bool) -> list[GraphPlan]:
        """The specs (plans with their torch modules), built from the checkpoints."""
        specs = [
            *t2s_graph_specs(self.gpt, int8_kv_cache),
            *sovits_graph_specs(self.sovits, self.hubert_dir, self.sv, folder),
            *(bert_graph_specs(self.bert_dir) if self.bert_dir is not None else []),
        ]
        self._specs = {spec.name: spec for spec in specs}
        return list(specs)

    def write_fp32(self, plan: GraphPlan, folder: Path) -> GraphResult:
        """Export the plan's module and check it against torch."""
        return export_graph(self._specs[plan.name], folder)

    def extra_files(self) -> dict[str, bytes]:
        """The BERT vocabulary, with BERT."""
        return bert_extra_files(self.bert_dir) if self.bert_dir is not None else {}

    def close(self) -> None:
        """Drop the modules (torch.load holds no file open)."""
        self._specs = {}
