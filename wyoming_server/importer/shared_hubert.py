"""Split the verified `prompt_extractor` graph into the data folder's shared HuBERT and the model's own
prompt quantizer (`ssl_proj` + nearest codebook row), so a data folder stores HuBERT once.

Both converters write and verify the single graph as before (the decoder's calibration runs it);
this step then cuts it at the input of its last Conv (`ssl_proj`), so neither the torch exporter nor
the shipped templates change. The shared file is named by the sha256 of its weights
(`engine/gpt_sovits/shared_files.py`), so two conversions with the same HuBERT write one file.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import onnx

from ..checkpoints.errors import ConversionError
from ..engine.gpt_sovits.manifest import sha256_file
from ..engine.gpt_sovits.shared_files import (
    PROMPT_QUANTIZER_FILE,
    SSL_FEATURES,
    SSL_FILE_KEY,
    hubert_file_name,
)
from ..storage import atomic
from .plans import GraphResult


def _rename_tensor(graph: onnx.GraphProto, old: str, new: str) -> None:
    for node in graph.node:
        node.input[:] = [new if name == old else name for name in node.input]
        node.output[:] = [new if name == old else name for name in node.output]
    for value in (*graph.input, *graph.output, *graph.value_info):
        if value.name == old:
            value.name = new


def weights_sha256(model: onnx.ModelProto) -> str:
    """sha256 over the initializers' names, shapes and bytes, in name order (not the graph's layout)."""
    digest = hashlib.sha256()
    for init in sorted(model.graph.initializer, key=lambda i: i.name):
        digest.update(init.name.encode())
        digest.update(repr(tuple(init.dims)).encode())
        digest.update(onnx.numpy_helper.to_array(init).tobytes())
    return digest.hexdigest()


def _inputs_of(node: onnx.NodeProto) -> list[str]:
    """A node's inputs, and those its subgraphs (If, Loop) read from the outer scope."""
    names = list(node.input)
    for attribute in node.attribute:
        for graph in (*([attribute.g] if attribute.HasField("g") else []), *attribute.graphs):
            for inner in graph.node:
                names.extend(_inputs_of(inner))
    return names


def _needed_nodes(graph: onnx.GraphProto, outputs: list[str], stop: str | None) -> list[int]:
    """Indices, in graph order, of the nodes that compute `outputs`, not looking past tensor `stop`."""
    producer = {name: i for i, node in enumerate(graph.node) for name in node.output}
    needed: set[int] = set()
    todo = list(outputs)
    while todo:
        name = todo.pop()
        index = producer.get(name)
        if name == stop or index is None or index in needed:
            continue
        needed.add(index)
        todo.extend(_inputs_of(graph.node[index]))
    return sorted(needed)


def split_graphs(single: onnx.ModelProto) -> tuple[onnx.ModelProto, onnx.ModelProto]:
    """(HuBERT: wave -> ssl_features, quantizer: ssl_features -> codes). HuBERT is `single` itself, cut
    in place, so its 378 MB of weights are never copied (a conversion's peak must not grow)."""
    graph = single.graph
    convs = [node for node in graph.node if node.op_type == "Conv"]
    if not convs:
        raise ConversionError("prompt_extractor has no Conv node: cannot find ssl_proj to split at")
    cut, codes = convs[-1].input[0], graph.output[0]
    quantizer_nodes = [graph.node[i] for i in _needed_nodes(graph, [codes.name], stop=cut)]
    read = {name for node in quantizer_nodes for name in _inputs_of(node)}
    if any(value.name in read for value in graph.input):
        raise ConversionError("prompt_extractor's codebook reads the wave itself: cannot split it at ssl_proj")
    weight = next((init for init in graph.initializer if init.name == convs[-1].input[1]), None)
    if weight is None:
        raise ConversionError("prompt_extractor's ssl_proj has no weight initializer: cannot split it")
    features = onnx.helper.make_tensor_value_info(
        SSL_FEATURES, onnx.TensorProto.FLOAT, [1, weight.dims[1], "frames"]
    )
    quantizer = onnx.helper.make_model(
        onnx.helper.make_graph(
            quantizer_nodes, "prompt_quantizer", [features], [codes],
            initializer=[init for init in graph.initializer if init.name in read],
        ),
        opset_imports=single.opset_import, ir_version=single.ir_version,
    )
    kept = [onnx.NodeProto.FromString(graph.node[i].SerializeToString()) for i in _needed_nodes(graph, [cut], None)]
    del graph.node[:]
    graph.node.extend(kept)
    used = {name for node in kept for name in _inputs_of(node)}
    for index in reversed(range(len(graph.initializer))):
        if graph.initializer[index].name not in used:
            del graph.initializer[index]
    del graph.output[:], graph.value_info[:]
    graph.output.append(features)
    for part in (single, quantizer):
        _rename_tensor(part.graph, cut, SSL_FEATURES)
    return single, quantizer


