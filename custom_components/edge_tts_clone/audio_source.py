"""Finds and reads the clip named in `enroll_voice`: a local media-source id or a file path.

Only files under HA's media folders or its config folder, with an audio file extension,
are read; anything else is refused before touching the disk, so the action cannot be used
to send `secrets.yaml` or a file elsewhere on the host to the server.
Path resolution and reading happen in the executor (both are blocking filesystem calls).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import unquote

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError

from .const import DOMAIN, MAX_ENROLL_FILE_BYTES

MEDIA_SOURCE_PREFIX: Final = "media-source://"
LOCAL_MEDIA_DOMAIN: Final = "media_source"
"""`media-source://media_source/<media dir id>/<path>` is a file in a local media folder."""
AUDIO_SUFFIXES: Final = frozenset({".wav", ".flac", ".ogg", ".oga", ".mp3"})
"""What the server accepts (it sniffs WAV, FLAC, OGG and MP3 signatures)."""


@dataclass(frozen=True, slots=True)
class AudioFile:
    """A clip read from disk."""

    filename: str
    data: bytes


def _refuse(key: str, audio: str) -> ServiceValidationError:
    return ServiceValidationError(
        translation_domain=DOMAIN, translation_key=key, translation_placeholders={"audio": audio}
    )


def candidate_path(hass: HomeAssistant, audio: str) -> Path:
    """The path `audio` names (not yet resolved or checked); refuses other media sources."""
    if audio.startswith(MEDIA_SOURCE_PREFIX):
        domain, _, identifier = audio.removeprefix(MEDIA_SOURCE_PREFIX).partition("/")
        if domain != LOCAL_MEDIA_DOMAIN:
            raise _refuse("unsupported_media_source", audio)
        source_dir_id, _, location = identifier.partition("/")
        base = hass.config.media_dirs.get(source_dir_id)
        if base is None or not location:
            raise _refuse("unsupported_media_source", audio)
        return Path(base) / unquote(location)
    path = Path(audio)
    return path if path.is_absolute() else Path(hass.config.config_dir) / path


def allowed_roots(hass: HomeAssistant) -> list[Path]:
    """Folders a clip may come from: the media folders and the config folder."""
    return [Path(folder) for folder in hass.config.media_dirs.values()] + [Path(hass.config.config_dir)]


def read_audio_file(path: Path, roots: list[Path], audio: str) -> AudioFile:
    """Resolve symlinks and `..`, check the folder, suffix and size, then read. Blocking."""
    resolved = path.resolve()
    if not any(resolved.is_relative_to(root.resolve()) for root in roots):
        raise _refuse("path_not_allowed", audio)
    if resolved.suffix.lower() not in AUDIO_SUFFIXES:
        raise _refuse("not_audio_file", audio)
    if not resolved.is_file():
        raise _refuse("audio_not_found", audio)
    if resolved.stat().st_size > MAX_ENROLL_FILE_BYTES:
        raise _refuse("audio_too_large", audio)
    return AudioFile(filename=resolved.name, data=resolved.read_bytes())


async def async_load_audio(hass: HomeAssistant, audio: str) -> AudioFile:
    """The clip `audio` names, read in the executor."""
    path = candidate_path(hass, audio)
    return await hass.async_add_executor_job(read_audio_file, path, allowed_roots(hass), audio)
