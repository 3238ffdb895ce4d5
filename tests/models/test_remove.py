"""`models remove`: a model folder goes, with the shared HuBERT once no model names it; never under a voice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.tiny_models.model_folders import copy_model_folder
from wyoming_server.engine.gpt_sovits.shared_files import shared_files_of
from wyoming_server.models.installed import installed_models
from wyoming_server.models.remove import ModelRemoveError, remove_model
from wyoming_server.storage import atomic


def _two_models(tiny_model_v2: Path, data: Path) -> Path:
    """`anna` and `ben`, both naming one shared HuBERT; returns its path."""
    for name in ("anna", "ben"):
        copy_model_folder(tiny_model_v2, data / "models" / name)
    (hubert,) = shared_files_of(data / "models" / "anna").values()
    assert hubert.is_file() and shared_files_of(data / "models" / "ben") == {hubert.name: hubert}
    return hubert


def _bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def test_the_shared_hubert_goes_with_the_last_model_naming_it(tiny_model_v2: Path, tmp_path: Path) -> None:
    hubert = _two_models(tiny_model_v2, tmp_path)
    anna = _bytes(tmp_path / "models" / "anna")
    notes = hubert.parent / "notes.txt"
    notes.write_text("not the converter's")  # whatever else sits in shared/ is never removed

    removed = remove_model(tmp_path, "anna")

    assert (removed.model_id, removed.freed_bytes, removed.shared_removed) == ("anna", anna, [])
    assert not (tmp_path / "models" / "anna").exists() and hubert.is_file()  # ben still enrolls with it
    assert [m["id"] for m in installed_models(tmp_path)] == ["ben"]
    size = hubert.stat().st_size

    removed = remove_model(tmp_path, "ben")

    assert removed.shared_removed == [hubert.name] and removed.freed_bytes == anna + size
    assert not hubert.exists() and notes.is_file() and installed_models(tmp_path) == []
    assert not [p for p in (tmp_path / "models").iterdir() if p.name.startswith(atomic.STAGING_PREFIX)]
    with pytest.raises(ModelRemoveError, match="no model 'ben'"):
        remove_model(tmp_path, "ben")


@pytest.mark.parametrize("model_id", ["shared", "../voices", ""])
def test_what_is_not_a_model_id_is_refused(tmp_path: Path, model_id: str) -> None:
    (tmp_path / "models" / "shared").mkdir(parents=True)
    with pytest.raises(ModelRemoveError, match="is not a model id"):
        remove_model(tmp_path, model_id)
    assert (tmp_path / "models" / "shared").is_dir()


def test_a_conversion_under_way_or_an_unreadable_manifest_keeps_the_shared_files(
    tiny_model_v2: Path, tmp_path: Path
) -> None:
    hubert = _two_models(tiny_model_v2, tmp_path)
    remove_model(tmp_path, "anna")
    with atomic.StagingFolder(tmp_path / "models", "carl"):  # its manifest may name the file soon
        assert remove_model(tmp_path, "ben").shared_removed == []
    assert hubert.is_file()

    copy_model_folder(tiny_model_v2, tmp_path / "models" / "dora")
    (tmp_path / "models" / "eve").mkdir()
    (tmp_path / "models" / "eve" / "manifest.json").write_text("{not json")  # may name any of them
    assert remove_model(tmp_path, "dora").shared_removed == []
    assert hubert.is_file()


def test_a_model_voices_speak_with_is_refused_and_kept(tiny_model_v2: Path, tmp_path: Path) -> None:
    _two_models(tiny_model_v2, tmp_path)
    for voice, model in (("mum", "anna"), ("dad", "anna"), ("joe", "ben")):
        (tmp_path / "voices" / voice).mkdir(parents=True)
        (tmp_path / "voices" / voice / "voice.json").write_text(json.dumps({"model_id": model}))
    (tmp_path / "voices" / "broken").mkdir()
    (tmp_path / "voices" / "broken" / "voice.json").write_text("{")  # speaks with nothing
    before = _bytes(tmp_path / "models" / "anna")

    with pytest.raises(ModelRemoveError, match=r"voice\(s\) dad, mum speak with it: remove them first"):
        remove_model(tmp_path, "anna")

    assert _bytes(tmp_path / "models" / "anna") == before
    for voice in ("mum", "dad"):
        atomic.remove_folder(tmp_path / "voices" / voice)
    assert remove_model(tmp_path, "anna").freed_bytes == before