def _copy_except(message: Any, skip: str) -> Any:
    """A copy of a protobuf message without its field `skip` (the others are small here)."""
    copy = type(message)()
    for field, value in message.ListFields():
        if field.name == skip:
            continue
        if hasattr(value, "extend"):  # a repeated field (`label` is gone from newer protobufs)
            getattr(copy, field.name).extend(value)
        elif field.type == field.TYPE_MESSAGE:
            getattr(copy, field.name).CopyFrom(value)
        else:
            setattr(copy, field.name, value)
    return copy


def _length_delimited(field_number: int, payload: bytes) -> bytes:
    return _varint(field_number << 3 | 2) + _varint(len(payload)) + payload


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


_GRAPH_FIELD = onnx.ModelProto.DESCRIPTOR.fields_by_name["graph"].number
_INITIALIZER_FIELD = onnx.GraphProto.DESCRIPTOR.fields_by_name["initializer"].number


def _pieces(model: onnx.ModelProto) -> Iterator[bytes]:
    """The serialized `model`, one initializer at a time: serializing HuBERT whole would hold two more
    copies of its weights. Protobuf merges repeated occurrences of an embedded message, so the model's
    `graph` may be written once without its initializers and again once per initializer."""
    head = _copy_except(model, "graph")
    head.graph.CopyFrom(_copy_except(model.graph, "initializer"))
    yield head.SerializeToString()
    for init in model.graph.initializer:
        yield _length_delimited(_GRAPH_FIELD, _length_delimited(_INITIALIZER_FIELD, init.SerializeToString()))


def _save_in_pieces(model: onnx.ModelProto, path: Path) -> None:
    with path.open("wb") as f:
        for piece in _pieces(model):
            f.write(piece)
        f.flush()
        os.fsync(f.fileno())


def _sha256_of_pieces(model: onnx.ModelProto) -> str:
    digest = hashlib.sha256()
    for piece in _pieces(model):
        digest.update(piece)
    return digest.hexdigest()


def _place_shared(hubert: onnx.ModelProto, shared: Path, name: str) -> Path:
    """Write the shared file unless a file of that name already holds exactly these bytes (a damaged
    copy is written again; a good one, e.g. linked in by an install, saves writing 378 MB)."""
    path = shared / name
    if path.is_file() and sha256_file(path) == _sha256_of_pieces(hubert):
        return path
    atomic.recover(shared)  # a conversion killed while writing HuBERT left its staging folder
    with atomic.StagingFolder(shared, name) as staging:
        staged = staging.path / name
        _save_in_pieces(hubert, staged)
        os.replace(staged, path)  # a concurrent conversion writing the same weights replaces it harmlessly
    atomic.fsync_dir(shared)
    return path


def split_prompt_extractor(result: GraphResult, folder: Path, shared: Path) -> tuple[GraphResult, dict[str, Any]]:
    """Replace `<folder>/prompt_extractor.onnx` by `prompt_quantizer.onnx` and the shared HuBERT in
    `shared`; returns the graph's new entry and the manifest's `shared_files`."""
    single_path = folder / result.files["fp32"]
    hubert, quantizer = split_graphs(onnx.load(single_path))
    onnx.save(quantizer, folder / PROMPT_QUANTIZER_FILE)
    name = hubert_file_name(weights_sha256(hubert))
    path = _place_shared(hubert, shared, name)
    del hubert
    single_path.unlink()
    entry = GraphResult(
        name=result.name,
        files={"fp32": PROMPT_QUANTIZER_FILE, SSL_FILE_KEY: name},
        max_abs_error=result.max_abs_error,
    )
    return entry, {name: {"sha256": sha256_file(path), "bytes": path.stat().st_size}}
