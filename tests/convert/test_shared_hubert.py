"""One HuBERT per data folder: the converter splits the prompt extractor, two model folders share it."""

from __future__ import annotations

import errno
import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from tests.support.tiny_models.checkpoints import TinyCheckpoints
from tests.support.tiny_models.sovits_folder import cached_sovits_folder
from wyoming_server.convert.checkpoints import load_sovits_checkpoint
from wyoming_server.convert.errors import ConversionError
from wyoming_server.convert.pipeline import convert_model
from wyoming_server.convert.random_weights.sovits import write_tiny_sovits
from wyoming_server.convert.sovits_export import PromptExtractor
from wyoming_server.convert.torch_modules.hubert import load_hubert
from wyoming_server.convert.torch_modules.sovits import build_sovits_modules
from wyoming_server.engine.audio import resample
from wyoming_server.engine.errors import ModelLoadError
from wyoming_server.engine.gpt_sovits.model import GptSoVitsModel
from wyoming_server.engine.gpt_sovits.prompt import build_voice_prompt
from wyoming_server.engine.gpt_sovits.shared_files import (
    PROMPT_QUANTIZER_FILE,
    SSL_FEATURES,
    SSL_FILE_KEY,
    place_shared_file,
)
from wyoming_server.engine.gpt_sovits.text import to_phones
from wyoming_server.importer import pipeline as importer_pipeline
from wyoming_server.importer import shared_hubert
from wyoming_server.importer.calibration import synthetic_voice
from wyoming_server.importer.plans import GraphResult
from wyoming_server.importer.shared_hubert import split_graphs, split_prompt_extractor
from wyoming_server.models.install import install_converted_model
from wyoming_server.models.installed import installed_models
from wyoming_server.storage import atomic

pytestmark = pytest.mark.slow
_CLIP = synthetic_voice(4.0, 32000, 3)


