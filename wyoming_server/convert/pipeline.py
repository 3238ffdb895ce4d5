"""`convert_model` with the torch exporter: the reference converter (the pipeline is `importer/pipeline.py`)."""

from __future__ import annotations

from pathlib import Path

from ..engine.gpt_sovits.manifest import Manifest
from ..importer.pipeline import PRECISION_CHOICES, Progress
from ..importer.pipeline import convert_model as run_pipeline
from .torch_graphs import TorchSources

__all__ = ["PRECISION_CHOICES", "Progress", "convert_model"]


def convert_model(
    gpt: Path,
    sovits: Path,
    hubert_dir: Path,
    out_dir: Path,
    *,
    sv: Path | None = None,
    bert_dir: Path | None = None,
    precision: str = "both",
    overwrite: bool = False,
    progress: Progress | None = None,
    int8_kv_cache: bool = True,
) -> Manifest:
    """Convert official GPT-SoVITS checkpoints into a model folder with torch; raises ConversionError."""
    return run_pipeline(
        gpt, sovits, hubert_dir, out_dir, open_sources=TorchSources, sv=sv, bert_dir=bert_dir,
        precision=precision, overwrite=overwrite, progress=progress, int8_kv_cache=int8_kv_cache,
    )
