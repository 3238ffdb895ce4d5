"""Graph templates: the torch exporter's fp32 graphs without their weights, and how to find one.

A template is an ONNX model exactly as `convert/` exports it for some architecture sizes, with every
initializer that depends on the weights removed, and a metadata entry that says how to compute each
of them from the checkpoints (`Binding`: which file, which tensor, which numpy transform). A fine-tune
has the same sizes as the pretrained model of its version, so the templates made once per version
(`edge-tts-clone templates`, shipped in `graph_templates/`) serve every fine-tune of it.

A template is chosen by its graph name and the sizes of the checkpoints it binds (`template_key`),
which both converters infer with the same code (`checkpoints/dims/`). Files are gzip-compressed,
named by their content's hash, and listed in `index.json` (graph + key -> file).
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import onnx

from ..checkpoints.errors import ConversionError

TEMPLATE_FORMAT: Final = 1
METADATA_KEY: Final = "edge_tts_clone.template"
INDEX_NAME: Final = "index.json"
SHIPPED_DIR: Final = Path(__file__).resolve().parent / "graph_templates"
"""The templates of the released v2, v2Pro and v2ProPlus sizes, made by `edge-tts-clone templates`."""


class NoTemplateError(ConversionError):
    """No template was made for these sizes (or this graph): the torch converter can still convert them."""


@dataclass(frozen=True)
class Binding:
    """One weight initializer of a template and how to compute it from the checkpoints."""

    name: str
    shape: tuple[int, ...]
    source: str
    """"gpt", "sovits", "hubert" or "sv"."""
    recipe: dict[str, Any]
    """{"op": "tensor", "key", "perm", "reshape"} or {"op": "conv_bn", "conv", "bias", "bn", "eps", "part"}."""

    def tensor_keys(self) -> list[str]:
        """The source's tensor keys this binding reads."""
        if self.recipe["op"] == "tensor":
            return [self.recipe["key"]]
        bn = self.recipe["bn"]
        keys = [bn + "weight", bn + "bias", bn + "running_mean", bn + "running_var"]
        if self.recipe["part"] == "weight":
            return [self.recipe["conv"], *keys]
        return [*([self.recipe["bias"]] if self.recipe["bias"] else []), *keys]


@dataclass(frozen=True)
class Template:
    """A template read from disk."""

    graph: str
    key: dict[str, Any]
    bindings: tuple[Binding, ...]
    max_abs_error: float
    """fp32 ONNX vs torch when the template was made (on random weights of these sizes)."""
    made_with: dict[str, str]
    model: onnx.ModelProto
    """The graph without its bound weights (and without the template metadata)."""


def template_key(**dims: Any) -> dict[str, Any]:
    """The key a template is found by: the sizes of every checkpoint it binds, as plain JSON values."""
    return json.loads(json.dumps({k: dataclasses.asdict(v) for k, v in sorted(dims.items())}))  # type: ignore[no-any-return]


def _key_text(graph: str, key: dict[str, Any]) -> str:
    return json.dumps({"graph": graph, "key": key}, sort_keys=True, separators=(",", ":"))


def write_template(
    model: onnx.ModelProto,
    graph: str,
    key: dict[str, Any],
    bindings: list[Binding],
    max_abs_error: float,
    made_with: dict[str, str],
    out_dir: Path,
) -> Path:
    """Store `model` (weights already removed) as a template in `out_dir` and list it in the index."""
    meta = {
        "format": TEMPLATE_FORMAT,
        "graph": graph,
        "key": key,
        "bindings": [
            {"name": b.name, "shape": list(b.shape), "source": b.source, "recipe": b.recipe} for b in bindings
        ],
        "max_abs_error": max_abs_error,
        "made_with": made_with,
    }
    del model.metadata_props[:]
    model.metadata_props.add(key=METADATA_KEY, value=json.dumps(meta, sort_keys=True))
    data = gzip.compress(model.SerializeToString(deterministic=True), compresslevel=9, mtime=0)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{graph}-{hashlib.sha256(data).hexdigest()[:12]}.onnx.gz"
    path.write_bytes(data)
    index = read_index(out_dir)
    index[_key_text(graph, key)] = path.name
    entries = [{**json.loads(text), "file": name} for text, name in sorted(index.items())]
    (out_dir / INDEX_NAME).write_text(json.dumps(entries, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return path


def read_index(folder: Path) -> dict[str, str]:
    """{graph + key text: file name} of a template folder (empty when it has no index)."""
    path = folder / INDEX_NAME
    if not path.is_file():
        return {}
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
        return {_key_text(e["graph"], e["key"]): str(e["file"]) for e in entries}
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ConversionError(f"template index {path} cannot be read: {err}") from err


def read_template(path: Path) -> Template:
    """A template file; ConversionError when it is damaged or of another format."""
    try:
        model = onnx.ModelProto.FromString(gzip.decompress(path.read_bytes()))
        meta = json.loads(next(p.value for p in model.metadata_props if p.key == METADATA_KEY))
    except (OSError, EOFError, ValueError, StopIteration, gzip.BadGzipFile) as err:
        raise ConversionError(f"graph template {path.name} cannot be read: {err}") from err
    if meta.get("format") != TEMPLATE_FORMAT:
        raise ConversionError(f"graph template {path.name} has format {meta.get('format')!r}, not {TEMPLATE_FORMAT}")
    del model.metadata_props[:]
    bindings = tuple(
        Binding(b["name"], tuple(int(n) for n in b["shape"]), b["source"], dict(b["recipe"])) for b in meta["bindings"]
    )
    return Template(
        graph=meta["graph"], key=meta["key"], bindings=bindings, max_abs_error=float(meta["max_abs_error"]),
        made_with=dict(meta["made_with"]), model=model,
    )


def find_template(graph: str, key: dict[str, Any], folders: list[Path]) -> Template:
    """The template for `graph` at these sizes, from the first folder that has one (NoTemplateError if none)."""
    wanted = _key_text(graph, key)
    for folder in folders:
        name = read_index(folder).get(wanted)
        if name is not None:
            return read_template(folder / name)
    sizes = ", ".join(f"{source} {_summary(dims)}" for source, dims in key.items())
    raise NoTemplateError(
        f"no graph template of {graph} for these model sizes ({sizes}): the templates cover the released "
        "v2, v2Pro and v2ProPlus sizes. Convert with torch instead (pip install 'edge-tts-clone[convert]'), "
        "or make templates for these sizes on a machine with torch (edge-tts-clone templates --help)"
    )


def _summary(dims: dict[str, Any]) -> str:
    shown = {k: v for k, v in dims.items() if isinstance(v, int | str) and k in ("n_layer", "d_model", "version",
             "hidden", "layers", "stem_channels", "ssl_dim", "codebook_size")}
    return json.dumps(shown, sort_keys=True) if shown else "(custom)"
