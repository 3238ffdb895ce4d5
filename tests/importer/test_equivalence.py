"""The template converter (no torch) writes the same model folder as the torch converter, the reference.

For each checkpoint set — our tiny official-format files of v2, v2Pro and v2ProPlus, and the files
upstream GPT-SoVITS's own code wrote (v2, and v2Pro with an SV network of ours) — both converters
convert the same files. Every graph, fp32 and INT8 (and the T2S step graph with its int8 KV cache),
must be the same graph with the same weights (float ones within 1e-5 of their largest value), and
give the same outputs on the converter's own random inputs within the converter's own tolerance
(for INT8: as far from fp32 as the reference INT8 graph, within 2 dB; see `graph_compare`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.support.tiny_models.checkpoints import TinyCheckpoints, upstream_fixtures_dir
from tests.support.tiny_models.templates import convert_with_templates, make_test_templates
from wyoming_server.convert.graph_compare import INT8_MARGIN, compare_folders, compare_shared_files
from wyoming_server.convert.pipeline import convert_model as torch_convert_model
from wyoming_server.engine.gpt_sovits import t2s_io
from wyoming_server.engine.gpt_sovits.manifest import Manifest
from wyoming_server.engine.gpt_sovits.shared_files import SSL_FILE_KEY, shared_dir
from wyoming_server.importer.sovits_plans import sovits_plans
from wyoming_server.importer.t2s_plans import t2s_plans
from wyoming_server.importer.template_sources import CheckpointSet
from wyoming_server.storage import atomic

pytestmark = pytest.mark.slow

INT8_SNR_MARGIN_DB = 2.0
"""Two calibrations a last bit apart (torch's fp32 folding is not numpy's on every CPU) move an INT8
graph's SNR a little; a wrong graph moves it by far more."""


def _assert_same_folders(
    gpt: Path, sovits: Path, hubert: Path, sv: Path | None, templates: Path, root: Path, *, one_hubert: bool = True
) -> None:
    """`one_hubert`: both write the same shared file, so a data folder holding models of both keeps one."""
    # Each in its own data folder, so each writes its own shared HuBERT.
    ref_dir, cand_dir = root / "torch" / "model", root / "templates" / "model"
    reference = torch_convert_model(gpt, sovits, hubert, ref_dir, sv=sv)
    candidate = convert_with_templates(gpt, sovits, hubert, cand_dir, templates, sv=sv)
    assert candidate.extra["converter"] == "templates" and reference.extra["converter"] == "torch export"
    names = sorted(p.name for p in ref_dir.iterdir())
    assert names == sorted(p.name for p in cand_dir.iterdir())
    assert {f"{t2s_io.STEP_GRAPH}.int8.onnx", "vits_decoder.int8.onnx", "t2s_decoder.onnx"} <= set(names)
    assert "t2s_decoder.int8.onnx" not in names  # t2s_step runs the INT8 prefill too

    checkpoints = CheckpointSet(gpt, sovits, hubert, sv)
    plans = [*t2s_plans(checkpoints.t2s_dims, False), *sovits_plans(checkpoints.sovits_dims, ref_dir)]
    checkpoints.close()
    comparisons = compare_folders(ref_dir, cand_dir, plans)
    assert len(comparisons) == len([n for n in names if n.endswith(".onnx")])
    shared = compare_shared_files(ref_dir, cand_dir)
    assert len(shared) == 1 and shared[0].file.startswith("hubert-")
    torch_file, template_file = (
        [p.name for p in shared_dir(d).iterdir() if not atomic.is_internal(p.name)] for d in (ref_dir, cand_dir)
    )
    assert (torch_file == template_file) is one_hubert, (torch_file, template_file)
    comparisons += shared
    for comparison in comparisons:
        assert comparison.structure == "", comparison
        assert comparison.output_error <= comparison.tolerance, comparison
    scales = f"{t2s_io.STEP_GRAPH}.{t2s_io.KV_SCALES}.npy"
    np.testing.assert_allclose(np.load(cand_dir / scales), np.load(ref_dir / scales), rtol=1e-5)
    _assert_same_manifests(reference, candidate)


def _own(files: dict[str, str]) -> dict[str, str]:
    """A graph's files, the shared HuBERT's name generalized (see the upstream-written test)."""
    return {key: "hubert-*.onnx" if key == SSL_FILE_KEY else name for key, name in files.items()}


def _assert_same_manifests(reference: Manifest, candidate: Manifest) -> None:
    assert (candidate.version, candidate.dims, candidate.precision) == (
        reference.version, reference.dims, reference.precision
    )
    assert candidate.sampling_defaults == reference.sampling_defaults
    assert list(candidate.graphs) == list(reference.graphs)
    for name, graph in reference.graphs.items():
        other = candidate.graphs[name]
        assert (_own(other.files), other.quantization) == (_own(graph.files), graph.quantization), name
        if graph.int8 is not None:
            assert other.int8 is not None
            assert set(other.int8) == set(graph.int8), name
            for figure, value in graph.int8.items():  # as close as two INT8 graphs are (see graph_compare)
                if figure.startswith("snr_db"):
                    assert abs(other.int8[figure] - value) <= INT8_SNR_MARGIN_DB, (name, figure)
                else:
                    assert other.int8[figure] == pytest.approx(value, rel=INT8_MARGIN - 1, abs=1e-3), (name, figure)


@pytest.mark.parametrize("version", ["v2", "v2Pro", "v2ProPlus"])
def test_tiny_checkpoints_give_the_torch_converters_graphs(
    version: str, tiny_checkpoints: TinyCheckpoints, tiny_templates: Path, tmp_path: Path
) -> None:
    c = tiny_checkpoints
    sovits = {"v2": c.sovits_v2, "v2Pro": c.sovits_v2pro, "v2ProPlus": c.sovits_v2proplus}[version]
    sv = None if version == "v2" else c.sv
    _assert_same_folders(c.gpt, sovits, c.hubert, sv, tiny_templates, tmp_path)


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Path:
    fixtures = upstream_fixtures_dir()
    if fixtures is None:
        pytest.skip("the upstream-written fixtures are not on this machine (EDGE_TTS_CLONE_UPSTREAM_FIXTURES)")
    return fixtures


@pytest.mark.parametrize("version", ["v2", "v2Pro"])
def test_upstream_written_checkpoints_give_the_torch_converters_graphs(
    version: str, upstream: Path, tmp_path: Path
) -> None:
    from wyoming_server.convert.random_weights.sovits import REAL_SV_CHANNELS, write_tiny_sv

    folder = upstream / f"tiny-{version}"
    hubert = upstream / "tiny-v2" / "chinese-hubert-base"
    sv = write_tiny_sv(tmp_path / "sv.ckpt", REAL_SV_CHANNELS, half=True) if version == "v2Pro" else None
    # Templates made from the fixture files themselves (their sizes are nobody else's); the maker
    # traces and checks them on fresh random weights, so the files' own values play no part.
    gpt, sovits = folder / "gpt.ckpt", folder / "sovits.pth"
    templates = make_test_templates(gpt, sovits, hubert, sv, tmp_path / "tpl", check=True)
    # The fixture's HuBERT is freshly initialised: its LayerNorms and biases hold equal values, which
    # torch's exporter merges into fewer initializers, so the shared file's weights hash (its name)
    # differs. Trained or random weights are all distinct: the tiny test above gets one name.
    _assert_same_folders(gpt, sovits, hubert, sv, templates, tmp_path, one_hubert=False)
