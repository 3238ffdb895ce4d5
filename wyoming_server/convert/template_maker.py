"""Make graph templates with the torch exporter: `edge-tts-clone templates` (docs/engine.md, "Templates").

For a checkpoint set (the released sizes, written with random weights, or any files given):
1. every tensor gets fresh random values, distinct from every other tensor's, and the set is written
   back in the official formats;
2. the torch converter's own sources (`torch_graphs.TorchSources`) export and verify every graph;
3. each initializer of each graph is traced back to the tensors it came from, by value: a tensor,
   permuted and/or reshaped (`Linear` weights are transposed by the export), or a convolution with
   the BatchNorm after it folded in; every other initializer is a constant of the architecture;
4. the graph, minus its weight initializers, is stored with those recipes as a template;
5. check: a second random set is exported by torch and converted by the template converter
   (torch-free reader, numpy weight norm, the new templates); every initializer and node must agree.
"""

from __future__ import annotations

import itertools
import logging
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import onnx
import torch
from numpy.typing import NDArray
from onnx import numpy_helper

from ..checkpoints.dims.hubert import UNUSED_KEYS as HUBERT_UNUSED
from ..checkpoints.dims.sovits import UNUSED_KEYS as SOVITS_UNUSED
from ..checkpoints.dims.sv import HEAD_PREFIXES
from ..checkpoints.errors import ConversionError
from ..checkpoints.official import hubert_weights
from ..importer.binding import bind_template
from ..importer.template_sources import CheckpointSet, TemplateSources
from ..importer.templates import Binding, write_template
from .graph_compare import compare_models
from .template_weights import CheckpointPaths, write_distinct_copy
from .torch_graphs import TorchSources
from .torch_modules.state_dicts import fuse_weight_norm

_LOGGER = logging.getLogger(__name__)

BN_EPS: Final = 1e-5
"""torch's BatchNorm default, which every BatchNorm of ERes2NetV2 uses."""

Report = Callable[[str], None]


@dataclass(frozen=True)
class MadeTemplate:
    """One template written."""

    graph: str
    path: Path
    max_abs_error: float


def _numpy_sources(paths: CheckpointPaths) -> dict[str, dict[str, NDArray[np.float32]]]:
    """The fused float tensors each binding may come from, as the torch converter's loaders see them."""
    from .checkpoints import load_gpt_checkpoint, load_sovits_checkpoint, load_state_dict_file

    def floats(weights: dict[str, torch.Tensor], skip: Callable[[str], bool]) -> dict[str, NDArray[np.float32]]:
        return {k: v.float().numpy() for k, v in weights.items() if v.is_floating_point() and not skip(k)}

    sources = {
        "gpt": floats(load_gpt_checkpoint(paths.gpt).weights, lambda k: False),
        "sovits": floats(fuse_weight_norm(load_sovits_checkpoint(paths.sovits).weights), SOVITS_UNUSED.__contains__),
        "hubert": floats(
            fuse_weight_norm(hubert_weights(load_state_dict_file(paths.hubert / "pytorch_model.bin", "HuBERT"))),
            HUBERT_UNUSED.__contains__,
        ),
    }
    if paths.sv is not None:
        sources["sv"] = floats(load_state_dict_file(paths.sv, "SV"), lambda k: k.startswith(HEAD_PREFIXES))
    return sources


class _Tracer:
    """Finds, for each initializer of an exported graph, the tensor recipe that gives it."""

    def __init__(self, sources: dict[str, dict[str, NDArray[np.float32]]]) -> None:
        self.sources = sources
        self.by_size: dict[int, list[tuple[str, str, NDArray[np.float32]]]] = {}
        for source, tensors in sources.items():
            for key, array in tensors.items():
                self.by_size.setdefault(array.size, []).append((source, key, array))

    def tensor(self, value: NDArray[np.float32]) -> tuple[str, dict[str, Any]] | None:
        """(source, recipe) of a tensor that, permuted and reshaped, equals `value`; None when none does."""
        found: list[tuple[str, dict[str, Any]]] = []
        top = value.max() if value.size else 0.0
        for source, key, array in self.by_size.get(value.size, []):
            if not value.size or array.max() != top:
                continue
            for perm in itertools.permutations(range(array.ndim)):
                if np.array_equal(np.transpose(array, perm).reshape(value.shape), value):
                    identity = list(perm) == sorted(perm)
                    found.append((source, {"op": "tensor", "key": key, "perm": None if identity else list(perm)}))
                    break
        if len({(s, r["key"]) for s, r in found}) > 1:
            raise ConversionError(f"an initializer equals several tensors: {[r['key'] for _, r in found]}")
        return found[0] if found else None

    def conv_bn(self, weight: NDArray[np.float32]) -> tuple[str, str, str] | None:
        """(source, conv key, BatchNorm prefix) whose folding gives the convolution weight `weight`."""
        for source, tensors in self.sources.items():
            norms = [k.removesuffix("running_var") for k in tensors if k.endswith(".running_var")]
            for conv, array in tensors.items():
                if array.shape != weight.shape:
                    continue
                for bn in norms:
                    if tensors[bn + "running_var"].size != weight.shape[0]:
                        continue
                    scale = tensors[bn + "weight"] / np.sqrt(tensors[bn + "running_var"] + np.float32(BN_EPS))
                    folded = array * scale.reshape((-1,) + (1,) * (array.ndim - 1))
                    if np.allclose(folded, weight, rtol=1e-5, atol=1e-6 * float(np.abs(weight).max())):
                        return source, conv, bn
        return None


