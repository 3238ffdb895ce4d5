"""The converter end to end on tiny official-format checkpoints, and every rejection."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from tests.support.tiny_models.checkpoints import TinyCheckpoints
from tests.support.tiny_models.model_folders import copy_model_folder
from wyoming_server.convert.checkpoints import HParams
from wyoming_server.convert.errors import ConversionError
from wyoming_server.convert.pipeline import convert_model
from wyoming_server.engine.gpt_sovits.manifest import Manifest, sha256_file
from wyoming_server.engine.gpt_sovits.model import GptSoVitsModel
from wyoming_server.engine.gpt_sovits.t2s import T2SDecoder


def test_manifest_records_versions_graphs_and_hashes(tiny_model_v2: Path) -> None:
    manifest = Manifest.read(tiny_model_v2)
    assert manifest.version == "v2"
    assert manifest.symbol_table == "gpt-sovits-v2-732"
    assert manifest.precision == ["fp32", "int8"]
    for name in ("t2s_encoder", "vits_decoder", "ref_embedder", "prompt_extractor", "bert"):
        assert name in manifest.graphs
    assert "sv_embedder" not in manifest.graphs
    int8_graphs = [name for name, g in manifest.graphs.items() if "int8" in g.files]
    assert int8_graphs, "at least one graph is quantized"
    assert "int8" not in manifest.graphs["prompt_extractor"].files  # the codebook argmin stays fp32
    # Each INT8 choice is recorded: the scheme and, in words, which layers (issue 7).
    assert {n: manifest.graphs[n].quantization for n in int8_graphs} == {
        "t2s_step": "dynamic", "vits_decoder": "static", "bert": "dynamic"
    }
    assert set(manifest.extra["int8_choices"]) == set(int8_graphs)
    assert "int8 KV cache" in manifest.extra["int8_choices"]["t2s_step"]
    # The step graph runs the INT8 prefill too: no INT8 t2s_decoder file is kept (80 MB at real size).
    assert manifest.graphs["t2s_decoder"].files == {"fp32": "t2s_decoder.onnx"}
    assert not (tiny_model_v2 / "t2s_decoder.int8.onnx").exists()
    step = manifest.graphs["t2s_step"]  # INT8 only: prefill and steps on an int8 cache, and its scales
    assert step.files == {"int8": "t2s_step.int8.onnx", "kv_scales": "t2s_step.kv_scales.npy"}
    assert step.int8 is not None and step.int8["cosine_min"] >= 0.999
    for name, info in manifest.files.items():
        assert sha256_file(tiny_model_v2 / name) == info["sha256"]
    for entry in manifest.graphs.values():
        assert entry.max_abs_error <= 1e-3
    GptSoVitsModel.load(tiny_model_v2)  # hashes and graph list check out


def test_v2pro_model_has_speaker_verification_graph(tiny_model_v2pro: Path) -> None:
    manifest = Manifest.read(tiny_model_v2pro)
    assert manifest.version == "v2Pro"
    assert "sv_embedder" in manifest.graphs


def test_corrupt_model_file_is_refused_at_load(tiny_model_v2: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    copy_model_folder(tiny_model_v2, copy)
    victim = copy / Manifest.read(copy).graphs["vits_decoder"].files["fp32"]
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    from wyoming_server.engine import ModelLoadError

    with pytest.raises(ModelLoadError, match="sha256"):
        GptSoVitsModel.load(copy)


def _convert(c: TinyCheckpoints, out: Path, **changes: Path | None) -> None:
    paths: dict[str, Path | None] = {"gpt": c.gpt, "sovits": c.sovits_v2, "hubert": c.hubert, "sv": None}
    paths.update(changes)
    assert paths["gpt"] and paths["sovits"] and paths["hubert"]
    convert_model(paths["gpt"], paths["sovits"], paths["hubert"], out, sv=paths["sv"], precision="fp32")


def _with_header(source: Path, header: bytes, dest: Path) -> Path:
    dest.write_bytes(header + source.read_bytes()[2:])
    return dest


@pytest.mark.parametrize(
    ("header", "message"),
    [(b"00", "v1"), (b"02", "v3"), (b"03", "v3"), (b"04", "v4"), (b"ZZ", "unknown header")],
)
def test_other_versions_are_refused_with_no_output(
    tiny_checkpoints: TinyCheckpoints, tmp_path: Path, header: bytes, message: str
) -> None:
    sovits = _with_header(tiny_checkpoints.sovits_v2, header, tmp_path / "s.pth")
    with pytest.raises(ConversionError, match=message):
        _convert(tiny_checkpoints, tmp_path / "out", sovits=sovits)
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["s.pth"]  # no temp folder left either


def test_truncated_checkpoint_is_refused(tiny_checkpoints: TinyCheckpoints, tmp_path: Path) -> None:
    truncated = tmp_path / "gpt.ckpt"
    data = tiny_checkpoints.gpt.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ConversionError, match="truncated"):
        _convert(tiny_checkpoints, tmp_path / "out", gpt=truncated)
    assert not (tmp_path / "out").exists()


def test_v1_gpt_is_refused(tiny_checkpoints: TinyCheckpoints, tmp_path: Path) -> None:
    checkpoint = torch.load(tiny_checkpoints.gpt, weights_only=False)
    key = "model.ar_text_embedding.word_embeddings.weight"
    checkpoint["weight"][key] = checkpoint["weight"][key][:322]
    torch.save(checkpoint, tmp_path / "v1.ckpt")
    with pytest.raises(ConversionError, match="v1"):
        _convert(tiny_checkpoints, tmp_path / "out", gpt=tmp_path / "v1.ckpt")


def test_mixed_versions_are_refused(tiny_checkpoints: TinyCheckpoints, tmp_path: Path) -> None:
    checkpoint = torch.load(tiny_checkpoints.gpt, weights_only=False)
    key = "model.ar_text_embedding.word_embeddings.weight"
    checkpoint["weight"][key] = torch.cat([checkpoint["weight"][key], checkpoint["weight"][key][:10]])
    torch.save(checkpoint, tmp_path / "odd.ckpt")
    with pytest.raises(ConversionError, match="phones"):
        _convert(tiny_checkpoints, tmp_path / "out", gpt=tmp_path / "odd.ckpt")


def test_pro_without_speaker_verification_is_refused(tiny_checkpoints: TinyCheckpoints, tmp_path: Path) -> None:
    with pytest.raises(ConversionError, match="--sv"):
        _convert(tiny_checkpoints, tmp_path / "out", sovits=tiny_checkpoints.sovits_v2pro)


@pytest.mark.parametrize("which", ["gpt", "sovits"])
def test_missing_key_is_named(tiny_checkpoints: TinyCheckpoints, tmp_path: Path, which: str) -> None:
    source = tiny_checkpoints.gpt if which == "gpt" else tiny_checkpoints.sovits_v2
    raw = source.read_bytes()
    import io

    with torch.serialization.safe_globals([(HParams, "utils.HParams")]):
        checkpoint = torch.load(io.BytesIO(b"PK" + raw[2:]), weights_only=True)
    if isinstance(checkpoint.get("config"), HParams):
        checkpoint["config"] = checkpoint["config"].to_dict()
    victim = "model.h.layers.0.linear1.weight" if which == "gpt" else "dec.conv_pre.weight"
    del checkpoint["weight"][victim]
    broken = tmp_path / f"broken.{which}"
    torch.save(checkpoint, broken)
    with pytest.raises(ConversionError, match=victim.removeprefix("model.")):
        _convert(tiny_checkpoints, tmp_path / "out", **{which: broken})
    assert not (tmp_path / "out").exists()


def test_existing_output_is_kept_without_force(tiny_checkpoints: TinyCheckpoints, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(ConversionError, match="already exists"):
        _convert(tiny_checkpoints, out)
    assert (out / "keep.txt").read_text() == "mine"


def test_int8_only_folder_loads(tiny_checkpoints: TinyCheckpoints, tmp_path: Path) -> None:
    c = tiny_checkpoints
    manifest = convert_model(c.gpt, c.sovits_v2, c.hubert, tmp_path / "m", precision="int8")
    assert manifest.precision == ["int8"]
    written = json.loads((tmp_path / "m" / "manifest.json").read_text())
    assert set(written["files"]) == {p.name for p in (tmp_path / "m").iterdir() if p.name != "manifest.json"}
    # t2s_step runs the INT8 prefill and steps, so there is no t2s_decoder file of either precision.
    assert "t2s_decoder" not in manifest.graphs and not list((tmp_path / "m").glob("t2s_decoder*"))
    model = GptSoVitsModel.load(tmp_path / "m")
    assert model.precision == "int8"
    for two_sessions in (False, True):  # the two-session toggle has no t2s_decoder to run: one session
        decoder = T2SDecoder(model, prefill_on_step_graph=not two_sessions)  # warms up: a prefill and a step
        assert decoder.decoder_graph == "t2s_step" and decoder.vocab


def test_upstream_written_v2_checkpoints_convert(upstream_fixtures: Path, tmp_path: Path) -> None:
    """The whole pipeline on files upstream's own code wrote (v2Pro graphs: tests/convert/test_sovits_conformance)."""
    folder = upstream_fixtures / "tiny-v2"
    manifest = convert_model(
        folder / "gpt.ckpt", folder / "sovits.pth", folder / "chinese-hubert-base", tmp_path / "v2", precision="fp32"
    )
    assert manifest.version == "v2"
    GptSoVitsModel.load(tmp_path / "v2")
