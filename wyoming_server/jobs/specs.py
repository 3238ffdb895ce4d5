"""What a worker is told to do: the files to fetch and the checkpoints to convert, for each kind of job.

An install fetches a catalogue release whole. An import converts uploaded checkpoints and fetches
only the helper networks they need: HuBERT always, the speaker-verification net for v2Pro and
v2ProPlus files (whose first two bytes are a version code instead of the zip's `PK`; see
`convert/checkpoints.py`). Files already downloaded and checked are never fetched again.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Final

from ..models import catalogue
from ..models.catalogue import ModelRelease, RemoteFile
from ..storage.layout import DOWNLOADS_SUBDIR

GPT_UPLOAD: Final = "gpt.ckpt"
SOVITS_UPLOAD: Final = "sovits.pth"
CLIP_UPLOAD: Final = "clip"
ZIP_MAGIC: Final = b"PK"


def sovits_needs_sv(sovits: Path) -> bool:
    """True for a v2Pro/v2ProPlus SoVITS file (a version code where a plain zip has `PK`)."""
    with sovits.open("rb") as f:
        return f.read(2) != ZIP_MAGIC


def install_files(release: ModelRelease) -> list[RemoteFile]:
    """Every file an install of `release` needs (the optional Chinese BERT is left to the CLI)."""
    return release.files(with_bert=False)


def import_files(needs_sv: bool) -> list[RemoteFile]:
    """The helper networks a fine-tune's conversion needs."""
    return [*catalogue.HUBERT_FILES, *([catalogue.SV_FILE] if needs_sv else [])]


def _common(data_dir: Path, files: list[RemoteFile], base_url: str, precision: str) -> dict[str, Any]:
    download_dir = data_dir / DOWNLOADS_SUBDIR
    return {
        "data_dir": str(data_dir),
        "download_dir": str(download_dir),
        "base_url": base_url,
        "files": [dataclasses.asdict(remote) for remote in files],
        "hubert_dir": str(download_dir / catalogue.HUBERT_DIR),
        "precision": precision,
    }


def install_spec(
    release: ModelRelease, data_dir: Path, *, base_url: str, precision: str, replace: bool
) -> dict[str, Any]:
    """The worker spec that downloads and converts `release` into `<data>/models/<release.id>`."""
    download_dir = data_dir / DOWNLOADS_SUBDIR
    return {
        **_common(data_dir, install_files(release), base_url, precision),
        "model_id": release.id,
        "gpt": str(download_dir / release.gpt.path),
        "sovits": str(download_dir / release.sovits.path),
        "sv": str(download_dir / release.sv.path) if release.sv else None,
        "replace": replace,
    }


def import_spec(
    model_id: str, upload_dir: Path, data_dir: Path, *, base_url: str, precision: str, replace: bool
) -> dict[str, Any]:
    """The worker spec that converts an uploaded fine-tune into `<data>/models/<model_id>`."""
    needs_sv = sovits_needs_sv(upload_dir / SOVITS_UPLOAD)
    download_dir = data_dir / DOWNLOADS_SUBDIR
    return {
        **_common(data_dir, import_files(needs_sv), base_url, precision),
        "model_id": model_id,
        "gpt": str(upload_dir / GPT_UPLOAD),
        "sovits": str(upload_dir / SOVITS_UPLOAD),
        "sv": str(download_dir / catalogue.SV_FILE.path) if needs_sv else None,
        "replace": replace,
    }
