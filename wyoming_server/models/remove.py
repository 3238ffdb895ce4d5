"""Removing an installed model folder, and the shared files (HuBERT) no model folder names any more.

A model some voice speaks with is not removed: the voices go first, so no voice is left without its
model. The voices folder's lock is held throughout, so no voice can be enrolled on the model while
it goes; the folder goes the crash-safe way (`atomic.remove_folder`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..engine.gpt_sovits.manifest import MANIFEST_NAME
from ..engine.gpt_sovits.shared_files import SHARED_FOLDER, remove_unnamed_shared_files
from ..storage import atomic
from ..storage.layout import MODELS_SUBDIR, VOICES_SUBDIR
from ..storage.slug import is_slug
from ..voices.schema import VOICE_JSON


class ModelRemoveError(Exception):
    """A model that cannot be removed: unknown, still used by voices, or the disk refused."""


class ModelNotInstalledError(ModelRemoveError):
    """No model folder by that id."""


class ModelInUseError(ModelRemoveError):
    """Voices speak with the model."""

    def __init__(self, model_id: str, voices: list[str]) -> None:
        super().__init__(
            f"model {model_id!r}: voice(s) {', '.join(voices)} speak with it: remove them first "
            "(edge-tts-clone voices remove ID)"
        )
        self.voices = voices


@dataclass(frozen=True)
class RemovedModel:
    """What `remove_model` deleted."""

    model_id: str
    freed_bytes: int
    shared_removed: list[str]
    """Shared files (`shared/hubert-*.onnx`) that no remaining model folder names."""


def remove_model(data_dir: Path, model_id: str) -> RemovedModel:
    """Delete `<data>/models/<model_id>` and the shared files only it named; ModelNotInstalledError
    (also for what is no model id), ModelInUseError (a voice speaks with it) or ModelRemoveError (the
    disk refused)."""
    models_dir = data_dir / MODELS_SUBDIR
    target = models_dir / model_id
    if not is_slug(model_id) or model_id == SHARED_FOLDER:
        raise ModelNotInstalledError(f"{model_id!r} is not a model id")
    voices_dir = data_dir / VOICES_SUBDIR
    voices_dir.mkdir(parents=True, exist_ok=True)
    with atomic.FolderLock(voices_dir, exclusive=True), atomic.FolderLock(models_dir, exclusive=True):
        if not (target / MANIFEST_NAME).is_file():
            raise ModelNotInstalledError(f"no model {model_id!r} in {models_dir}")
        users = voices_using(voices_dir, model_id)
        if users:
            raise ModelInUseError(model_id, users)
        freed = _tree_bytes(target)
        try:
            atomic.remove_folder(target)
            shared = remove_unnamed_shared_files(models_dir)
        except OSError as err:
            raise ModelRemoveError(f"could not remove model {model_id!r}: {err.strerror or err}") from err
    return RemovedModel(model_id, freed + sum(size for _, size in shared), [name for name, _ in shared])


def voices_using(voices_dir: Path, model_id: str) -> list[str]:
    """Ids of the enrolled voices whose pack names `model_id` (read from disk: the caller holds the lock)."""
    users = []
    for document in sorted(voices_dir.glob(f"*/{VOICE_JSON}")):
        if atomic.is_internal(document.parent.name):
            continue
        try:
            named = json.loads(document.read_text(encoding="utf-8")).get("model_id")
        except (OSError, ValueError, AttributeError):
            continue  # a pack the registry skips as unreadable speaks with nothing
        if named == model_id:
            users.append(document.parent.name)
    return users


def _tree_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
