"""Installing converted models into `<data>/models/<id>`: convert into a staging folder, swap it in.

Used by `models download` (official weights) and `voices add --gpt/--sovits` (a person's fine-tune).
The converter is `default_converter()`: the template converter, which needs no torch (the runtime
install, the Home Assistant add-on); the torch converter only for what no template covers (other
model sizes, the Chinese BERT graph) and only where torch is installed. Tests inject a fake with
the same signature.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from ..checkpoints.errors import ConversionError
from ..engine.gpt_sovits.shared_files import SHARED_FOLDER, place_shared_file
from ..storage import atomic
from ..storage.layout import MODELS_SUBDIR
from ..storage.slug import is_slug

_LOGGER = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]
"""progress(done, total, message); see `importer.pipeline.Progress` for what the calls mean."""


class ModelConverter(Protocol):
    """The signature of `convert.pipeline.convert_model` and of `default_converter()`'s converter.

    Raises ConversionError (a bad or unsupported checkpoint; nothing is left in `out_dir`).
    """

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
        progress: Progress | None = None,
    ) -> Any: ...


def torch_available() -> bool:
    """True when the torch converter can run here (the `[convert]` extra is installed)."""
    try:
        return importlib.util.find_spec("torch") is not None
    except (ImportError, ValueError):
        return False


def default_converter(template_dirs: Sequence[Path] = ()) -> ModelConverter:
    """The template converter (no torch), falling back to the torch converter for what no template covers.

    `template_dirs`: extra template folders (made by `edge-tts-clone templates`), searched before
    the shipped one. Without torch, a checkpoint no template covers raises ConversionError saying so.
    """

    def convert(
        gpt: Path,
        sovits: Path,
        hubert_dir: Path,
        out_dir: Path,
        *,
        sv: Path | None = None,
        bert_dir: Path | None = None,
        precision: str = "both",
        progress: Progress | None = None,
    ) -> Any:
        from ..importer.pipeline import convert_model
        from ..importer.template_sources import TemplateSources
        from ..importer.templates import NoTemplateError

        def open_sources(g: Path, s: Path, h: Path, v: Path | None, b: Path | None) -> TemplateSources:
            return TemplateSources(g, s, h, v, b, list(template_dirs))

        try:
            return convert_model(
                gpt, sovits, hubert_dir, out_dir, open_sources=open_sources, sv=sv, bert_dir=bert_dir,
                precision=precision, progress=progress,
            )
        except NoTemplateError as err:
            if not torch_available():
                raise
            _LOGGER.info("%s; converting with torch instead", err)
        from ..convert.pipeline import convert_model as torch_convert_model

        return torch_convert_model(
            gpt, sovits, hubert_dir, out_dir, sv=sv, bert_dir=bert_dir, precision=precision, progress=progress
        )

    return convert


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
    progress: Progress | None = None,
) -> Path:
    """Convert the checkpoints into `<data>/models/<model_id>` atomically; returns that folder.

    An existing model of that id is kept unless `replace` (then voices using it get the new one,
    and the pool reloads it on next use). `progress(step, total, message)` follows the conversion.
    Raises ConversionError when the checkpoints cannot be converted, FileExistsError or ValueError
    for the model id; nothing is left behind on failure.
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
        _link_shared_files(models_dir, staging.path / SHARED_FOLDER)
        _LOGGER.info("converting %s + %s into model %s", gpt.name, sovits.name, model_id)
        convert(
            gpt, sovits, hubert_dir, out_dir, sv=sv, bert_dir=bert_dir, precision=precision, progress=progress
        )
        if not (out_dir / "manifest.json").is_file():
            raise ConversionError(f"the converter wrote no manifest.json into {out_dir}")
        for path in out_dir.rglob("*"):
            if path.is_file():
                with path.open("rb") as f:
                    os.fsync(f.fileno())
        with atomic.FolderLock(models_dir, exclusive=True):
            for shared in sorted((staging.path / SHARED_FOLDER).glob("*.onnx")):  # before the model needing it
                place_shared_file(shared, models_dir)
            atomic.commit_folder(out_dir, target)
    return target


def _link_shared_files(models_dir: Path, staged_shared: Path) -> None:
    """Hard-link the data folder's shared files into the staging folder, so the converter finds the
    HuBERT it would write (checked byte for byte) and writes nothing: 378 MB less on an SD card. A file
    system without hard links just converts as before."""
    existing = sorted((models_dir / SHARED_FOLDER).glob("*.onnx"))
    if not existing:
        return
    staged_shared.mkdir(parents=True, exist_ok=True)
    for path in existing:
        with contextlib.suppress(OSError):
            os.link(path, staged_shared / path.name)
