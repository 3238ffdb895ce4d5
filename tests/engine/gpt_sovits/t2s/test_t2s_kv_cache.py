"""The INT8 step graph with an int8 KV cache (`t2s_step`, issue 7): conversion, hand-over, decoding."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import pytest
from numpy.typing import NDArray
from onnx import numpy_helper

from tests.support.tiny_models.t2s import ConvertedT2S, Inputs, convert_t2s
from wyoming_server.convert.random_weights.gpt import write_tiny_gpt
from wyoming_server.engine import ModelLoadError, SynthesisOptions
from wyoming_server.engine.gpt_sovits import t2s_io
from wyoming_server.engine.gpt_sovits.t2s import T2SDecoder
from wyoming_server.engine.gpt_sovits.t2s_state import KVCache, T2SState, prefill_bias
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
        # One run for both, as the split int8 prefill's dynamic INT8 scales would differ from the fp32 one's.
        states[name].run(x, prompt[None].copy(), np.arange(30, dtype=np.int64)[None], prefill_bias([20], 30))
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
        broken.decoder("int8", prefill_on_step_graph=False)  # the hand-over path reads the scales
    scales_file.write_bytes(b"not numpy")
    with pytest.raises(ModelLoadError, match="cannot read"):
        broken.decoder("int8", prefill_on_step_graph=False)  # the hand-over path reads the scales


def _teacher_forced_argmax(decoder: T2SDecoder, inputs: Inputs, tokens: NDArray[np.int64]) -> NDArray[np.int64]:
    """The greedy choice after the prefill and after each of `tokens` fed back."""
    phones, bert, prompt = inputs
    state = decoder.start([decoder.encode(phones, bert)], prompt, tokens.size)
    choices = [int(state.logits[0].argmax())]
    for token in tokens:
        state.step(np.array([token], np.int64))
        choices.append(int(state.logits[0].argmax()))
    return np.array(choices)


def test_one_session_prefills_on_the_step_graph(tiny_t2s: ConvertedT2S, make_inputs: Callable[..., Inputs]) -> None:
    """With the prefill on `t2s_step` too, `t2s_decoder` is never opened and greedy tokens agree with
    fp32 as well as the two-session path's do (teacher-forced on fp32's tokens)."""
    model = tiny_t2s.runtime_model("int8")
    one = T2SDecoder(model, prefill_on_step_graph=True)
    two = tiny_t2s.decoder("int8", prefill_on_step_graph=False)
    fp32 = tiny_t2s.decoder("fp32")
    assert one.decoder_graph == t2s_io.STEP_GRAPH and one.int8_steps
    assert t2s_io.DECODER_GRAPH not in model.load_seconds
    assert two.decoder_graph == t2s_io.DECODER_GRAPH
    agree = {"one": 0, "two": 0}
    total = 0
    for seed in range(6):
        inputs = make_inputs(n_phones=15 + seed, n_prompt=10 + 3 * seed, seed=seed)
        state = one.start([one.encode(inputs[0], inputs[1])], inputs[2], 5)
        assert state.cache.dtype is np.int8 and state.cache.length == inputs[0].size + inputs[2].size
        tokens = fp32.generate(*inputs, SynthesisOptions(top_k=1, max_tokens=40), np.random.default_rng(0))
        reference = _teacher_forced_argmax(fp32, inputs, tokens)
        agree["one"] += int(np.sum(_teacher_forced_argmax(one, inputs, tokens) == reference))
        agree["two"] += int(np.sum(_teacher_forced_argmax(two, inputs, tokens) == reference))
        total += reference.size
    assert agree["one"] >= agree["two"] - total // 50 and agree["one"] / total >= 0.9
    # A batch prefills in one run (onnxruntime refuses the text-then-prompt split for B > 1).
    longer, shorter = make_inputs(n_phones=12, seed=1), make_inputs(n_phones=9, seed=2)
    batch = one.start([one.encode(*longer[:2]), one.encode(*shorter[:2])], longer[2], 5)
    assert batch.cache.length == 12 + longer[2].size and batch.logits.shape[0] == 2
