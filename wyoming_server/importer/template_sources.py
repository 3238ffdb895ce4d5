"""The template converter's `ModelSources`: checkpoints read without torch, weights bound into templates.

The checkpoints are read lazily (`checkpoints/torch_file.py`), their sizes inferred with the same code
as the torch converter's (`checkpoints/dims/`), and each graph's template found by those sizes before
any work starts. Loading is as strict as the torch converter's: a missing or misshapen tensor, or one
that no graph uses and that is not known training state, stops the conversion with its key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import numpy as np

from ..checkpoints import official
from ..checkpoints.dims.hubert import UNUSED_KEYS as HUBERT_UNUSED
from ..checkpoints.dims.hubert import WEIGHTS_FILE, HubertDims, infer_hubert_dims, read_hubert_config
from ..checkpoints.dims.reader import TensorReader
from ..checkpoints.dims.sovits import UNUSED_KEYS as SOVITS_UNUSED
from ..checkpoints.dims.sovits import SovitsDims, infer_sovits_dims
from ..checkpoints.dims.sv import HEAD_PREFIXES, SvDims, infer_sv_dims
from ..checkpoints.dims.t2s import T2SDims, sampling_defaults, t2s_manifest_dims
from ..checkpoints.errors import ConversionError
from ..checkpoints.fusion import Readable, fused_view
from ..checkpoints.torch_file import LazyTensor
from .binding import bind_template
from .plans import GraphPlan, GraphResult
from .quantize import session
from .sovits_plans import check_helper_nets, sovits_plans
from .t2s_plans import t2s_plans
from .templates import SHIPPED_DIR, NoTemplateError, find_template, template_key

CONVERTER: Final = "templates"
TRAINING_COUNTERS: Final = ("num_batches_tracked",)
"""BatchNorm's step counter: training state in every state dict that has BatchNorm."""


def graph_keys(t2s: T2SDims, sovits: SovitsDims, hubert: HubertDims, sv: SvDims | None) -> dict[str, dict[str, Any]]:
    """{graph: the key its template is found by}: the sizes of every checkpoint it binds."""
    t2s_key, sovits_key = template_key(gpt=t2s), template_key(sovits=sovits)
    return {
        "t2s_encoder": t2s_key,
        "t2s_decoder": t2s_key,
        "prompt_extractor": template_key(hubert=hubert, sovits=sovits),
        **({"sv_embedder": template_key(sv=sv)} if sv is not None else {}),
        "ref_embedder": sovits_key,
        "vits_decoder": sovits_key,
    }


class CheckpointSet:
    """GPT, SoVITS, HuBERT (and SV) read without torch: their tensors (weight norm fused, read lazily),
    configs and sizes. Close it when done."""

    def __init__(self, gpt: Path, sovits: Path, hubert_dir: Path, sv: Path | None) -> None:
        self._files: list[official.CheckpointFile[LazyTensor]] = []
        try:
            self._read(gpt, sovits, hubert_dir, sv)
        except BaseException:
            self.close()
            raise

    def _read(self, gpt_path: Path, sovits_path: Path, hubert_dir: Path, sv_path: Path | None) -> None:
        gpt = self._keep(official.read_gpt(gpt_path))
        sovits = self._keep(official.read_sovits(sovits_path))
        phones = int(gpt.weights[official.GPT_TEXT_EMBEDDING].shape[0])
        official.check_pair(gpt_path.name, phones, sovits_path.name, sovits.version, sovits.weights)
        self.version = sovits.version
        self.gpt_config = gpt.config
        hubert_what = f"HuBERT weights {hubert_dir.name}/{WEIGHTS_FILE}"
        hubert = self._keep(official.read_state_dict(hubert_dir / WEIGHTS_FILE, hubert_what))
        self.tensors: dict[str, dict[str, Readable]] = {
            "gpt": dict(gpt.weights),
            "sovits": fused_view(sovits.weights),
            "hubert": fused_view(official.hubert_weights(hubert.weights)),
        }
        self.what = {
            "gpt": f"GPT checkpoint {gpt_path.name}",
            "sovits": f"SoVITS checkpoint {sovits_path.name}",
            "hubert": hubert_what,
        }
        self.t2s_dims = T2SDims.from_checkpoint(gpt.weights, gpt.config)
        self.sovits_dims = infer_sovits_dims(
            sovits.version, sovits.config, TensorReader(self.tensors["sovits"], self.what["sovits"])
        )
        self.hubert_dims = infer_hubert_dims(
            read_hubert_config(hubert_dir), TensorReader(self.tensors["hubert"], hubert_what)
        )
        self.sv_dims: SvDims | None = None
        if self.version in official.PRO_VERSIONS and sv_path is not None:
            self.what["sv"] = f"speaker-verification checkpoint {sv_path.name}"
            sv_file = self._keep(official.read_state_dict(sv_path, self.what["sv"]))
            self.tensors["sv"] = dict(sv_file.weights)
            self.sv_dims = infer_sv_dims(TensorReader(self.tensors["sv"], self.what["sv"]))
        check_helper_nets(
            self.sovits_dims, sovits_path.name, self.hubert_dims, str(hubert_dir), self.sv_dims,
            sv_path.name if sv_path else "",
        )

    def _keep(self, file: official.CheckpointFile[LazyTensor]) -> official.CheckpointFile[LazyTensor]:
        self._files.append(file)
        return file

    def graph_keys(self) -> dict[str, dict[str, Any]]:
        """{graph: the key its template is found by}, in writing order."""
        return graph_keys(self.t2s_dims, self.sovits_dims, self.hubert_dims, self.sv_dims)

    def close(self) -> None:
        """Close the checkpoint files."""
        for file in self._files:
            file.close()
        self._files = []


