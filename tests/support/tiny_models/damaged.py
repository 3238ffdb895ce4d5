"""A converted model folder with one INT8 graph deliberately damaged, to show that a quality check fires.

A check that bounds INT8 against fp32 is only worth having if a broken INT8 graph fails it; tests
pair the check with `damaged_copy` of the same folder (docs/development.md, "What a test here must assert").
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from numpy.typing import NDArray

from tests.support.tiny_models.model_folders import copy_model_folder
from wyoming_server.engine.gpt_sovits.manifest import MANIFEST_NAME, sha256_file

Change = Callable[[NDArray[Any]], NDArray[Any]]


def damaged_copy(
    model_dir: Path, out_dir: Path, graph_files: Sequence[str], picks: Callable[[str], bool], change: Change
) -> Path:
    """Copy `model_dir` to `out_dir`, apply `change` to every initializer of `graph_files` whose name `picks`
    selects, and record the new files in the manifest (so the folder still loads, hashes checked)."""
    import onnx
    from onnx import numpy_helper

    copy_model_folder(model_dir, out_dir)
    manifest_path = out_dir / MANIFEST_NAME
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    for graph_file in graph_files:
        path = out_dir / graph_file
        model = onnx.load(str(path))
        changed = 0
        for initializer in model.graph.initializer:
            if picks(initializer.name):
                array = numpy_helper.to_array(initializer)
                initializer.CopyFrom(numpy_helper.from_array(change(array).astype(array.dtype), initializer.name))
                changed += 1
        if changed == 0:
            raise ValueError(f"no initializer of {graph_file} was picked")
        onnx.save(model, str(path))
        manifest["files"][graph_file] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
    manifest_path.write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return out_dir


def is_weight_scale(name: str) -> bool:
    """The scale of a quantized weight: `<weight>_scale` from onnxruntime's static and dynamic quantizers."""
    return name.endswith("weight_scale") or (name.startswith("onnx::MatMul_") and name.endswith("_scale"))


def weight_scales_off(model_dir: Path, out_dir: Path, graph_files: Sequence[str], factor: float = 1.25) -> Path:
    """`damaged_copy` with every quantized weight's scale off by `factor` (a calibration or export bug)."""
    return damaged_copy(model_dir, out_dir, graph_files, is_weight_scale, lambda scale: scale * factor)
