"""At the released sizes too, the template converter writes the torch converter's graphs.

Random-weight checkpoints at the real v2 dimensions (GPT 24 x 512, SoVITS, HuBERT base), converted by
both converters (fp32: quantization is the same shared code, checked on tiny models in
test_equivalence.py and at real size by `bench convert --compare`). The template converter runs in a
child process that must not import torch.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from wyoming_server.bench.conversion import run_conversion_bench

pytestmark = pytest.mark.slow


def test_real_size_v2_graphs_are_the_torch_converters(tmp_path: Path) -> None:
    figures = run_conversion_bench(tmp_path, "v2", "real", "fp32", compare=True, report=lambda _: None)
    assert figures["templates"]["torch_imported"] is False
    files = sorted(c["file"] for c in figures["comparison"])
    assert files[0].startswith("hubert-")  # the shared HuBERT, compared too
    assert files[1:] == ["prompt_quantizer.onnx", "ref_embedder.onnx", "t2s_decoder.onnx", "t2s_encoder.onnx",
                         "vits_decoder.onnx"]
    for comparison in figures["comparison"]:
        assert comparison["same_graph"], comparison
        assert comparison["output_error"] <= comparison["tolerance"], comparison
