"""Finds the fine-tune named in `enroll_voice`: a GPT `.ckpt` and a SoVITS `.pth` in HA's media or config folder.

The same rules as the clip (`audio_source.py`): only files under the media folders or the config
folder, with the right extension, are accepted, and nothing is read here: the client streams them
to the server from the executor, since they are hundreds of megabytes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError

from .audio_source import allowed_roots, candidate_path
from .const import DOMAIN, MAX_CHECKPOINT_FILE_BYTES

SUFFIXES: Final = {"gpt": ".ckpt", "sovits": ".pth"}
"""What GPT-SoVITS training writes: GPT weights as .ckpt, SoVITS weights as .pth."""


def _refuse(key: str, path: str, suffix: str) -> ServiceValidationError:
    return ServiceValidationError(
        translation_domain=DOMAIN, translation_key=key, translation_placeholders={"path": path, "suffix": suffix}
    )


def checked_checkpoint(path: Path, roots: list[Path], named: str, kind: str) -> Path:
    """The resolved file, after the folder, extension and size checks. Blocking."""
    resolved = path.resolve()
    suffix = SUFFIXES[kind]
    if not any(resolved.is_relative_to(root.resolve()) for root in roots):
        raise _refuse("checkpoint_not_allowed", named, suffix)
    if resolved.suffix.lower() != suffix:
        raise _refuse("wrong_checkpoint_type", named, suffix)
    if not resolved.is_file():
        raise _refuse("checkpoint_not_found", named, suffix)
    if resolved.stat().st_size > MAX_CHECKPOINT_FILE_BYTES:
        raise _refuse("checkpoint_too_large", named, suffix)
    return resolved


async def async_find_fine_tune(hass: HomeAssistant, gpt: str, sovits: str) -> tuple[Path, Path]:
    """The GPT and SoVITS files the action names, checked in the executor."""
    roots = allowed_roots(hass)
    found: list[Path] = []
    for kind, named in (("gpt", gpt), ("sovits", sovits)):
        path = candidate_path(hass, named)
        found.append(await hass.async_add_executor_job(checked_checkpoint, path, roots, named, kind))
    return found[0], found[1]
