"""Files a model folder shares with the other model folders of its data folder (HuBERT).

One place for the fact "where the shared HuBERT lives": `<data>/models/shared/`, beside the model
folders, named by the sha256 of its weights. A model folder's manifest names the file and its hash
in `shared_files`; the prompt-extractor entry names it under `SSL_FILE_KEY`.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Final

from ...storage import atomic
from .manifest import sha256_file

SHARED_FOLDER: Final = "shared"
SSL_FILE_KEY: Final = "ssl"
"""Key of the shared HuBERT (wave -> SSL features) in the `prompt_extractor` entry's files."""
SSL_FEATURES: Final = "ssl_features"
"""HuBERT's output and the prompt quantizer's input: (1, ssl_dim, T50) float32."""
PROMPT_QUANTIZER_FILE: Final = "prompt_quantizer.onnx"
"""The model folder's own half: SSL features -> ssl_proj -> nearest codebook row."""


def shared_dir(model_dir: Path) -> Path:
    """The shared folder of the data folder that holds `model_dir` (it sits beside the model folders)."""
    return model_dir.parent / SHARED_FOLDER


_HUBERT_NAME: Final = re.compile(r"hubert-[0-9a-f]{16}\.onnx")


def hubert_file_name(weights_sha256: str) -> str:
    """`hubert-<16 hex>.onnx`: same weights, same name, so two conversions write one file."""
    return f"hubert-{weights_sha256[:16]}.onnx"


def shared_files_of(model_dir: Path) -> dict[str, Path]:
    """The shared files a model folder's manifest names: name -> path in its data folder."""
    manifest = json.loads((model_dir / "manifest.json").read_text(encoding="utf-8"))
    return {name: shared_dir(model_dir) / name for name in manifest.get("shared_files", {})}


def recorded_shared_files(models_dir: Path) -> dict[str, set[str]] | None:
    """Shared file name -> the sha256 values the manifests of the model folders in `models_dir`
    record for it; None when some manifest cannot be read (it may name any of them)."""
    recorded: dict[str, set[str]] = {}
    for manifest in models_dir.glob("*/manifest.json"):
        try:
            files = json.loads(manifest.read_text(encoding="utf-8")).get("shared_files", {})
            for name, info in files.items():
                recorded.setdefault(name, set()).add(str(info["sha256"]))
        except (OSError, ValueError, AttributeError, KeyError, TypeError):
            return None
    return recorded


def place_shared_file(source: Path, models_dir: Path) -> bool:
    """Move a verified shared file into `<models_dir>/shared/` unless the file of that name there has the
    same bytes; returns True when it was placed (also over a damaged copy, which the models naming it
    could not enroll with). `source` must be on the same file system (a staging folder)."""
    target = models_dir / SHARED_FOLDER / source.name
    if _same_bytes(target, source):
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(source, target)
    return True


def _same_bytes(a: Path, b: Path) -> bool:
    if not a.is_file() or a.stat().st_size != b.stat().st_size:
        return False
    return os.path.samefile(a, b) or sha256_file(a) == sha256_file(b)


def remove_unnamed_shared_files(models_dir: Path) -> list[tuple[str, int]]:
    """Delete the shared files no model folder's manifest names; returns (name, bytes) of each.

    Only names the converter writes are candidates: whatever else sits in `shared/` is not ours. All
    are kept while a conversion is under way in `models_dir` (its manifest may name one soon) or while
    a manifest cannot be read (it may name any). The caller holds the models folder's lock.
    """
    shared = models_dir / SHARED_FOLDER
    if not shared.is_dir() or any(p.name.startswith(atomic.STAGING_PREFIX) for p in models_dir.iterdir()):
        return []
    named = recorded_shared_files(models_dir)
    if named is None:
        return []
    removed = []
    for path in sorted(shared.iterdir()):
        if _HUBERT_NAME.fullmatch(path.name) and path.name not in named and path.is_file():
            size = path.stat().st_size
            path.unlink()
            removed.append((path.name, size))
    if removed:
        atomic.fsync_dir(shared)
    return removed
