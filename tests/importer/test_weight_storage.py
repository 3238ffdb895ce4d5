"""INT8 graphs store the conv weights they keep in fp32 as int16: half the bytes, the same output."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from tests.support.tiny_models.model_folders import copy_model_folder
from wyoming_server.bench.sovits import decoder_inputs, onnx_decoder, onnx_wave
from wyoming_server.engine.audio import snr_db
from wyoming_server.importer.weight_storage import MIN_WEIGHT_BYTES, store_fp32_conv_weights_as_int16


def _graph(path: Path, rng: np.random.Generator) -> None:
    """x (1, 64, T) -> Conv 64->96 k5 -> ConvTranspose 96->32 k4 s2 -> Conv 32->32 k1 (a weight too small to store)."""
    weights = {
        "conv.weight": rng.standard_normal((96, 64, 5)).astype(np.float32) * 0.05,
        "conv.bias": rng.standard_normal(96).astype(np.float32),
        "up.weight": rng.standard_normal((96, 32, 4)).astype(np.float32) * 0.05,
        "small.weight": rng.standard_normal((32, 32, 1)).astype(np.float32),
    }
    nodes = [
        helper.make_node("Conv", ["x", "conv.weight", "conv.bias"], ["h"], pads=[2, 2], name="conv"),
        helper.make_node("ConvTranspose", ["h", "up.weight"], ["u"], strides=[2], name="up"),
        helper.make_node("Conv", ["u", "small.weight"], ["y"], name="small"),
    ]
    graph = helper.make_graph(
        nodes, "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64, "T"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(w, name) for name, w in weights.items()],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))


def _run(path: Path, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    result: np.ndarray = session.run(None, {"x": x})[0]
    return result


def test_large_conv_weights_become_int16_and_the_output_stays(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    path = tmp_path / "g.onnx"
    _graph(path, rng)
    x = rng.standard_normal((1, 64, 50)).astype(np.float32)
    before = _run(path, x)

    saved = store_fp32_conv_weights_as_int16(path)

    assert saved == (96 * 64 * 5 + 96 * 32 * 4) * 2  # four bytes became two
    stored = {init.name: init.data_type for init in onnx.load(str(path)).graph.initializer}
    assert stored["conv.weight_int16"] == stored["up.weight_int16"] == TensorProto.INT16
    assert "conv.weight" not in stored and "up.weight" not in stored
    assert stored["small.weight"] == TensorProto.FLOAT and MIN_WEIGHT_BYTES > 32 * 32 * 4
    assert stored["conv.bias"] == TensorProto.FLOAT
    after = _run(path, x)
    error = np.abs(after - before).max() / np.abs(before).max()
    assert 0 < error < 1e-4, error  # int16 rounding: not bit-identical, far below INT8's error


def test_a_graph_without_large_fp32_conv_weights_is_left_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "g.onnx"
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    before = path.read_bytes()
    assert store_fp32_conv_weights_as_int16(path) == 0
    assert path.read_bytes() == before


def test_the_decoders_with_every_conv_weight_in_int16_sound_the_same(tiny_model_v2: Path, tmp_path: Path) -> None:
    # The tiny decoder's weights are all below MIN_WEIGHT_BYTES: store every one, to run the real graph's layout.
    folder = tmp_path / "model"
    copy_model_folder(tiny_model_v2, folder)
    rng = np.random.default_rng(5)
    gin = onnx_decoder(folder, "fp32", 1).gin
    ge = rng.standard_normal((1, gin, 1)).astype(np.float32)
    inputs = decoder_inputs(rng.integers(0, 100, 40), rng.integers(1, 60, 30), ge, 2.0)
    before = {precision: onnx_wave(onnx_decoder(folder, precision, 1), inputs) for precision in ("fp32", "int8")}
    for name in ("vits_decoder.onnx", "vits_decoder.int8.onnx"):
        assert store_fp32_conv_weights_as_int16(folder / name, min_bytes=0) > 0
    after = {precision: onnx_wave(onnx_decoder(folder, precision, 1), inputs) for precision in ("fp32", "int8")}
    assert np.abs(before["fp32"]).max() > 0
    # In fp32 the only change is int16 rounding of the weights: far below INT8's 20-30 dB.
    assert 60 < snr_db(before["fp32"], after["fp32"]) < 200
    # In INT8 it flips some activation roundings (another draw of the same noise), so the distance
    # from fp32 is what must not change.
    int8_before, int8_after = snr_db(before["fp32"], before["int8"]), snr_db(before["fp32"], after["int8"])
    assert abs(int8_after - int8_before) < 1.0, (int8_before, int8_after)
