"""The converted models in `<data>/models`, as `models list` and the admin API show them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..engine.errors import ModelLoadError
from ..engine.gpt_sovits.manifest import MANIFEST_NAME, Manifest
from ..engine.gpt_sovits.shared_files import SHARED_FOLDER
from ..storage.atomic import is_internal
from ..storage.layout import MODELS_SUBDIR


def installed_models(data_dir: Path) -> list[dict[str, Any]]:
    """`{"id", "version", "precision"}` per model folder (`{"id", "error"}` for one that cannot be read)."""
    models_dir = data_dir / MODELS_SUBDIR
    found: list[dict[str, Any]] = []
    if not models_dir.is_dir():
        return found
    model_folders = (p for p in models_dir.iterdir() if p.is_dir() and not is_internal(p.name))
    for folder in sorted(p for p in model_folders if p.name != SHARED_FOLDER):
        try:
            manifest = Manifest.read(folder)
        except ModelLoadError as err:
            found.append({"id": folder.name, "error": str(err)})
            continue
        found.append({"id": folder.name, "version": manifest.version, "precision": manifest.precision})
    return found


def is_installed(data_dir: Path, model_id: str) -> bool:
    """True when `<data>/models/<model_id>` has a manifest."""
    return (data_dir / MODELS_SUBDIR / model_id / MANIFEST_NAME).is_file()
