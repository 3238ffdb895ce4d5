"""Model download against a local HTTP server: normal, interrupted + resumed, corrupt, and --from."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from tests.support.model_server import BLOB, BLOB_SHA, TINY_RELEASE, FakeConverter, ServedFiles, serve_release
from wyoming_server.models.catalogue import RemoteFile
from wyoming_server.models.download import DownloadError, ProgressBar, download_file, fetch_release
from wyoming_server.models.install import install_converted_model


def _no_wait(attempt: int) -> float:
    return 0.0


def test_normal_download_with_progress(server: tuple[str, ServedFiles], tmp_path: Path) -> None:
    base, files = server
    files.content["w/a.bin"] = BLOB
    stream = io.StringIO()
    path = download_file(
        base + "w/a.bin",
        tmp_path / "a.bin",
        RemoteFile("w/a.bin", len(BLOB), BLOB_SHA),
        progress=ProgressBar(stream),
    )
    assert path.read_bytes() == BLOB and not (tmp_path / "a.bin.part").exists()
    assert stream.getvalue().splitlines()[-1].startswith("w/a.bin       0.0/0.0 MB 100.0% [####")
    # A second run finds the verified file and does not fetch again.
    download_file(base + "w/a.bin", tmp_path / "a.bin", RemoteFile("w/a.bin", len(BLOB), BLOB_SHA))
    assert len(files.requests) == 1


def test_interrupted_transfer_resumes_with_range(server: tuple[str, ServedFiles], tmp_path: Path) -> None:
    base, files = server
    files.content["b.bin"] = BLOB
    files.drop_once.add("b.bin")
    path = download_file(
        base + "b.bin", tmp_path / "b.bin", RemoteFile("b.bin", len(BLOB), BLOB_SHA), retry_delay_s=_no_wait
    )
    assert path.read_bytes() == BLOB
    assert files.requests == [("b.bin", None), ("b.bin", f"bytes={len(BLOB) // 2}-")]


def test_part_file_from_a_killed_run_is_resumed(server: tuple[str, ServedFiles], tmp_path: Path) -> None:
    base, files = server
    files.content["c.bin"] = BLOB
    (tmp_path / "c.bin.part").write_bytes(BLOB[:3000])
    download_file(base + "c.bin", tmp_path / "c.bin", RemoteFile("c.bin", len(BLOB), BLOB_SHA))
    assert (tmp_path / "c.bin").read_bytes() == BLOB and files.requests == [("c.bin", "bytes=3000-")]


def test_server_ignoring_range_restarts_cleanly(server: tuple[str, ServedFiles], tmp_path: Path) -> None:
    base, files = server
    files.content["d.bin"] = BLOB
    files.ignore_range = True
    (tmp_path / "d.bin.part").write_bytes(b"x" * 3000)
    download_file(base + "d.bin", tmp_path / "d.bin", RemoteFile("d.bin", len(BLOB), BLOB_SHA))
    assert (tmp_path / "d.bin").read_bytes() == BLOB


def test_corrupt_file_is_deleted_and_reported(server: tuple[str, ServedFiles], tmp_path: Path) -> None:
    base, files = server
    files.content["e.bin"] = BLOB[:-1] + b"\x00"
    with pytest.raises(DownloadError, match=r"e\.bin is corrupt \(its sha256 is .*; it was deleted"):
        download_file(base + "e.bin", tmp_path / "e.bin", RemoteFile("e.bin", len(BLOB), BLOB_SHA))
    assert list(tmp_path.iterdir()) == []
    files.content["f.bin"] = BLOB[:100]
    with pytest.raises(DownloadError, match="it has 100 bytes, expected 10240"):
        download_file(base + "f.bin", tmp_path / "f.bin", RemoteFile("f.bin", len(BLOB), sha256_prefix="00"))


def test_missing_file_says_check_base_url(server: tuple[str, ServedFiles], tmp_path: Path) -> None:
    base, _ = server
    with pytest.raises(DownloadError, match="HTTP 404; check --base-url"):
        download_file(base + "nope", tmp_path / "nope", RemoteFile("nope"))


def test_release_download_then_convert(
    server: tuple[str, ServedFiles], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base, files = server
    serve_release(files)
    files.drop_once.add("s1v3.ckpt")
    # HuBERT's pytorch_model.bin has a known size (188,811,417 B) in the real catalogue; use ours.
    monkeypatch.setattr(
        "wyoming_server.models.catalogue.HUBERT_FILES",
        (
            RemoteFile("chinese-hubert-base/config.json"),
            RemoteFile("chinese-hubert-base/preprocessor_config.json"),
            RemoteFile("chinese-hubert-base/pytorch_model.bin", 6),
        ),
    )
    paths = fetch_release(TINY_RELEASE, tmp_path / "downloads", base_url=base, retry_delay_s=_no_wait)
    assert paths["s1v3.ckpt"].read_bytes() == BLOB
    converter = FakeConverter()
    model_dir = install_converted_model(
        tmp_path,
        "v2pro",
        gpt=paths["s1v3.ckpt"],
        sovits=paths["v2Pro/s2Gv2Pro.pth"],
        hubert_dir=paths["chinese-hubert-base/pytorch_model.bin"].parent,
        sv=paths["sv/pretrained_eres2netv2w24s4ep4.ckpt"],
        converter=converter,
    )
    assert model_dir == tmp_path / "models" / "v2pro" and (model_dir / "manifest.json").is_file()
    assert converter.calls[0]["hubert_dir"] == tmp_path / "downloads" / "chinese-hubert-base"
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == [".lock", "v2pro"]
    with pytest.raises(FileExistsError, match="already exists"):
        install_converted_model(
            tmp_path,
            "v2pro",
            gpt=paths["s1v3.ckpt"],
            sovits=paths["s1v3.ckpt"],
            hubert_dir=tmp_path,
            converter=converter,
        )


def test_from_dir_uses_files_on_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "pretrained_models"
    monkeypatch.setattr(
        "wyoming_server.models.catalogue.HUBERT_FILES", (RemoteFile("chinese-hubert-base/pytorch_model.bin"),)
    )
    for relative, content in {
        "s1v3.ckpt": BLOB,
        "v2Pro/s2Gv2Pro.pth": b"sovit",
        "pretrained_eres2netv2w24s4ep4.ckpt": b"sv",
        "chinese-hubert-base/pytorch_model.bin": b"h",
    }.items():
        (source / relative).parent.mkdir(parents=True, exist_ok=True)
        (source / relative).write_bytes(content)
    paths = fetch_release(TINY_RELEASE, tmp_path / "downloads", source_dir=source)
    assert paths["sv/pretrained_eres2netv2w24s4ep4.ckpt"] == source / "pretrained_eres2netv2w24s4ep4.ckpt"
    assert paths["s1v3.ckpt"] == source / "s1v3.ckpt" and not (tmp_path / "downloads").exists()
    (source / "v2Pro/s2Gv2Pro.pth").write_bytes(b"sovix")
    with pytest.raises(DownloadError, match=r"s2Gv2Pro\.pth is not the expected .*sha256"):
        fetch_release(TINY_RELEASE, tmp_path / "downloads", source_dir=source)
    assert (source / "v2Pro/s2Gv2Pro.pth").exists()  # a user's own file is never deleted
    (source / "s1v3.ckpt").unlink()
    with pytest.raises(DownloadError, match=r"s1v3\.ckpt is not in"):
        fetch_release(TINY_RELEASE, tmp_path / "downloads", source_dir=source)