def trace_bindings(model: onnx.ModelProto, tracer: _Tracer) -> list[Binding]:
    """The bindings of every weight initializer of `model` (the rest are the architecture's constants)."""
    conv_inputs = {
        (node.input[i], i): node for node in model.graph.node if node.op_type == "Conv" for i in (1, 2)
        if len(node.input) > i
    }
    bindings: dict[str, Binding] = {}
    folded: dict[str, tuple[str, str, str]] = {}
    for init in model.graph.initializer:
        value = numpy_helper.to_array(init)
        if value.dtype != np.float32:
            continue
        shape = tuple(int(n) for n in value.shape)
        traced = tracer.tensor(value)
        if traced is not None:
            bindings[init.name] = Binding(init.name, shape, traced[0], traced[1])
            continue
        node = conv_inputs.get((init.name, 1))
        match = tracer.conv_bn(value) if node is not None else None
        if node is not None and match is not None:
            source, conv, bn = match
            bindings[init.name] = Binding(init.name, shape, source, {
                "op": "conv_bn", "part": "weight", "conv": conv, "bias": None, "bn": bn, "eps": BN_EPS})
            folded[node.output[0]] = match
    for init in model.graph.initializer:  # the folded convolutions' biases
        node = conv_inputs.get((init.name, 2))
        if node is None or node.output[0] not in folded or init.name in bindings:
            continue
        source, conv, bn = folded[node.output[0]]
        bias_key = conv.removesuffix("weight") + "bias"
        bias = bias_key if bias_key in tracer.sources[source] else None
        bindings[init.name] = Binding(init.name, (int(init.dims[0]),), source, {
            "op": "conv_bn", "part": "bias", "conv": conv, "bias": bias, "bn": bn, "eps": BN_EPS})
    return [bindings[i.name] for i in model.graph.initializer if i.name in bindings]


def strip(model: onnx.ModelProto, bindings: list[Binding]) -> onnx.ModelProto:
    """A copy of `model` without the bound initializers."""
    bound = {b.name for b in bindings}
    stripped = onnx.ModelProto()
    stripped.CopyFrom(model)
    kept = [i for i in stripped.graph.initializer if i.name not in bound]
    del stripped.graph.initializer[:]
    stripped.graph.initializer.extend(kept)
    return stripped


def _export_all(paths: CheckpointPaths, folder: Path, report: Report) -> dict[str, float]:
    """Export (and verify against torch) every graph of the set into `folder`; {graph: max |onnx - torch|}."""
    sources = TorchSources(paths.gpt, paths.sovits, paths.hubert, paths.sv, None)
    errors = {}
    for plan in sources.plans(folder, int8_kv_cache=False):
        report(f"exporting {plan.name}")
        errors[plan.name] = sources.write_fp32(plan, folder).max_abs_error
    sources.close()
    return errors


def make_templates(originals: CheckpointPaths, out_dir: Path, report: Report, check: bool = True) -> list[MadeTemplate]:
    """Templates for the sizes of `originals` into `out_dir` (see the module docstring)."""
    made: list[MadeTemplate] = []
    with tempfile.TemporaryDirectory(prefix="templates-") as tmp:
        work = Path(tmp)
        report("writing a copy of the checkpoints with distinct random weights")
        first = write_distinct_copy(originals, work / "first", seed=1)
        exported = work / "first-graphs"
        exported.mkdir()
        errors = _export_all(first, exported, report)
        tracer = _Tracer(_numpy_sources(first))
        checkpoints = CheckpointSet(first.gpt, first.sovits, first.hubert, first.sv)
        keys = checkpoints.graph_keys()
        checkpoints.close()
        made_with = {"torch": torch.__version__.split("+")[0], "onnx": onnx.__version__}
        for graph, key in keys.items():
            report(f"tracing the weights of {graph}")
            model = onnx.load(str(exported / f"{graph}.onnx"))
            bindings = trace_bindings(model, tracer)
            path = write_template(strip(model, bindings), graph, key, bindings, errors[graph], made_with, out_dir)
            made.append(MadeTemplate(graph, path, errors[graph]))
        if check:
            check_templates(originals, out_dir, work, report)
    return made


def check_templates(originals: CheckpointPaths, template_dir: Path, work: Path, report: Report) -> None:
    """Fresh random weights, exported by torch and bound by the template converter: the graphs must agree."""
    report("checking the templates on a second set of random weights")
    second = write_distinct_copy(originals, work / "second", seed=2)
    exported, bound = work / "second-torch", work / "second-templates"
    exported.mkdir()
    bound.mkdir()
    _export_all(second, exported, report)
    sources = TemplateSources(second.gpt, second.sovits, second.hubert, second.sv, None, [template_dir])
    try:
        for graph, template in sources.templates.items():
            bind_template(template, sources.tensors, bound / f"{graph}.onnx")
            torch_graph = onnx.load(str(exported / f"{graph}.onnx"))
            problem = compare_models(torch_graph, onnx.load(str(bound / f"{graph}.onnx")))
            if problem:
                raise ConversionError(f"template {graph} does not reproduce the torch export: {problem}")
            report(f"{graph}: the template gives the torch export's graph")
    finally:
        sources.close()
        shutil.rmtree(bound, ignore_errors=True)
