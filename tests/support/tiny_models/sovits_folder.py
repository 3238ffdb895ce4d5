"""Tiny SoVITS-side model folders, converted by the real graph specs, for engine and converter tests.

`cached_sovits_folder` converts once per test session and per variant (the folder holds only the
SoVITS graphs and a minimal manifest; the converter command writes the full one).
`sovits_model` opens such a folder as a `GptSoVitsModel` without the T2S graphs it would require.
"""

from __future__ import annotations

import atexit
import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from wyoming_server.convert.checkpoints import load_sovits_checkpoint
from wyoming_server.convert.graph import export_graph
from wyoming_server.convert.random_weights.sovits import (
    write_tiny_bert,
    write_tiny_hubert,
    write_tiny_sovits,
    write_tiny_sv,
)
from wyoming_server.convert.sovits_export import (
    bert_dims,
    bert_extra_files,
    bert_graph_specs,
    sovits_dims,
    sovits_graph_specs,
)
from wyoming_server.engine.gpt_sovits.manifest import (
    MANIFEST_NAME,
    SYMBOL_TABLE_V2,
    GraphEntry,
    Manifest,
    sha256_file,
)
from wyoming_server.engine.gpt_sovits.model import GptSoVitsModel
from wyoming_server.importer.plans import GraphResult
from wyoming_server.importer.quantize import quantize_graph

TINY_BERT_HIDDEN: Final = 32


@dataclass(frozen=True)
class SovitsFolder:
    """A converted tiny folder and the source files it was made from."""

    model_dir: Path
    sovits_path: Path
    hubert_dir: Path
    sv_path: Path
    bert_dir: Path | None
    results: dict[str, GraphResult]


def convert_sovits_folder(
    model_dir: Path,
    sovits_path: Path,
    hubert_dir: Path,
    sv_path: Path | None,
    bert_dir: Path | None = None,
    int8: bool = False,
    skip: tuple[str, ...] = (),
) -> dict[str, GraphResult]:
    """Export (and verify) the SoVITS graphs of given source files into `model_dir`, with a manifest."""
    model_dir.mkdir(parents=True)
    checkpoint = load_sovits_checkpoint(sovits_path)
    specs = sovits_graph_specs(checkpoint, hubert_dir, sv_path, model_dir)
    dims = {"sovits": sovits_dims(checkpoint)}
    if bert_dir is not None:
        specs += bert_graph_specs(bert_dir)
        dims["bert"] = bert_dims(bert_dir)
        for name, content in bert_extra_files(bert_dir).items():
            (model_dir / name).write_bytes(content)
    results: dict[str, GraphResult] = {}
    for spec in specs:
        if spec.name in skip:
            continue
        result = export_graph(spec, model_dir)
        results[spec.name] = quantize_graph(spec, result, model_dir) if int8 else result
    manifest = Manifest(
        version=checkpoint.version,
        symbol_table=SYMBOL_TABLE_V2,
        dims=dims,
        graphs={
            r.name: GraphEntry(files=r.files, max_abs_error=r.max_abs_error, int8=r.int8_error or None)
            for r in results.values()
        },
        files={
            p.name: {"sha256": sha256_file(p), "bytes": p.stat().st_size}
            for p in sorted(model_dir.iterdir())
            if p.is_file()
        },
        precision=["fp32", "int8"] if int8 else ["fp32"],
    )
    (model_dir / MANIFEST_NAME).write_text(json.dumps(manifest.to_dict(), indent=1), encoding="utf-8")
    return results


def build_sovits_folder(root: Path, version: str, int8: bool = False, bert: bool = False) -> SovitsFolder:
    """Write tiny sources under `root`, convert them into `root/model`, write a manifest."""
    sources = root / "sources"
    sources.mkdir(parents=True, exist_ok=True)
    sovits_path = write_tiny_sovits(sources / "sovits.pth", version)
    hubert_dir = write_tiny_hubert(sources / "chinese-hubert-base")
    sv_path = write_tiny_sv(sources / "sv.ckpt")
    bert_dir = write_tiny_bert(sources / "bert", hidden=TINY_BERT_HIDDEN) if bert else None
    model_dir = root / "model"
    results = convert_sovits_folder(model_dir, sovits_path, hubert_dir, sv_path, bert_dir, int8)
    return SovitsFolder(model_dir, sovits_path, hubert_dir, sv_path, bert_dir, results)


_ROOT: Path | None = None
_CACHE: dict[tuple[str, bool, bool], SovitsFolder] = {}


def cached_sovits_folder(version: str, int8: bool = False, bert: bool = False) -> SovitsFolder:
    """`build_sovits_folder` once per session and variant, in a temporary folder removed at exit."""
    global _ROOT
    key = (version, int8, bert)
    if key not in _CACHE:
        if _ROOT is None:
            _ROOT = Path(tempfile.mkdtemp(prefix="tiny-sovits-"))
            atexit.register(shutil.rmtree, _ROOT, True)
        _CACHE[key] = build_sovits_folder(_ROOT / f"{version}-{int(int8)}-{int(bert)}", version, int8, bert)
    return _CACHE[key]


def sovits_model(folder: SovitsFolder | Path, precision: str = "fp32") -> GptSoVitsModel:
    """Open the folder's graphs (lazily) as a model; the T2S graphs are not needed here."""
    model_dir = folder.model_dir if isinstance(folder, SovitsFolder) else folder
    manifest = Manifest.read(model_dir)
    manifest.verify_files(model_dir)
    return GptSoVitsModel(manifest, model_dir, precision, threads=1)
