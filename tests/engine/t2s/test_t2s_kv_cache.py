"""The optional int8 KV cache of the INT8 T2S graph (`convert --int8-kv-cache`, issue 7)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import pytest

from tests.tiny_models.t2s import ConvertedT2S, Inputs, convert_t2s
from wyoming_server.convert.random_gpt import write_tiny_gpt
from wyoming_server.convert.t2s_kv_cache import KV_SCALE_MARGIN, MIN_COSINE
from wyoming_server.engine import SynthesisOptions


@pytest.fixture(scope="module")
def kv8_t2s(tmp_path_factory: pytest.TempPathFactory) -> ConvertedT2S:
    root = tmp_path_factory.mktemp("kv8_t2s")
    return convert_t2s(write_tiny_gpt(root / "gpt.ckpt"), root / "model", int8_kv_cache=True)


def test_int8_graph_has_an_int8_cache_with_a_scale_per_channel(kv8_t2s: ConvertedT2S) -> None:
    result = kv8_t2s.results["t2s_decoder"]
    graph = onnx.load(str(kv8_t2s.out_dir / result.files["int8"])).graph
    dims = kv8_t2s.model.dims
    caches = [v for v in [*graph.input, *graph.output] if v.name.startswith(("past_", "present_"))]
    assert len(caches) == 4 * dims.n_layer
    assert all(v.type.tensor_type.elem_type == onnx.TensorProto.INT8 for v in caches)
    scales = {i.name: i for i in graph.initializer if i.name.startswith("kv_cache_scale_")}
    assert len(scales) == 2 * dims.n_layer
    assert all(list(s.dims) == [1, dims.n_head, 1, dims.head_dim] for s in scales.values())
    fp32_graph = onnx.load(str(kv8_t2s.out_dir / result.files["fp32"])).graph  # the fp32 graph is untouched
    fp32_past = [i for i in fp32_graph.input if i.name.startswith("past_")]
    assert all(i.type.tensor_type.elem_type == onnx.TensorProto.FLOAT for i in fp32_past)
    assert KV_SCALE_MARGIN > 1.0


def test_int8_cache_logits_stay_close_to_fp32(kv8_t2s: ConvertedT2S) -> None:
    figures = kv8_t2s.results["t2s_decoder"].int8_error
    assert figures["kv_cache_int8"] == 1.0
    assert figures["cosine_min"] >= MIN_COSINE
    assert figures["greedy_agreement"] >= 0.9


def test_runtime_decodes_with_the_int8_cache(kv8_t2s: ConvertedT2S, make_inputs: Callable[..., Inputs]) -> None:
    decoder = kv8_t2s.decoder("int8")
    assert decoder.cache_dtype is np.int8
    phones, bert, prompt = make_inputs()
    options = SynthesisOptions(top_k=1, max_tokens=40)
    first = decoder.generate(phones, bert, prompt, options, np.random.default_rng(0))
    again = decoder.generate(phones, bert, prompt, options, np.random.default_rng(0))
    assert first.dtype == np.int64 and 11 <= first.size <= 40
    np.testing.assert_array_equal(first, again)
    # The cache outgrows its first capacity (prefill + 256) and is copied once into a larger int8 buffer.
    long = decoder.generate(phones, bert, prompt, SynthesisOptions(top_k=1, max_tokens=300), np.random.default_rng(0))
    np.testing.assert_array_equal(long[: first.size], first)


def test_converter_option_reaches_the_graph_spec(tmp_path: Path) -> None:
    from wyoming_server.convert.checkpoints import load_gpt_checkpoint
    from wyoming_server.convert.t2s_export import t2s_graph_specs

    checkpoint = load_gpt_checkpoint(write_tiny_gpt(tmp_path / "gpt.ckpt"))
    plain, kv8 = t2s_graph_specs(checkpoint)[1], t2s_graph_specs(checkpoint, int8_kv_cache=True)[1]
    assert plain.finish_int8 is None and kv8.finish_int8 is not None
    assert "KV cache fp32" in plain.int8_note and "KV cache int8" in kv8.int8_note