def _run(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> np.ndarray:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return np.asarray(session.run(None, feeds)[0])


def _convert(c: TinyCheckpoints, out: Path, sovits: Path | None = None) -> None:
    convert_model(c.gpt, sovits or c.sovits_v2, c.hubert, out, precision="fp32")


def _enroll(model_dir: Path) -> np.ndarray:
    model = GptSoVitsModel.load(model_dir)
    return build_voice_prompt(_CLIP, 32000, "你好", "zh", model, frontend=to_phones).semantic


def test_two_parts_give_the_single_graphs_tokens() -> None:
    path = cached_sovits_folder("v2").model_dir / "prompt_extractor.onnx"
    single = onnx.load(path)
    hubert, quantizer = split_graphs(onnx.load(path))  # cuts its argument in place
    assert [o.name for o in hubert.graph.output] == [SSL_FEATURES]
    assert [i.name for i in quantizer.graph.input] == [SSL_FEATURES]
    sizes = [part.ByteSize() for part in (hubert, quantizer, single)]
    assert sizes[0] + sizes[1] <= sizes[2] * 1.01  # no weights in both halves
    for seed in range(3):
        wave = synthetic_voice(3.0 + seed, 16000, seed)[None].astype(np.float32)
        features = _run(hubert, {"wave": wave})
        np.testing.assert_array_equal(_run(quantizer, {SSL_FEATURES: features}), _run(single, {"wave": wave}))


def test_the_shared_file_written_in_pieces_reads_back_as_the_cut_graph(tmp_path: Path) -> None:
    source = cached_sovits_folder("v2").model_dir / "prompt_extractor.onnx"
    (tmp_path / "model").mkdir()
    shutil.copy(source, tmp_path / "model" / source.name)
    result = GraphResult(name="prompt_extractor", files={"fp32": source.name}, max_abs_error=0.0)
    entry, shared = split_prompt_extractor(result, tmp_path / "model", tmp_path / "shared")
    written = tmp_path / "shared" / entry.files[SSL_FILE_KEY]
    assert set(shared) == {written.name} and shared[written.name]["bytes"] == written.stat().st_size
    onnx.checker.check_model(str(written))
    onnx.checker.check_model(str(tmp_path / "model" / PROMPT_QUANTIZER_FILE))
    hubert, _ = split_graphs(onnx.load(source))
    assert onnx.load(written).SerializeToString() == hubert.SerializeToString()
    assert not (tmp_path / "model" / source.name).exists()


def _shared_files(models: Path) -> list[Path]:
    """The shared folder's files; its only other entry may be the lock its writers take."""
    entries = sorted((models / "shared").iterdir())
    assert {p.name for p in entries if atomic.is_internal(p.name)} <= {atomic.LOCK_FILE}  # no staging left
    return [p for p in entries if not atomic.is_internal(p.name)]


def test_a_crashed_writers_staging_is_removed_and_a_live_ones_kept(tmp_path: Path) -> None:
    source = cached_sovits_folder("v2").model_dir / "prompt_extractor.onnx"
    shared = tmp_path / "shared"
    shared.mkdir()
    dead = shared / f"{atomic.STAGING_PREFIX}hubert-0123456789abcdef.onnx-0badf00d"
    dead.mkdir()
    (dead / "hubert-0123456789abcdef.onnx").write_bytes(b"half a graph")  # a writer killed mid-file
    (shared / (dead.name + atomic.OWNER_SUFFIX)).touch()  # its owner lock went with the process
    with atomic.StagingFolder(shared, "hubert-fedcba9876543210.onnx") as live:  # another conversion, running
        (tmp_path / "model").mkdir()
        shutil.copy(source, tmp_path / "model" / source.name)
        result = GraphResult(name="prompt_extractor", files={"fp32": source.name}, max_abs_error=0.0)
        entry, _ = split_prompt_extractor(result, tmp_path / "model", shared)
        assert live.path.is_dir()
        assert not dead.exists() and not (shared / (dead.name + atomic.OWNER_SUFFIX)).exists()
    assert [p.name for p in sorted(shared.iterdir())] == [atomic.LOCK_FILE, entry.files[SSL_FILE_KEY]]


def test_two_model_folders_share_one_hubert_and_both_enroll(
    tiny_checkpoints: TinyCheckpoints, tmp_path: Path
) -> None:
    models = tmp_path / "models"
    _convert(tiny_checkpoints, models / "anna")
    _convert(tiny_checkpoints, models / "ben")
    shared = _shared_files(models)
    assert len(shared) == 1 and shared[0].name.startswith("hubert-") and shared[0].suffix == ".onnx"
    for name in ("anna", "ben"):
        manifest = json.loads((models / name / "manifest.json").read_text())
        assert manifest["graphs"]["prompt_extractor"]["files"] == {
            "fp32": PROMPT_QUANTIZER_FILE, SSL_FILE_KEY: shared[0].name
        }
        assert set(manifest["shared_files"]) == {shared[0].name}
        assert not (models / name / "prompt_extractor.onnx").exists()
    np.testing.assert_array_equal(_enroll(models / "anna"), _enroll(models / "ben"))
    assert [m["id"] for m in installed_models(tmp_path)] == ["anna", "ben"]  # `shared` is no model


def test_a_fine_tune_with_its_own_codebook_keeps_its_own_quantizer(
    tiny_checkpoints: TinyCheckpoints, tmp_path: Path
) -> None:
    models = tmp_path / "models"
    _convert(tiny_checkpoints, models / "anna")
    other = write_tiny_sovits(tmp_path / "other.pth", "v2", seed=1)
    _convert(tiny_checkpoints, models / "tuned", other)
    assert len(_shared_files(models)) == 1
    quantizers = [(models / m / PROMPT_QUANTIZER_FILE).read_bytes() for m in ("anna", "tuned")]
    assert quantizers[0] != quantizers[1]
    # Its tokens are those of its own ssl_proj and codebook (the torch modules), not anna's.
    wave = torch.from_numpy(np.concatenate([resample(_CLIP, 32000, 16000), np.zeros(9600, np.float32)]))[None]
    with torch.inference_mode():
        expected = [
            PromptExtractor(load_hubert(tiny_checkpoints.hubert), build_sovits_modules(
                load_sovits_checkpoint(path)).codebook)(wave).numpy()
            for path in (other, tiny_checkpoints.sovits_v2)
        ]
    tokens = _enroll(models / "tuned")
    np.testing.assert_array_equal(tokens, expected[0])
    assert not np.array_equal(tokens, expected[1])


@pytest.mark.parametrize("damage", ["missing", "corrupt"])
def test_a_missing_or_corrupt_shared_hubert_fails_enrolment_not_loading(
    tiny_checkpoints: TinyCheckpoints, tmp_path: Path, damage: str
) -> None:
    models = tmp_path / "models"
    _convert(tiny_checkpoints, models / "anna")
    tokens = _enroll(models / "anna")
    _damage(_shared_files(models)[0], damage)
    GptSoVitsModel.load(models / "anna")  # speaking never needs HuBERT
    with pytest.raises(ModelLoadError, match=r"shared file .*needed to enroll"):
        _enroll(models / "anna")
    # The next conversion of the same HuBERT does not trust the name: it writes the file again.
    _convert(tiny_checkpoints, models / "ben")
    np.testing.assert_array_equal(_enroll(models / "anna"), tokens)
    np.testing.assert_array_equal(_enroll(models / "ben"), tokens)


def _damage(path: Path, how: str) -> None:
    if how == "missing":
        path.unlink()
    elif how == "corrupt":
        data = bytearray(path.read_bytes())
        data[-10] ^= 0xFF
        path.write_bytes(bytes(data))
    else:
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


@pytest.mark.parametrize("damage", ["corrupt", "truncated"])
def test_installing_a_shared_file_replaces_a_damaged_copy_and_keeps_a_good_one(tmp_path: Path, damage: str) -> None:
    models = tmp_path / "models"
    (models / "shared").mkdir(parents=True)
    good = bytes(range(256)) * 64
    target = models / "shared" / "hubert-0123456789abcdef.onnx"
    target.write_bytes(good)
    source = tmp_path / "staging" / target.name
    source.parent.mkdir()
    source.write_bytes(good)
    assert place_shared_file(source, models) is False  # the same bytes: kept, the source left alone
    assert source.is_file() and target.read_bytes() == good

    _damage(target, damage)
    assert place_shared_file(source, models) is True
    assert target.read_bytes() == good and not source.exists()


def test_an_install_reuses_a_good_shared_hubert_without_writing_it_and_repairs_a_damaged_one(
    tiny_checkpoints: TinyCheckpoints, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = tiny_checkpoints

    def install(model_id: str) -> None:
        install_converted_model(tmp_path, model_id, gpt=c.gpt, sovits=c.sovits_v2, hubert_dir=c.hubert,
                                precision="fp32", converter=convert_model)

    install("anna")
    models = tmp_path / "models"
    (hubert,) = _shared_files(models)
    before = hubert.stat()
    tokens = _enroll(models / "anna")
    writes: list[Path] = []
    real_save = shared_hubert._save_in_pieces

    def counting_save(model: onnx.ModelProto, path: Path) -> None:
        writes.append(path)
        real_save(model, path)

    monkeypatch.setattr(shared_hubert, "_save_in_pieces", counting_save)

    install("ben")  # the install links the good copy in; the converter checks it byte for byte

    assert writes == [] and (hubert.stat().st_ino, hubert.stat().st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert _shared_files(models) == [hubert] and hubert.stat().st_nlink == 1  # the staging links are gone
    np.testing.assert_array_equal(_enroll(models / "ben"), tokens)

    _damage(hubert, "truncated")
    install("carl")

    assert len(writes) == 1 and _shared_files(models) == [hubert]
    np.testing.assert_array_equal(_enroll(models / "anna"), tokens)  # the live copy was replaced


def test_shared_is_not_a_model_id(tiny_checkpoints: TinyCheckpoints, tmp_path: Path) -> None:
    with pytest.raises(ConversionError, match="shared HuBERT lives"):
        _convert(tiny_checkpoints, tmp_path / "models" / "shared")


def _fail_at_the_swap(monkeypatch: pytest.MonkeyPatch) -> None:
    """The disk fills up after HuBERT was placed, while the model folder is swapped in."""

    def full(*_args: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(importer_pipeline, "_install", full)


def test_a_failed_conversion_takes_back_the_hubert_it_placed(
    tiny_checkpoints: TinyCheckpoints, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    models = tmp_path / "models"
    with monkeypatch.context() as patch:
        _fail_at_the_swap(patch)
        with pytest.raises(ConversionError, match="No space left on device"):
            _convert(tiny_checkpoints, models / "anna")
    assert _shared_files(models) == []  # 378 MB at the real size, on a disk that is full
    assert [p.name for p in models.iterdir() if p.name != "shared"] == [atomic.LOCK_FILE]

    _convert(tiny_checkpoints, models / "anna")
    (hubert,) = _shared_files(models)
    with monkeypatch.context() as patch:
        _fail_at_the_swap(patch)
        with pytest.raises(ConversionError, match="No space left on device"):
            _convert(tiny_checkpoints, models / "ben")
    assert _shared_files(models) == [hubert]  # anna's manifest names it
    assert _enroll(models / "anna").size > 0


def test_a_conversion_removes_what_a_killed_one_left_in_the_shared_folder(
    tiny_checkpoints: TinyCheckpoints, tmp_path: Path
) -> None:
    models = tmp_path / "models"
    (models / "shared").mkdir(parents=True)
    orphan = models / "shared" / "hubert-0123456789abcdef.onnx"  # placed, then the power went
    orphan.write_bytes(b"a whole HuBERT")
    (models / "shared" / "README.txt").write_text("not the converter's")  # never ours to delete

    _convert(tiny_checkpoints, models / "anna")

    kept = _shared_files(models)
    assert not orphan.exists() and len(kept) == 2
    named = json.loads((models / "anna" / "manifest.json").read_text())["shared_files"]
    assert kept[0].name == "README.txt" and kept[1].name in named
