"""Copying a converted model folder into another data folder, as a user moving a model must."""

from __future__ import annotations

import shutil
from pathlib import Path

from wyoming_server.engine.gpt_sovits.shared_files import shared_dir, shared_files_of


def copy_model_folder(source: Path, target: Path) -> Path:
    """Copy `source` to `target` and the shared files (HuBERT) its manifest names into the shared folder
    beside `target`, unless there already; returns `target`."""
    shutil.copytree(source, target)
    for name, path in shared_files_of(source).items():
        destination = shared_dir(target) / name
        if not destination.exists():
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, destination)
    return target
