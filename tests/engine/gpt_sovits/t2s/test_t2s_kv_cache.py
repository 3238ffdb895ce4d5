"""The INT8 step graph with an int8 KV cache (`t2s_step`, issue 7): conversion, hand-over, decoding."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from tests.support.tiny_models.t2s import ConvertedT2S, Inputs, convert_t2s
from wyoming_server.convert.random_weights.gpt import write_tiny_gpt
from wyoming_server.engine import ModelLoadError, SynthesisOptions
from wyoming_server.engine.gpt_sovits import t2s_io
from wyoming_server.engine.gpt_sovits.t2s_state import KVCache, T2SState
from wyoming_server.engine.onnx import create_session
from wyoming_server.importer import t2s_kv_cache
from wyoming_server.importer.t2s_kv_cache import KV_SCALE_MARGIN, MIN_COSINE


def test_step_graph_has_an_int8_cache_with_the_saved_scales(tiny_t2s: ConvertedT2S) -> None:
    step = tiny_t2s.results[t2s_io.STEP_GRAPH]
    graph = onnx.load(str(tiny_t2s.out_dir / step.files["int8"])).graph
    dims = tiny_t2s.model.dims
    caches = [v for v in [*graph.input, *graph.output] if v.name.startswith(("past_", "present_"))]
    assert len(caches) == 4 * dims.n_layer
    assert all(v.type.tensor_type.elem_type == onnx.TensorProto.INT8 for v in caches)
    saved = np.load(tiny_t2s.out_dir / step.files[t2s_io.KV_SCALES])
    assert saved.shape == (dims.n_layer, 2, dims.n_head, dims.head_dim) and saved.dtype == np.float32
    in_graph = {i.name: numpy_helper.to_array(i) for i in graph.initializer if i.name.startswith("kv_cache_scale_")}
    assert len(in_graph) == 2 * dims.n_layer
    for layer in range(dims.n_layer):  # the runtime's copy and the graph's are the same values
        np.testing.assert_array_equal(in_graph[f"kv_cache_scale_k_{layer}"][0, :, 0, :], saved[layer, 0])
        np.testing.assert_array_equal(in_graph[f"kv_cache_scale_v_{layer}"][0, :, 0, :], saved[layer, 1])
    prefill = onnx.load(str(tiny_t2s.out_dir / tiny_t2s.results["t2s_decoder"].files["int8"])).graph
    prefill_past = [i for i in prefill.input if i.name.startswith("past_")]
    assert all(i.type.tensor_type.elem_type == onnx.TensorProto.FLOAT for i in prefill_past)
    assert KV_SCALE_MARGIN > 1.0


def test_int8_steps_stay_close_to_fp32(tiny_t2s: ConvertedT2S) -> None:
    figures = tiny_t2s.results[t2s_io.STEP_GRAPH].int8_error
    assert figures["cosine_min"] >= MIN_COSINE
    assert figures["greedy_agreement"] >= 0.9


def test_hand_over_quantizes_like_the_attention_kernel(
    tiny_t2s: ConvertedT2S, make_inputs: Callable[..., Inputs]
) -> None:
    """Layer 0's K/V do not depend on attention, so the step graph's own int8 rows must equal ours."""
    dims = tiny_t2s.model.dims
    scales = np.load(tiny_t2s.out_dir / tiny_t2s.results[t2s_io.STEP_GRAPH].files[t2s_io.KV_SCALES])
    phones, bert, prompt = make_inputs(n_phones=20, n_prompt=30, seed=3)
    x = tiny_t2s.decoder("int8").encode(phones, bert)
    states = {}
    for name, dtype in (("t2s_decoder", np.float32), (t2s_io.STEP_GRAPH, np.int8)):
        session = create_session(tiny_t2s.out_dir / tiny_t2s.results[name].files["int8"], threads=1)
        cache = KVCache(dims.n_layer, 1, dims.n_head, dims.head_dim, 50, dtype)
        states[name] = T2SState(session, cache, [20], 30, None)
        states[name].prefill(x, prompt, [20])
    ours = states["t2s_decoder"].cache.quantized(scales, 60)
    kernel = states[t2s_io.STEP_GRAPH].cache
    assert ours.capacity == 60 and ours.length == kernel.length == 50
    for index in (0, 1):  # layer 0: K, V
        mine, theirs = ours.buffers[index][:, :, :50].astype(int), kernel.buffers[index][:, :, :50].astype(int)
        assert np.abs(mine - theirs).max() <= 1  # round-half cases may differ by one step
        assert np.mean(mine == theirs) > 0.999
    with pytest.raises(ValueError, match="KV scales"):
        states["t2s_decoder"].cache.quantized(scales[:, :1], 60)
    with pytest.raises(ValueError, match="capacity"):
        states["t2s_decoder"].cache.quantized(scales, 10)


def test_runtime_steps_on_the_int8_cache(tiny_t2s: ConvertedT2S, make_inputs: Callable[..., Inputs]) -> None:
    assert not tiny_t2s.decoder("fp32").int8_steps
    decoder = tiny_t2s.decoder("int8")
    assert decoder.int8_steps
    phones, bert, prompt = make_inputs()
    state = decoder.start([decoder.encode(phones, bert)], prompt, 5)
    assert state.cache.dtype is np.int8 and state.cache.length == phones.size + prompt.size
    options = SynthesisOptions(top_k=1, max_tokens=40)
    first = decoder.generate(phones, bert, prompt, options, np.random.default_rng(0))
    again = decoder.generate(phones, bert, prompt, options, np.random.default_rng(0))
    assert first.dtype == np.int64 and 11 <= first.size <= 40
    np.testing.assert_array_equal(first, again)
    # The cache outgrows its first capacity (prefill + 256) and is copied once into a larger int8 buffer.
    long = decoder.generate(phones, bert, prompt, SynthesisOptions(top_k=1, max_tokens=300), np.random.default_rng(0))
    np.testing.assert_array_equal(long[: first.size], first)


def test_a_drifting_int8_cache_leaves_no_step_graph(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_inputs: Callable[..., Inputs]
) -> None:
    monkeypatch.setattr(t2s_kv_cache, "MIN_COSINE", 1.5)  # no cosine reaches it
    converted = convert_t2s(write_tiny_gpt(tmp_path / "gpt.ckpt"), tmp_path / "model")
    assert t2s_io.STEP_GRAPH not in converted.results
    assert not list((tmp_path / "model").glob(f"{t2s_io.STEP_GRAPH}*"))
    decoder = converted.decoder("int8")  # steps on the fp32-cache INT8 graph
    assert not decoder.int8_steps
    tokens = decoder.generate(*make_inputs(), SynthesisOptions(top_k=1, max_tokens=20), np.random.default_rng(0))
    assert tokens.size == 20


def test_without_the_option_no_step_graph_is_written(tmp_path: Path) -> None:
    converted = convert_t2s(write_tiny_gpt(tmp_path / "gpt.ckpt"), tmp_path / "model", int8_kv_cache=False)
    assert t2s_io.STEP_GRAPH not in converted.results
    assert "KV cache fp32" in converted.results["t2s_decoder"].int8_note


def test_bad_scales_are_refused_at_load(tiny_t2s: ConvertedT2S, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "model"
    shutil.copytree(tiny_t2s.out_dir, copy)
    scales_file = copy / tiny_t2s.results[t2s_io.STEP_GRAPH].files[t2s_io.KV_SCALES]
    broken = ConvertedT2S(tiny_t2s.checkpoint, tiny_t2s.model, copy, tiny_t2s.results)
    np.save(scales_file, -np.load(scales_file))
    with pytest.raises(ModelLoadError, match="KV scales must be positive"):
        broken.decoder("int8")
    scales_file.write_bytes(b"not numpy")
    with pytest.raises(ModelLoadError, match="cannot read"):
        broken.decoder("int8")