class TemplateSources:
    """A `CheckpointSet` and each of its graphs' template, found for its sizes before any work starts."""

    converter = CONVERTER

    def __init__(
        self, gpt: Path, sovits: Path, hubert_dir: Path, sv: Path | None, bert_dir: Path | None,
        template_dirs: list[Path] | None = None,
    ) -> None:
        if bert_dir is not None:
            raise NoTemplateError(
                "the Chinese BERT graph is made only by the torch converter (pip install 'edge-tts-clone[convert]'); "
                "convert without BERT, or with torch"
            )
        self.checkpoints = CheckpointSet(gpt, sovits, hubert_dir, sv)
        try:
            self.version = self.checkpoints.version
            self.tensors = self.checkpoints.tensors
            self.what = self.checkpoints.what
            folders = [*(template_dirs or []), SHIPPED_DIR]
            self.templates = {
                graph: find_template(graph, key, folders) for graph, key in self.checkpoints.graph_keys().items()
            }
            self._check_keys()
        except BaseException:
            self.checkpoints.close()
            raise

    def _check_keys(self) -> None:
        """Every bound tensor present with its size; every tensor bound or known training state."""
        used: dict[str, set[str]] = {source: set() for source in self.tensors}
        for template in self.templates.values():
            for binding in template.bindings:
                weights = self.tensors.get(binding.source, {})
                for key in binding.tensor_keys():
                    if key not in weights:
                        raise ConversionError(f"{self.what.get(binding.source, binding.source)} is missing key {key!r}")
                    used[binding.source].add(key)
                if binding.recipe["op"] == "tensor":
                    shape = tuple(weights[binding.recipe["key"]].shape)
                    if int(np.prod(shape, dtype=np.int64)) != int(np.prod(binding.shape, dtype=np.int64)):
                        raise ConversionError(
                            f"{self.what[binding.source]}: key {binding.recipe['key']!r} has shape {shape}, "
                            "which does not fit the graph"
                        )
        known = {"sovits": SOVITS_UNUSED, "hubert": HUBERT_UNUSED}
        for source, weights in self.tensors.items():
            unexpected = sorted(
                k for k in weights
                if k not in used[source] and k not in known.get(source, ())
                and not k.endswith(TRAINING_COUNTERS) and not (source == "sv" and k.startswith(HEAD_PREFIXES))
            )
            if unexpected:
                shown = ", ".join(repr(k) for k in unexpected[:5])
                more = f" and {len(unexpected) - 5} more" if len(unexpected) > 5 else ""
                raise ConversionError(f"{self.what[source]} has unexpected key(s) {shown}{more}")

    def manifest_dims(self) -> dict[str, Any]:
        """t2s and sovits sizes."""
        c = self.checkpoints
        return {"t2s": t2s_manifest_dims(c.t2s_dims, c.gpt_config), "sovits": c.sovits_dims.to_manifest()}

    def sampling_defaults(self) -> dict[str, Any]:
        """top_k from the GPT's config."""
        return sampling_defaults(self.checkpoints.gpt_config)

    def plans(self, folder: Path, int8_kv_cache: bool) -> list[GraphPlan]:
        """The same plans as the torch converter's, from the same sizes."""
        c = self.checkpoints
        return [*t2s_plans(c.t2s_dims, int8_kv_cache), *sovits_plans(c.sovits_dims, folder)]

    def write_fp32(self, plan: GraphPlan, folder: Path) -> GraphResult:
        """Bind the weights into the plan's template, then run it once: its outputs must be finite."""
        path = folder / f"{plan.name}.onnx"
        template = self.templates[plan.name]
        bind_template(template, self.tensors, path)
        # One draw, like the exporter's example input (its checks then cycle the decoder's input modes
        # whole), so measuring INT8 afterwards sees the same inputs in both converters.
        inputs = plan.sample_inputs(np.random.default_rng(0))
        outputs = session(path).run(None, {name: inputs[name] for name in plan.input_names})
        for name, value in zip(plan.output_names, outputs, strict=True):
            array = np.asarray(value)
            if np.issubdtype(array.dtype, np.floating) and not np.all(np.isfinite(array)):
                raise ConversionError(f"graph {plan.name} gives non-finite {name} with these weights")
        return GraphResult(name=plan.name, files={"fp32": path.name}, max_abs_error=template.max_abs_error)

    def extra_files(self) -> dict[str, bytes]:
        """None (BERT is the torch converter's)."""
        return {}

    def close(self) -> None:
        """Close the checkpoint files."""
        self.checkpoints.close()
