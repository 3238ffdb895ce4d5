"""The `voices`, `models` and `detect` commands, run in-process (fakes for engine and converter)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.support.model_server import BLOB, TINY_RELEASE, FakeConverter, ServedFiles, serve_release
from tests.support.voices import CONSENT, GOOD_TEXT, make_store, to_wav
from wyoming_server.cli import EXIT_BROKEN_PIPE, main
from wyoming_server.engine import SynthesisOptions
from wyoming_server.models.catalogue import RemoteFile

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def fakes(monkeypatch: pytest.MonkeyPatch) -> FakeConverter:
    converter = FakeConverter()
    monkeypatch.setattr("wyoming_server.cli.voices.library_factory", make_store)
    monkeypatch.setattr("wyoming_server.cli.voices.converter", converter)
    monkeypatch.setattr("wyoming_server.cli.models.converter", converter)
    return converter


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _add(data_dir: Path, audio: Path, *extra: str) -> list[str]:
    return [
        "voices",
        "add",
        "--data-dir",
        str(data_dir),
        "--name",
        "Mum",
        "--audio",
        str(audio),
        "--text",
        GOOD_TEXT,
        "--language",
        "en",
        "--consent",
        CONSENT,
        *extra,
    ]


def test_add_list_show_rename_remove(
    capsys: pytest.CaptureFixture[str], data_dir: Path, good_wav: bytes, tmp_path: Path
) -> None:
    audio = tmp_path / "mum.wav"
    audio.write_bytes(good_wav)
    code, out, _ = _run(capsys, *_add(data_dir, audio))
    assert code == 0 and out.startswith("enrolled 'Mum' as voice mum (style default, model v2pro)")
    assert "SNR" in out and "LUFS" in out
    code, out, _ = _run(capsys, "voices", "list", "--data-dir", str(data_dir))
    assert code == 0 and out.splitlines()[0].startswith("mum ") and "(default)" in out.splitlines()[0]
    code, out, _ = _run(capsys, "voices", "list", "--json", "--data-dir", str(data_dir))
    listing = json.loads(out)
    assert [v["id"] for v in listing["voices"]] == ["mum", "joe"] and listing["skipped"] == []
    code, out, _ = _run(capsys, "voices", "show", "mum", "--data-dir", str(data_dir))
    assert json.loads(out)["consent"]["recorded_by"] == "cli"
    assert _run(capsys, "voices", "rename", "mum", "Mother", "--data-dir", str(data_dir))[:2] == (
        0,
        "voice mum is now called 'Mother'\n",
    )
    code, _, err = _run(capsys, "voices", "remove", "joe", "--data-dir", str(data_dir))
    assert code == 1 and "built-in voice and cannot be removed" in err
    assert _run(capsys, "voices", "remove", "mum", "--data-dir", str(data_dir))[0] == 0
    code, _, err = _run(capsys, "voices", "show", "mum", "--data-dir", str(data_dir))
    assert code == 1 and "no voice 'mum'" in err


def test_models_remove_waits_for_the_voices_speaking_with_it(
    capsys: pytest.CaptureFixture[str], data_dir: Path, good_wav: bytes, tmp_path: Path
) -> None:
    audio = tmp_path / "mum.wav"
    audio.write_bytes(good_wav)
    assert _run(capsys, *_add(data_dir, audio))[0] == 0
    code, _, err = _run(capsys, "models", "remove", "v2pro", "--data-dir", str(data_dir))
    assert code == 1 and err == (
        "error: model 'v2pro': voice(s) mum speak with it: remove them first (edge-tts-clone voices remove ID)\n"
    )
    assert (data_dir / "models" / "v2pro" / "manifest.json").is_file()
    assert _run(capsys, "voices", "remove", "mum", "--data-dir", str(data_dir))[0] == 0
    code, out, _ = _run(capsys, "models", "remove", "v2pro", "--data-dir", str(data_dir))
    assert code == 0 and out.startswith("removed model v2pro (") and "MB freed" in out
    code, out, _ = _run(capsys, "models", "list", "--data-dir", str(data_dir))
    assert out.startswith("no models in")
    code, _, err = _run(capsys, "models", "remove", "v2pro", "--data-dir", str(data_dir))
    assert code == 1 and err.startswith("error: no model 'v2pro' in ")


def test_rejected_clip_prints_the_reasons(
    capsys: pytest.CaptureFixture[str], data_dir: Path, tmp_path: Path
) -> None:
    audio = tmp_path / "silence.wav"
    audio.write_bytes(to_wav(np.zeros(16000 * 4, dtype=np.float32), 16000))
    code, _, err = _run(capsys, *_add(data_dir, audio))
    assert code == 1 and "refused: the recording is silent" in err
    code, _, err = _run(capsys, *_add(data_dir, tmp_path / "missing.wav"))
    assert code == 1 and "cannot read" in err


def test_fine_tune_is_converted_and_attached(
    capsys: pytest.CaptureFixture[str], data_dir: Path, good_wav: bytes, tmp_path: Path, fakes: FakeConverter
) -> None:
    audio = tmp_path / "mum.wav"
    audio.write_bytes(good_wav)
    (tmp_path / "mum.ckpt").write_bytes(b"gpt")
    (tmp_path / "mum.pth").write_bytes(b"sovits")
    argv = _add(data_dir, audio, "--gpt", str(tmp_path / "mum.ckpt"), "--sovits", str(tmp_path / "mum.pth"))
    code, _, err = _run(capsys, *argv)
    assert code == 1 and "HuBERT not found" in err
    (data_dir / "downloads" / "chinese-hubert-base").mkdir(parents=True)
    code, out, _ = _run(capsys, *argv)
    assert code == 0 and "model mum-ft" in out
    assert fakes.calls[0]["gpt"] == tmp_path / "mum.ckpt" and fakes.calls[0]["sv"] is None
    assert make_store(data_dir).resolve("mum").model_id == "mum-ft"


def test_export_import(
    capsys: pytest.CaptureFixture[str], data_dir: Path, good_wav: bytes, tmp_path: Path
) -> None:
    audio = tmp_path / "mum.wav"
    audio.write_bytes(good_wav)
    _run(capsys, *_add(data_dir, audio))
    archive = tmp_path / "mum.voicepack"
    code, out, _ = _run(
        capsys, "voices", "export", "mum", "-o", str(archive), "--with-model", "--data-dir", str(data_dir)
    )
    assert code == 0 and "with its model" in out
    code, out, _ = _run(capsys, "voices", "import", str(archive), "--data-dir", str(tmp_path / "pi"))
    assert code == 0 and out == "imported voice mum ('Mum', model v2pro)\n"
    archive.write_bytes(b"garbage")
    code, _, err = _run(capsys, "voices", "import", str(archive), "--data-dir", str(tmp_path / "pi"))
    assert code == 1 and "is not a voice pack archive" in err


def test_models_download_and_from(
    capsys: pytest.CaptureFixture[str],
    server: tuple[str, ServedFiles],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    base, files = server
    serve_release(files)
    monkeypatch.setitem(
        __import__("wyoming_server.models.catalogue", fromlist=["CATALOGUE"]).CATALOGUE, "v2pro", TINY_RELEASE
    )
    monkeypatch.setattr(
        "wyoming_server.models.catalogue.HUBERT_FILES",
        (RemoteFile("chinese-hubert-base/pytorch_model.bin", 6),),
    )
    code, out, err = _run(
        capsys, "models", "download", "v2pro", "--base-url", base, "--data-dir", str(tmp_path)
    )
    assert code == 0 and out == f"installed model v2pro in {tmp_path / 'models' / 'v2pro'}\n"
    assert "s1v3.ckpt" in err and "100.0%" in err
    code, out, _ = _run(
        capsys, "models", "download", "v2pro", "--base-url", base, "--data-dir", str(tmp_path)
    )
    assert code == 1
    code, out, _ = _run(
        capsys,
        "models",
        "download",
        "v2pro",
        "--from",
        str(tmp_path / "downloads"),
        "--data-dir",
        str(tmp_path / "other"),
    )
    assert code == 0 and (tmp_path / "other" / "models" / "v2pro" / "manifest.json").is_file()
    files.content["s1v3.ckpt"] = BLOB[::-1]
    (tmp_path / "downloads" / "s1v3.ckpt").unlink()
    code, _, err = _run(
        capsys,
        "models",
        "download",
        "v2pro",
        "--base-url",
        base,
        "--data-dir",
        str(tmp_path),
        "--download-only",
    )
    assert code == 1 and "s1v3.ckpt is corrupt" in err


def test_detect(capsys: pytest.CaptureFixture[str], data_dir: Path, good_wav: bytes, tmp_path: Path) -> None:
    code, _, err = _run(capsys, "detect", str(tmp_path / "x.wav"), "--data-dir", str(tmp_path / "nokey"))
    assert code == 2 and "no watermark.key" in err
    store = make_store(data_dir, watermark_key=None)  # the install's own key, created in the data folder
    voice = store.resolve("joe")
    speech = np.concatenate([c.samples for c in store.synthesize(voice, None, GOOD_TEXT, SynthesisOptions())])
    marked, plain = tmp_path / "marked.mp3", tmp_path / "plain.wav"
    marked.write_bytes(to_wav(speech, 22050, fmt="MP3"))
    plain.write_bytes(good_wav)
    code, out, _ = _run(capsys, "detect", str(marked), "--data-dir", str(data_dir))
    assert code == 0 and "made by this server (score" in out and "threshold 6.0" in out
    code, out, _ = _run(capsys, "detect", str(plain), str(marked), "--data-dir", str(data_dir))
    assert code == 1 and "plain.wav: not marked by this server" in out


def test_fresh_install_subprocess_lists_the_stock_voice(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "wyoming_server", "voices", "list", "--json", "--data-dir", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin"},
    )
    (voice,) = json.loads(result.stdout)["voices"]
    assert voice["id"] == "joe" and voice["builtin"] is True


@pytest.mark.parametrize(
    ("argv", "code"),
    [
        (("voices", "list", "--json"), EXIT_BROKEN_PIPE),
        (("voices", "list"), EXIT_BROKEN_PIPE),
        (("models", "list"), EXIT_BROKEN_PIPE),
        (("--help",), 0),  # argparse exits before our flush; Python's own exit-time flush is silent
    ],
)
def test_a_closed_output_pipe_ends_quietly(argv: tuple[str, ...], code: int, data_dir: Path) -> None:
    """`edge-tts-clone voices list --json | grep -q x`: the reader is gone before the command writes."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    extra = ("--data-dir", str(data_dir)) if argv[0] != "--help" else ()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "wyoming_server", *argv, *extra],
            stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=120, check=False,
        )
    finally:
        os.close(write_end)
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr
    assert done.returncode == code
