"""GPT checkpoints -> our torch modules (strict) -> graphs: structure, rejections, upstream conformance."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from tests.support.tiny_models.t2s import ConvertedT2S, Inputs, convert_t2s
from wyoming_server.convert.checkpoints import load_gpt_checkpoint
from wyoming_server.convert.errors import ConversionError
from wyoming_server.convert.graph import export_graph
from wyoming_server.convert.random_weights.gpt import tiny_gpt_state_dict, write_tiny_gpt
from wyoming_server.convert.t2s_export import t2s_dims, t2s_graph_specs
from wyoming_server.convert.torch_modules.t2s import load_t2s_model, prefix_lm_blocked
from wyoming_server.engine import SynthesisOptions
from wyoming_server.engine.gpt_sovits.t2s_state import prefill_bias


def test_tiny_checkpoint_has_upstream_layout(tmp_path: Path) -> None:
    saved = torch.load(write_tiny_gpt(tmp_path / "gpt.ckpt"), map_location="cpu", weights_only=True)
    assert list(saved) == ["weight", "config", "info"]
    assert saved["info"] == "GPT-e1"
    assert all(k.startswith("model.") and v.dtype == torch.float16 for k, v in saved["weight"].items())
    assert saved["config"]["model"]["n_layer"] == 2 and saved["config"]["inference"]["top_k"] == 15
    assert len(saved["weight"]) == 6 + 12 * 2 + 1


def test_dims_come_from_the_checkpoint(tmp_path: Path) -> None:
    checkpoint = load_gpt_checkpoint(
        write_tiny_gpt(tmp_path / "gpt.ckpt", n_layer=3, d_model=32, n_head=4, ffn=64)
    )
    dims = t2s_dims(checkpoint)
    assert {
        k: dims[k]
        for k in (
            "n_layer",
            "d_model",
            "n_head",
            "head_dim",
            "ffn",
            "phone_vocab",
            "audio_vocab",
            "eos",
            "top_k",
            "max_sec",
        )
    } == {
        "n_layer": 3,
        "d_model": 32,
        "n_head": 4,
        "head_dim": 8,
        "ffn": 64,
        "phone_vocab": 732,
        "audio_vocab": 1025,
        "eos": 1024,
        "top_k": 15,
        "max_sec": 54,
    }


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda w: w.pop("h.layers.1.norm2.bias"), "missing 'h.layers.1.norm2.bias'"),
        (
            lambda w: w.__setitem__("h.layers.0.extra.weight", torch.zeros(2)),
            "unexpected 'h.layers.0.extra.weight'",
        ),
        (
            lambda w: w.__setitem__("bert_proj.weight", torch.zeros(64, 1000)),
            r"'bert_proj.weight' has shape \(64, 1000\), expected \(64, 1024\)",
        ),
        (
            lambda w: w.__setitem__("ar_predict_layer.weight", torch.zeros(1000, 64)),
            r"'ar_predict_layer.weight' has shape \(1000, 64\)",
        ),
    ],
    ids=["missing", "unexpected", "bert_shape", "head_shape"],
)
def test_strict_loading_names_the_bad_key(
    tmp_path: Path, edit: Callable[[dict[str, torch.Tensor]], object], message: str
) -> None:
    weights = tiny_gpt_state_dict()
    edit(weights)
    checkpoint = load_gpt_checkpoint(write_tiny_gpt(tmp_path / "gpt.ckpt", weights=weights))
    with pytest.raises(ConversionError, match=message):
        load_t2s_model(checkpoint.weights, checkpoint.config)
    with pytest.raises(ConversionError, match=message):
        t2s_graph_specs(checkpoint)


def test_head_count_must_divide_width(tmp_path: Path) -> None:
    checkpoint = load_gpt_checkpoint(write_tiny_gpt(tmp_path / "gpt.ckpt"))
    checkpoint.config["model"]["head"] = 3
    with pytest.raises(ConversionError, match="head=3"):
        load_t2s_model(checkpoint.weights, checkpoint.config)


def test_prefix_lm_mask() -> None:
    # 2 text rows then 3 audio rows; 1 = blocked.
    expected = [
        [0, 0, 1, 1, 1],
        [0, 0, 1, 1, 1],
        [0, 0, 0, 1, 1],
        [0, 0, 0, 0, 1],
        [0, 0, 0, 0, 0],
    ]
    assert prefix_lm_blocked(2, 3).int().tolist() == expected
    assert (np.isinf(prefill_bias([2], 3)[0, 0]).astype(int)).tolist() == expected


def test_int8_decoder_keeps_head_fp32(tiny_t2s: ConvertedT2S) -> None:
    result = tiny_t2s.results["t2s_decoder"]
    graph = onnx.load(str(tiny_t2s.out_dir / result.files["int8"])).graph
    ops = [node.op_type for node in graph.node]
    assert (
        ops.count("MatMulInteger") == 4 * tiny_t2s.model.dims.n_layer
    )  # in_proj, out_proj, linear1, linear2
    assert [n.name for n in graph.node if n.op_type == "MatMul"] == ["/ar_predict_layer/MatMul"]
    assert ops.count("GroupQueryAttention") == tiny_t2s.model.dims.n_layer
    assert result.max_abs_error < 1e-4
    assert set(result.int8_error) == {"max_abs_error", "snr_db", "cosine"}
    past = [i for i in graph.input if i.name.startswith("past_")]
    assert past and all(i.type.tensor_type.elem_type == onnx.TensorProto.FLOAT for i in past)
    assert "int8" not in tiny_t2s.results["t2s_encoder"].files  # embeddings stay fp32
    assert result.to_dict()["quantization"] == "dynamic"
    assert tiny_t2s.results["t2s_encoder"].to_dict()["quantization"] == "none"


def test_nan_weights_fail_verification(tmp_path: Path) -> None:
    weights = tiny_gpt_state_dict()
    weights["h.layers.1.linear1.weight"][0, 0] = float("nan")
    checkpoint = load_gpt_checkpoint(write_tiny_gpt(tmp_path / "gpt.ckpt", weights=weights))
    decoder_spec = t2s_graph_specs(checkpoint)[1]
    with pytest.raises(ConversionError, match="t2s_decoder disagrees"):
        export_graph(decoder_spec, tmp_path)


def test_upstream_written_checkpoint_converts_and_decodes(
    upstream_fixtures: Path, tmp_path: Path, make_inputs: Callable[..., Inputs]
) -> None:
    """Conformance: the GPT file written by upstream's own code goes through loader, modules and graphs."""
    path = upstream_fixtures / "tiny-v2" / "gpt.ckpt"
    ours = torch.load(write_tiny_gpt(tmp_path / "ours.ckpt"), map_location="cpu", weights_only=True)
    theirs = torch.load(path, map_location="cpu", weights_only=True)
    assert list(ours) == list(theirs)
    assert [(k, v.shape, v.dtype) for k, v in ours["weight"].items()] == [
        (k, v.shape, v.dtype) for k, v in theirs["weight"].items()
    ]
    assert set(ours["config"]) == set(theirs["config"])
    converted = convert_t2s(path, tmp_path / "model")
    inputs = make_inputs()
    phones, bert, prompt = (torch.from_numpy(a) for a in inputs)
    expected, _ = converted.model.infer_no_cache(phones, bert, prompt, 20)
    options = SynthesisOptions(top_k=1, repetition_penalty=1.0, max_tokens=20)
    assert converted.decoder().generate(*inputs, options, np.random.default_rng(0)).tolist() == expected


def test_batch_prefill_mask_blocks_left_padding() -> None:
    # Sentence 0 has 1 text row (left-padded by 1), sentence 1 has 2; then 1 audio row. 1 = blocked.
    blocked = np.isinf(prefill_bias([1, 2], 1)[:, 0]).astype(int).tolist()
    assert blocked == [
        [[1, 0, 1], [1, 0, 1], [1, 0, 0]],
        [[0, 0, 1], [0, 0, 1], [0, 0, 0]],
    ]
