"""Installing converted models into `<data>/models/<id>`: convert into a staging folder, swap it in.

Used by `models download` (official weights) and `voices add --gpt/--sovits` (a person's fine-tune).
The converter is `wyoming_server.convert.pipeline.convert_model` (torch, the `[convert]` extra);
tests inject a fake with the same signature.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Protocol

from ..storage import atomic
from ..storage.layout import MODELS_SUBDIR
from ..storage.slug import is_slug

_LOGGER = logging.getLogger(__name__)


class ModelConverter(Protocol):
    """The signature of `convert.pipeline.convert_model`."""

    def __call__(
        self,
        gpt: Path,
        sovits: Path,
        hubert_dir: Path,
        out_dir: Path,
        *,
        sv: Path | None = None,
        bert_dir: Path | None = None,
        precision: str = "both",
        progress: Any = None,
    ) -> Any: ...


def default_converter() -> ModelConverter:
    """The real converter (imported on first use: it needs torch)."""
    try:
        from ..convert.pipeline import convert_model
    except ImportError as err:
        raise RuntimeError(
            f"converting a model needs the converter and torch: pip install 'edge-tts-clone[convert]' ({err})"
        ) from err
    converter: ModelConverter = convert_model
    return converter


def install_converted_model(
    data_dir: Path,
    model_id: str,
    *,
    gpt: Path,
    sovits: Path,
    hubert_dir: Path,
    sv: Path | None = None,
    bert_dir: Path | None = None,
    precision: str = "both",
    replace: bool = False,
    converter: ModelConverter | None = None,
    progress: Any = None,
) -> Path:
    """Convert the checkpoints into `<data>/models/<model_id>` atomically; returns that folder.

    An existing model of that id is kept unless `replace` (then voices using it get the new one,
    and the pool reloads it on next use). `progress(step, total, message)` follows the conversion.
    """
    if not is_slug(model_id):
        raise ValueError(f"model id {model_id!r} must be lower-case letters, digits and hyphens")
    models_dir = data_dir / MODELS_SUBDIR
    target = models_dir / model_id
    if target.exists() and not replace:
        raise FileExistsError(
            f"model {model_id!r} already exists in {models_dir} (use --replace to convert again)"
        )
    convert = converter or default_converter()
    with atomic.StagingFolder(models_dir, model_id) as staging:
        out_dir = staging.path / "model"
        _LOGGER.info("converting %s + %s into model %s", gpt.name, sovits.name, model_id)
        convert(
            gpt, sovits, hubert_dir, out_dir, sv=sv, bert_dir=bert_dir, precision=precision, progress=progress
        )
        if not (out_dir / "manifest.json").is_file():
            raise RuntimeError(f"the converter wrote no manifest.json into {out_dir}")
        for path in out_dir.rglob("*"):
            if path.is_file():
                with path.open("rb") as f:
                    os.fsync(f.fileno())
        with atomic.FolderLock(models_dir, exclusive=True):
            atomic.commit_folder(out_dir, target)
    return target
