"""What crosses the wire: typed values parsed from the server's answers, and requests to it.

Plain dataclasses without Home Assistant imports (the runtime types live in `coordinator.py`).
Parsers are strict about shape (a server that answers something else is not ours, or is
broken) and raise `ValueError` with a short reason; the client turns that into its errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def _str(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise ValueError(f"'{key}' is missing or not a non-empty string")
    return value


def _str_list(data: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = data.get(key) or []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"'{key}' is not a list of strings")
    return tuple(value)


def _optional_str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) else None


def _mapping(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"{what} is not a JSON object")
    return value


@dataclass(frozen=True, slots=True)
class ServerHealth:
    """`GET /api/health` of an edge-tts-clone server."""

    server_id: str
    version: str
    voices: int
    """Number of voice packs the server has loaded."""
    wyoming_port: int | None

    @classmethod
    def from_api(cls, data: Any) -> ServerHealth:
        """Parse the health answer; `ValueError` if it is not ours."""
        body = _mapping(data, "health answer")
        if body.get("status") != "ok":
            raise ValueError("health status is not 'ok'")
        voices = body.get("voices", 0)
        port = body.get("wyoming_port")
        return cls(
            server_id=_str(body, "server_id"),
            version=_str(body, "version"),
            voices=voices if isinstance(voices, int) else 0,
            wyoming_port=port if isinstance(port, int) else None,
        )


@dataclass(frozen=True, slots=True)
class ServerVoice:
    """One voice pack (one person) as the admin API lists it."""

    voice_id: str
    name: str
    """Display name, e.g. "Mum"."""
    languages: tuple[str, ...]
    styles: tuple[str, ...]
    """Reference clips of this person, e.g. ("default", "calm")."""
    builtin: bool

    @classmethod
    def from_api(cls, data: Any) -> ServerVoice:
        """Parse one `Voice` object of the admin API."""
        body = _mapping(data, "voice")
        styles = body.get("styles") or []
        if not isinstance(styles, list):
            raise ValueError("'styles' is not a list")
        style_names = tuple(
            style["name"]
            for style in styles
            if isinstance(style, Mapping) and isinstance(style.get("name"), str)
        )
        voice_id = _str(body, "id")
        name = body.get("name")
        return cls(
            voice_id=voice_id,
            name=name if isinstance(name, str) and name else voice_id,
            languages=_str_list(body, "languages"),
            styles=style_names,
            builtin=body.get("builtin") is True,
        )


@dataclass(frozen=True, slots=True)
class WyomingInfo:
    """What the server's Wyoming `info` says about our TTS program."""

    program_version: str | None
    voice_ids: tuple[str, ...]
    supports_streaming: bool


@dataclass(frozen=True, slots=True)
class AudioFormat:
    """PCM format of a synthesis reply."""

    rate: int
    """Hertz"""
    width: int
    """Bytes per sample"""
    channels: int


@dataclass(frozen=True, slots=True)
class SynthesizedAudio:
    """A whole synthesis reply: its format and raw PCM."""

    audio_format: AudioFormat
    pcm: bytes


@dataclass(frozen=True, slots=True)
class EnrollRequest:
    """Everything `POST /api/voices` needs."""

    name: str | None
    """Display name; may be None when adding a style to `voice_id`."""
    audio: bytes
    filename: str
    transcript: str
    language: str
    consent_statement: str
    """Recorded by the server with the voice (docs/http-api.md: `consent` is the statement)."""
    style: str | None = None
    voice_id: str | None = None
    """Add `style` to this existing voice instead of creating a new one."""
    force: bool = False
    """Accept a clip the quality gate only has weak objections to (they become warnings)."""


@dataclass(frozen=True, slots=True)
class EnrollResult:
    """The server's answer to an enrollment."""

    voice: Mapping[str, Any]
    report: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class FineTuneRequest:
    """Everything `POST /api/models/import` needs to convert a fine-tune and enroll a voice with it."""

    gpt: Path
    """The GPT `.ckpt`, already checked to be under an allowed folder (streamed, never read whole)."""
    sovits: Path
    enroll: EnrollRequest


JOB_FINISHED = frozenset({"succeeded", "failed", "cancelled"})


@dataclass(frozen=True, slots=True)
class ServerJob:
    """A background job of the server (install a model, import a fine-tune) as the admin API shows it."""

    job_id: str
    model_id: str
    state: str
    """queued, running, succeeded, failed or cancelled."""
    progress: float
    message: str
    revision: int
    error: str | None = None
    code: str | None = None
    voice_id: str | None = None
    report: Mapping[str, Any] | None = None

    @property
    def finished(self) -> bool:
        """True once it succeeded, failed or was cancelled."""
        return self.state in JOB_FINISHED

    @classmethod
    def from_api(cls, data: Any) -> ServerJob:
        """Parse a `Job` object of the admin API."""
        body = _mapping(data, "job")
        progress, revision = body.get("progress"), body.get("revision")
        if not isinstance(progress, int | float) or not isinstance(revision, int):
            raise ValueError("'progress' or 'revision' is not a number")
        report = body.get("report")
        return cls(
            job_id=_str(body, "id"),
            model_id=_str(body, "model_id"),
            state=_str(body, "state"),
            progress=float(progress),
            message=_optional_str(body, "message") or "",
            revision=revision,
            error=_optional_str(body, "error"),
            code=_optional_str(body, "code"),
            voice_id=_optional_str(body, "voice_id"),
            report=report if isinstance(report, Mapping) else None,
        )

    def as_response(self) -> dict[str, Any]:
        """What an action answers with."""
        return {
            "job_id": self.job_id,
            "model_id": self.model_id,
            "state": self.state,
            "progress": self.progress,
            "message": self.message,
            "error": self.error,
        }
