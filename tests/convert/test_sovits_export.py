"""Graph export of the SoVITS side: every graph verified against torch, INT8 where it pays."""

from __future__ import annotations

import numpy as np
import pytest

from tests.support.tiny_models.sovits_folder import TINY_BERT_HIDDEN, cached_sovits_folder, sovits_model
from wyoming_server.checkpoints.dims.sovits import GeneratorDims
from wyoming_server.convert.random_weights.sovits import SOVITS_TINY, UPSAMPLE_RATES
from wyoming_server.engine.gpt_sovits.manifest import Manifest
from wyoming_server.importer.sovits_plans import generator_int8_prefixes, int8_resblocks

pytestmark = pytest.mark.slow


def test_every_graph_is_verified_against_torch() -> None:
    folder = cached_sovits_folder("v2Pro")
    assert set(folder.results) == {"vits_decoder", "ref_embedder", "prompt_extractor", "sv_embedder"}
    for name, result in folder.results.items():
        assert result.max_abs_error <= 1e-4, name
        assert result.files == {"fp32": f"{name}.onnx"}
    dims = Manifest.read(folder.model_dir).dims["sovits"]
    assert dims == {
        "version": "v2Pro",
        "gin": 24,
        "inter_channels": 8,
        "hidden_channels": 16,
        "phone_count": 732,
        "codebook_size": 1024,
        "ssl_dim": 32,
        "sv_dim": 640,
        "sample_rate_hz": 32000,
        "hop_samples": 640,
        "frames_per_token": 2,
        "samples_per_token": 1280,
        "spec_bins": 1025,
        "ref_bins": 704,
    }


def test_graphs_take_any_length() -> None:
    model = sovits_model(cached_sovits_folder("v2Pro"))
    rng = np.random.default_rng(0)
    for frames in (1, 7, 300):
        feeds = {
            "spec": rng.random((1, 1025, frames), dtype=np.float32),
            "sv_emb": np.zeros((1, 640), np.float32),
        }
        assert model.session("ref_embedder").run(None, feeds)[0].shape == (1, 24, 1)
    for samples in (400 + 320 * 3, 16000 * 7):
        codes = model.session("prompt_extractor").run(None, {"wave": np.zeros((1, samples), np.float32)})[0]
        assert codes.dtype == np.int64 and codes.shape == ((((samples - 400) // 320) + 1) // 2,)
    fbank = rng.standard_normal((1, 123, 80)).astype(np.float32)
    assert model.session("sv_embedder").run(None, {"fbank": fbank})[0].shape == (1, 640)


def test_int8_only_for_the_decoder_and_bert() -> None:
    folder = cached_sovits_folder("v2", int8=True, bert=True)
    int8 = {name: r.int8_error for name, r in folder.results.items() if "int8" in r.files}
    assert set(int8) == {"vits_decoder", "bert"}
    # The converter's INT8-vs-fp32 figures on random inputs. Measured: decoder SNR 23.4 dB, BERT cosine
    # 0.99993, both the same on AVX2 without VNNI (qemu -cpu Haswell).
    assert int8["vits_decoder"]["snr_db"] >= 15.0
    assert 0.999 <= int8["bert"]["cosine"] < 1.0
    model = sovits_model(folder, "int8")
    features = model.session("bert").run(None, {"input_ids": np.array([[2, 20, 21, 3]], np.int64)})[0]
    assert features.shape == (2, TINY_BERT_HIDDEN)


def test_generator_int8_layers_are_the_costly_residual_blocks() -> None:
    # The released v2 generator: 512 channels halved per stage, kernels 3/7/11. The cheap blocks (kernel 3
    # of stages 1 and 3, and those of the 32- and 16-channel stages but the 32-channel kernel 11) stay fp32.
    released = GeneratorDims(192, 512, 512, (10, 8, 2, 2, 2), (16, 16, 8, 2, 2), (3, 7, 11), ((1, 3, 5),) * 3)
    assert generator_int8_prefixes(released) == tuple(f"/dec/resblocks.{j}/" for j in (1, 2, 3, 4, 5, 7, 8, 11))


def test_int8_decoder_quantizes_resblock_convs_only() -> None:
    import onnx

    folder = cached_sovits_folder("v2", int8=True, bert=True)
    graph = onnx.load(str(folder.model_dir / folder.results["vits_decoder"].files["int8"])).graph
    size = SOVITS_TINY["v2"]
    generator = GeneratorDims(
        0, size.initial_channels, 0, UPSAMPLE_RATES, size.upsample_kernels, size.resblock_kernels,
        size.resblock_dilations,
    )
    blocks = len(size.resblock_kernels) * len(UPSAMPLE_RATES)
    quantized = {f"/dec/resblocks.{j}/" for j in int8_resblocks(generator)}
    assert 0 < len(quantized) < blocks
    kept = ", ".join(str(j) for j in range(blocks) if f"/dec/resblocks.{j}/" not in quantized)
    assert f"residual blocks {kept}, upsampling" in folder.results["vits_decoder"].int8_note  # the manifest says so
    convs = [n for n in graph.node if n.op_type in ("Conv", "ConvTranspose")]
    for node in convs:
        inputs_quantized = any(i.endswith("_DequantizeLinear_Output") for i in node.input)
        in_quantized_block = node.op_type == "Conv" and any(node.name.startswith(p) for p in quantized)
        assert inputs_quantized == in_quantized_block, node.name
