"""Export -> import round trips, id and model clashes, and corrupt archives that install nothing."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from tests.support.voices import make_store, request, write_fake_model
from wyoming_server.voices.archive import ArchiveError, export_pack, import_pack
from wyoming_server.voices.folder_library import FolderLibrary


def _entries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


@pytest.fixture
def exported(store: FolderLibrary, good_wav: bytes, tmp_path: Path) -> tuple[FolderLibrary, Path, Path]:
    store.enroll(request(good_wav))
    store.enroll(request(good_wav, voice_id="mum", style="calm", text=""))
    plain = export_pack(store.registry, "mum", tmp_path / "mum.voicepack")
    with_model = export_pack(store.registry, "mum", tmp_path / "mum-model.voicepack", with_model=True)
    return store, plain, with_model


def test_round_trip_with_model_to_an_empty_install(
    exported: tuple[FolderLibrary, Path, Path], tmp_path: Path
) -> None:
    source, _, archive = exported
    target = make_store(tmp_path / "pi")
    result = import_pack(target.registry, archive)
    assert result.pack.id == "mum" and result.model_installed and result.warnings == []
    original = source.resolve("mum")
    imported = target.resolve("mum")
    assert imported.revision == original.revision  # same files, same model: same revision
    assert sorted(imported.styles) == ["calm", "default"] and imported.consent == original.consent
    assert (tmp_path / "pi" / "models" / "v2pro" / "manifest.json").is_file()
    assert target.skipped() == []
    assert [n for n in _entries(tmp_path / "pi" / "voices") if n.startswith(".tmp")] == []


def test_without_model_needs_the_model_installed(
    exported: tuple[FolderLibrary, Path, Path], tmp_path: Path
) -> None:
    _, plain, _ = exported
    target = make_store(tmp_path / "pi")
    result = import_pack(target.registry, plain)
    assert not result.model_installed and "is not installed" in result.warnings[0]
    assert "needs model 'v2pro'" in target.skipped()[0].reason
    write_fake_model(tmp_path / "pi", "v2pro", "v2Pro")
    assert target.resolve("mum").id == "mum"


def test_id_clash_gets_a_new_id_or_replaces(exported: tuple[FolderLibrary, Path, Path]) -> None:
    store, plain, _ = exported
    result = import_pack(store.registry, plain)
    assert result.pack.id == "mum-2" and result.warnings == [
        "a voice 'mum' already exists; imported as 'mum-2'"
    ]
    store.rename("mum", "Changed")
    replaced = import_pack(store.registry, plain, replace=True)
    assert replaced.pack.id == "mum" and store.resolve("mum").name == "Mum"


def test_different_model_with_the_same_id_is_installed_under_a_new_id(
    exported: tuple[FolderLibrary, Path, Path], tmp_path: Path
) -> None:
    _, _, archive = exported
    write_fake_model(tmp_path / "pi", "v2pro", "v2")  # a different v2pro on the target
    target = make_store(tmp_path / "pi")
    result = import_pack(target.registry, archive)
    assert result.model_id == "v2pro-2" and target.resolve("mum").model_id == "v2pro-2"
    # Importing again reuses the identical model instead of adding v2pro-3.
    again = import_pack(target.registry, archive)
    assert again.model_id == "v2pro-2"


def _rewrite(
    archive: Path, out: Path, change: dict[str, bytes | None], manifest_edit: dict[str, object] | None = None
) -> Path:
    with zipfile.ZipFile(archive) as source, zipfile.ZipFile(out, "w") as sink:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "voicepack.json" and manifest_edit is not None:
                manifest = json.loads(data)
                manifest.update(manifest_edit)
                data = json.dumps(manifest).encode()
            if info.filename in change:
                replacement = change.pop(info.filename)
                if replacement is None:
                    continue
                data = bytes(replacement)
            sink.writestr(info.filename, data)
        for name, extra in change.items():
            if extra is not None:
                sink.writestr(name, extra)
    return out


def test_corrupt_archives_install_nothing(exported: tuple[FolderLibrary, Path, Path], tmp_path: Path) -> None:
    _, plain, _ = exported
    with zipfile.ZipFile(plain) as z:
        prompt = z.read("voice/prompt.npz")
        files = json.loads(z.read("voicepack.json"))["files"]
    flipped = bytearray(prompt)
    flipped[100] ^= 0xFF
    truncated = tmp_path / "truncated.voicepack"
    truncated.write_bytes(plain.read_bytes()[: plain.stat().st_size // 2])
    cases = {
        "flipped byte": (
            _rewrite(plain, tmp_path / "a.voicepack", {"voice/prompt.npz": bytes(flipped)}),
            "voice/prompt.npz does not match its checksum",
        ),
        "truncated": (truncated, "is not a voice pack archive"),
        "not a zip": (tmp_path / "x.voicepack", "is not a voice pack archive"),
        "missing member": (
            _rewrite(plain, tmp_path / "b.voicepack", {"voice/reference.wav": None}),
            "missing ['voice/reference.wav']",
        ),
        "extra member": (
            _rewrite(plain, tmp_path / "c.voicepack", {"voice/evil.sh": b"x"}),
            "unlisted ['voice/evil.sh']",
        ),
        "path traversal": (
            _rewrite(
                plain,
                tmp_path / "d.voicepack",
                {"voice/../../evil": b"x"},
                {"files": {**files, "voice/../../evil": {"sha256": "0", "bytes": 1}}},
            ),
            "unsafe file name",
        ),
        "wrong format": (
            _rewrite(plain, tmp_path / "e.voicepack", {}, {"format": "zip"}),
            "not an edge-tts-clone voice pack archive",
        ),
    }
    (tmp_path / "x.voicepack").write_bytes(b"hello")
    for label, (archive, message) in cases.items():
        data_dir = tmp_path / f"target-{label.replace(' ', '-')}"
        target = make_store(data_dir)
        with pytest.raises(ArchiveError, match=message.replace("[", r"\[").replace("]", r"\]")):
            import_pack(target.registry, archive)
        assert [e for e in _entries(data_dir / "voices") if e != ".lock"] == [], label
        assert [e for e in _entries(data_dir / "models") if e != ".lock"] == [], label


def test_piper_voices_cannot_be_exported(store: FolderLibrary, tmp_path: Path) -> None:
    with pytest.raises(ArchiveError, match="is a Piper voice"):
        export_pack(store.registry, "joe", tmp_path / "joe.voicepack")


def test_the_shared_hubert_travels_with_the_model(store: FolderLibrary, good_wav: bytes, tmp_path: Path) -> None:
    store.enroll(request(good_wav))
    model_dir = store.registry.models_dir / store.resolve("mum").model_id
    shared = store.registry.models_dir / "shared" / "hubert-0123456789abcdef.onnx"
    shared.parent.mkdir()
    shared.write_bytes(b"hubert weights")
    manifest = json.loads((model_dir / "manifest.json").read_text())
    manifest["shared_files"] = {shared.name: {"sha256": "x", "bytes": 14}}
    (model_dir / "manifest.json").write_text(json.dumps(manifest))
    archive = export_pack(store.registry, "mum", tmp_path / "mum.voicepack", with_model=True)
    assert f"shared/{shared.name}" in zipfile.ZipFile(archive).namelist()
    target = make_store(tmp_path / "pi")
    import_pack(target.registry, archive)
    assert (tmp_path / "pi" / "models" / "shared" / shared.name).read_bytes() == b"hubert weights"
    assert "shared" in _entries(tmp_path / "pi" / "models") and model_dir.name in _entries(tmp_path / "pi" / "models")
    shared.unlink()
    with pytest.raises(ArchiveError, match="missing"):
        export_pack(store.registry, "mum", tmp_path / "again.voicepack", with_model=True)
