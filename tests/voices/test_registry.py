"""Registry and library: enrollment results on disk, styles, skip reasons, rescans, revisions, ids."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from tests.support.voices import CONSENT, GOOD_TEXT, make_store, request, write_fake_model
from wyoming_server.engine import SynthesisOptions
from wyoming_server.storage.slug import slugify, unique_slug
from wyoming_server.voices.folder_library import FolderLibrary
from wyoming_server.voices.library import EnrollmentRejected, VoiceLibrary, VoiceNotFoundError
from wyoming_server.voices.registry import STOCK_VOICE_ID
from wyoming_server.voices.schema import VOICE_JSON, decode_prompt


def test_fresh_install_lists_only_the_stock_voice(tmp_path: Path) -> None:
    library: VoiceLibrary = make_store(tmp_path)
    (voice,) = library.voices()
    assert voice.id == STOCK_VOICE_ID and voice.builtin and voice.kind == "piper"
    assert voice.languages == ["en"] and "CC0" in voice.attribution
    assert library.resolve(None).id == STOCK_VOICE_ID
    assert library.resolve(None, "zh").id == STOCK_VOICE_ID  # nothing speaks zh: the default
    assert library.sample_rate_hz(voice) == 22050
    assert library.skipped() == []


def test_enrolled_pack_on_disk(store: FolderLibrary, good_wav: bytes, data_dir: Path) -> None:
    pack, _report = store.enroll(request(good_wav, recorded_by="admin-api"))
    folder = data_dir / "voices" / "mum"
    assert sorted(p.name for p in folder.iterdir()) == ["prompt.npz", "reference.wav", "voice.json"]
    document = json.loads((folder / VOICE_JSON).read_text(encoding="utf-8"))
    assert document["schema"] == 1 and document["id"] == "mum" and document["name"] == "Mum"
    assert document["kind"] == "gpt-sovits" and document["model_id"] == "v2pro"
    assert document["languages"] == ["en", "zh"]
    assert document["consent"] == {
        "statement": CONSENT,
        "recorded_at": "2026-01-02T03:04:05Z",
        "recorded_by": "admin-api",
    }
    style = document["styles"]["default"]
    assert style["reference_text"] == GOOD_TEXT and style["reference_file"] == "reference.wav"
    assert style["quality"]["accepted"] is True
    assert set(document["files"]) == {"prompt.npz", "reference.wav"}
    prompt = decode_prompt((folder / "prompt.npz").read_bytes())
    assert prompt.model_id == "v2pro" and prompt.phones.shape == (len(GOOD_TEXT),)
    assert pack.consent is not None and pack.consent.recorded_by == "admin-api"
    assert store.resolve(None).id == "mum"  # an enrolled voice becomes the default
    assert store.resolve(None, "zh-CN").id == "mum"
    assert store.resolve(None, "en_US").id == "mum"


def test_synthesis_goes_through_the_pool_and_the_watermark(store: FolderLibrary, good_wav: bytes) -> None:
    from wyoming_server.engine.watermark import detect

    pack, _ = store.enroll(request(good_wav))
    chunks = list(store.synthesize(pack, None, "One. Two. Three.", SynthesisOptions()))
    assert [c.text for c in chunks] == ["One", " Two", " Three"] and chunks[-1].is_last
    assert store.loaded_models() == 1
    audio = np.concatenate([c.samples for c in chunks])
    plain = np.tile((0.3 * np.sin(2 * np.pi * 220 * np.arange(16000) / 32000)).astype(np.float32), 3)
    assert not np.array_equal(audio, plain)  # the watermark changed the samples
    assert detect(audio, 32000, store.watermark_key).marked
    assert not detect(plain, 32000, store.watermark_key).marked


def test_stop_event_ends_synthesis(store: FolderLibrary, good_wav: bytes) -> None:
    pack, _ = store.enroll(request(good_wav))
    stop = threading.Event()
    received = []
    for chunk in store.synthesize(pack, None, "One. Two. Three.", SynthesisOptions(), stop):
        received.append(chunk)
        stop.set()
    assert len(received) == 1


def test_styles_add_and_replace(store: FolderLibrary, good_wav: bytes, data_dir: Path) -> None:
    pack, _ = store.enroll(request(good_wav))
    calm, _ = store.enroll(request(good_wav, style="calm", voice_id="mum", text="", language="zh"))
    assert sorted(calm.styles) == ["calm", "default"] and calm.default_style == "default"
    assert calm.style("calm").reference_file == "reference-calm.wav" and calm.style("calm").ref_free
    assert calm.revision != pack.revision and calm.created == pack.created
    files = sorted(p.name for p in (data_dir / "voices" / "mum").iterdir())
    assert files == ["prompt-calm.npz", "prompt.npz", "reference-calm.wav", "reference.wav", "voice.json"]
    prompt = store.prompt(calm, "calm")
    assert prompt is not None and prompt.ref_free
    with pytest.raises(VoiceNotFoundError, match="has no style 'loud'"):
        store.prompt(calm, "loud")
    with pytest.raises(VoiceNotFoundError):
        store.enroll(request(good_wav, voice_id="nobody"))
    with pytest.raises(EnrollmentRejected, match="a new style must use the same model"):
        store.enroll(request(good_wav, voice_id="mum", style="x", model_id="other"))


def test_revision_changes_with_any_change(store: FolderLibrary, good_wav: bytes, data_dir: Path) -> None:
    pack, _ = store.enroll(request(good_wav))
    same = store.resolve("mum")
    assert same.revision == pack.revision
    renamed = store.rename("mum", "Mummy")
    assert renamed.name == "Mummy" and renamed.id == "mum" and renamed.revision != pack.revision
    # Re-converting the model changes the revision too (cached audio must not be reused).
    manifest = data_dir / "models" / "v2pro" / "manifest.json"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace('"dims": {}', '"dims": {"x": 1}'))
    assert store.resolve("mum").revision not in (pack.revision, renamed.revision)


def test_ids_are_unique_slugs(store: FolderLibrary, good_wav: bytes) -> None:
    ids = [
        store.enroll(request(good_wav, name=name))[0].id for name in ("Mum", "Mum", "妈妈", "Joe", "Zoë B.")
    ]
    assert ids == ["mum", "mum-2", "mama", "joe-2", "zoe-b"]
    assert slugify("王小明 Jr.") == "wangxiaoming-jr" and slugify("!!!") == "voice"
    assert unique_slug("x" * 60, {"x" * 48}) == "x" * 46 + "-2"


def test_remove_and_builtin_protection(store: FolderLibrary, good_wav: bytes, data_dir: Path) -> None:
    store.enroll(request(good_wav))
    store.remove("mum")
    assert not (data_dir / "voices" / "mum").exists()
    assert [v.id for v in store.voices()] == [STOCK_VOICE_ID]
    with pytest.raises(PermissionError, match="built-in"):
        store.remove(STOCK_VOICE_ID)
    with pytest.raises(VoiceNotFoundError):
        store.remove("mum")
    with pytest.raises(PermissionError):
        store.rename(STOCK_VOICE_ID, "Bob")


def _skip_reason(store: FolderLibrary, name: str) -> str:
    reasons = {Path(s.path).name: s.reason for s in store.skipped()}
    return reasons[name]


def test_broken_packs_are_skipped_with_their_reason(
    store: FolderLibrary, good_wav: bytes, data_dir: Path
) -> None:
    store.enroll(request(good_wav))
    voices = data_dir / "voices"

    def clone(name: str) -> Path:
        target = voices / name
        shutil.copytree(voices / "mum", target)
        document = json.loads((target / VOICE_JSON).read_text(encoding="utf-8"))
        document["id"] = name
        (target / VOICE_JSON).write_text(json.dumps(document), encoding="utf-8")
        return target

    (voices / "empty").mkdir()
    (clone("badjson") / VOICE_JSON).write_text("{not json", encoding="utf-8")
    (clone("noprompt") / "prompt.npz").unlink()
    with (clone("truncated") / "reference.wav").open("r+b") as f:
        f.truncate(100)
    flipped = clone("flipped") / "prompt.npz"
    data = bytearray(flipped.read_bytes())
    data[len(data) // 2] ^= 0xFF
    flipped.write_bytes(bytes(data))
    document = json.loads((clone("newer") / VOICE_JSON).read_text(encoding="utf-8"))
    document["schema"] = 99
    (voices / "newer" / VOICE_JSON).write_text(json.dumps(document), encoding="utf-8")
    document = json.loads((clone("nomodel") / VOICE_JSON).read_text(encoding="utf-8"))
    document["model_id"] = "v2proplus"
    (voices / "nomodel" / VOICE_JSON).write_text(json.dumps(document), encoding="utf-8")
    shutil.copytree(voices / "mum", voices / "wrongid")
    (voices / "bad.onnx").write_bytes(b"onnx")

    assert [v.id for v in store.voices()] == ["mum", STOCK_VOICE_ID]
    assert _skip_reason(store, "empty") == "the folder has no voice.json (not a voice pack)"
    assert _skip_reason(store, "badjson").startswith("voice.json is not valid JSON")
    assert _skip_reason(store, "noprompt") == "file prompt.npz is missing"
    assert _skip_reason(store, "truncated").startswith("file reference.wav has 100 bytes")
    assert _skip_reason(store, "flipped") == "file prompt.npz does not match its sha256 (corrupt or edited)"
    assert _skip_reason(store, "newer").startswith("written by a newer edge-tts-clone (schema 99")
    assert _skip_reason(store, "nomodel").startswith("needs model 'v2proplus', which is not usable")
    assert _skip_reason(store, "wrongid") == "its id 'mum' does not match the folder name 'wrongid'"
    assert "bad.onnx.json" in _skip_reason(store, "bad.onnx")
    # Installing the missing model makes that pack usable without a restart.
    write_fake_model(data_dir, "v2proplus")
    assert "nomodel" in [v.id for v in store.voices()]


def test_rescan_sees_packs_added_and_removed_by_another_process(
    store: FolderLibrary, good_wav: bytes, data_dir: Path
) -> None:
    assert [v.id for v in store.voices()] == [STOCK_VOICE_ID]
    other = make_store(data_dir)  # another process's library over the same folder
    other.enroll(request(good_wav))
    assert [v.id for v in store.voices()] == ["mum", STOCK_VOICE_ID]
    other.rename("mum", "Mother")
    assert store.resolve("mum").name == "Mother"
    other.remove("mum")
    assert [v.id for v in store.voices()] == [STOCK_VOICE_ID]


def test_unchanged_folder_is_not_rescanned(store: FolderLibrary, good_wav: bytes) -> None:
    store.enroll(request(good_wav))
    first = store.registry.entries()
    assert store.registry.entries() is first  # same scan object: nothing was re-read
    store.registry.invalidate()
    assert store.registry.entries() is not first


def test_piper_voice_dropped_into_the_folder_is_listed(store: FolderLibrary, data_dir: Path) -> None:
    from wyoming_server.engine.piper_voice import stock_voice_files

    files = stock_voice_files()
    assert files is not None
    voices = data_dir / "voices"
    voices.mkdir(exist_ok=True)
    shutil.copyfile(files.model, voices / "en_GB-test-low.onnx")
    shutil.copyfile(files.config, voices / "en_GB-test-low.onnx.json")
    voice = store.resolve("en-gb-test-low")
    assert voice.kind == "piper" and not voice.builtin and voice.model_id == "en_GB-test-low"
    chunks = list(store.synthesize(voice, None, "Hello there.", SynthesisOptions()))
    assert chunks[0].rate_hz == 22050 and np.abs(chunks[0].samples).max() > 0.1
    store.remove("en-gb-test-low")
    assert not (voices / "en_GB-test-low.onnx").exists()


def test_library_works_without_the_stock_voice(tmp_path: Path) -> None:
    library = make_store(tmp_path, stock=None)
    assert library.voices() == []
    with pytest.raises(VoiceNotFoundError, match="no voice is installed"):
        library.resolve(None)


def test_enrollment_needs_an_installed_model(tmp_path: Path, good_wav: bytes) -> None:
    library = make_store(tmp_path)
    with pytest.raises(EnrollmentRejected, match="no GPT-SoVITS model is installed"):
        library.enroll(request(good_wav))
    write_fake_model(tmp_path, "v2")
    write_fake_model(tmp_path, "v2proplus")
    pack, _ = library.enroll(request(good_wav))
    assert pack.model_id == "v2proplus"
    with pytest.raises(EnrollmentRejected, match="model 'nope' is not installed"):
        library.enroll(request(good_wav, model_id="nope"))


def test_unreadable_voices_folder_is_reported_not_fatal(
    store: FolderLibrary, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (data_dir / "voices").mkdir(exist_ok=True)

    def unreadable(self: object, *args: object) -> None:
        raise PermissionError(13, "Permission denied", str(data_dir / "voices"))

    # Tests run as root here, where chmod 000 would not stop a read; inject the error instead.
    monkeypatch.setattr("wyoming_server.voices.registry.VoiceRegistry._scan_folder", unreadable)
    assert [v.id for v in store.voices()] == [STOCK_VOICE_ID]
    (skipped,) = store.skipped()
    assert skipped.reason.startswith("cannot read the folder: [Errno 13] Permission denied")


def test_prompt_follows_a_pack_replaced_by_another_process(
    store: FolderLibrary, good_wav: bytes, data_dir: Path
) -> None:
    old, _ = store.enroll(request(good_wav))
    first = store.prompt(old, None)
    assert first is not None
    other = make_store(data_dir)
    other.enroll(request(good_wav, voice_id="mum", text="Something else entirely."))
    current = store.prompt(old, None)  # the caller still holds the old pack object
    assert current is not None and current.phones.shape == (len("Something else entirely."),)


def test_unknown_style_fails_when_synthesis_is_requested(store: FolderLibrary, good_wav: bytes) -> None:
    pack, _ = store.enroll(request(good_wav))
    with pytest.raises(VoiceNotFoundError, match="has no style 'loud'"):
        store.synthesize(pack, "loud", "Hi.", SynthesisOptions())  # raises before any chunk
