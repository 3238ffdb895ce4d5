"""`VoiceLibrary`: the one synchronous facade the server (and the CLI) use for voices.

It joins the registry (packs on disk), the model pool (loaded engines, LRU-bounded)
and enrollment. Methods may block (disk, model loading, synthesis): the server calls
them from worker threads.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Protocol

from ..engine import AudioChunk, SynthesisOptions
from .pack import SkippedPack, VoicePack


class VoiceNotFoundError(LookupError):
    """No voice with that id (or for that language)."""


@dataclass(frozen=True)
class EnrollmentRequest:
    """Everything `voices add`, `POST /api/voices` and HA's enroll action pass in."""

    name: str
    audio: bytes
    """The uploaded file as it came (WAV/FLAC/OGG/MP3)."""
    text: str
    """Transcript; empty means ref-free enrollment (lower quality)."""
    language: str
    consent: str
    style: str = "default"
    voice_id: str | None = None
    """Add a style to this existing voice instead of creating a new one."""
    model_id: str | None = None
    start_s: float | None = None
    end_s: float | None = None
    force: bool = False
    recorded_by: str = "cli"
    options: dict[str, Any] = field(default_factory=dict)


class EnrollmentRejected(ValueError):
    """The clip or request fails the quality gate; `report` says why in words a person understands."""

    def __init__(self, message: str, report: dict[str, Any]) -> None:
        super().__init__(message)
        self.report = report


NO_MODEL_MESSAGE: Final = (
    "no GPT-SoVITS model is installed yet, so there is nothing to clone a voice with: press "
    '"Install the cloning model" on the web page, or run the Home Assistant action '
    "edge_tts_clone.install_model (on a command line: edge-tts-clone models download v2pro), "
    "then enroll again"
)


class NoModelInstalled(EnrollmentRejected):
    """No GPT-SoVITS model is installed to clone with: the message (NO_MODEL_MESSAGE) says how to get one."""


class VoiceLibrary(Protocol):
    """What the server needs from the voice layer."""

    data_dir: Path

    def voices(self) -> list[VoicePack]:
        """Every usable pack, re-scanned when the data folder changed."""
        ...

    def skipped(self) -> list[SkippedPack]:
        """Folders that are not usable packs, with the reason."""
        ...

    def resolve(self, voice_id: str | None, language: str | None = None) -> VoicePack:
        """The voice by id, else the first voice for `language`, else the default voice."""
        ...

    def sample_rate_hz(self, pack: VoicePack) -> int:
        """Rate of every chunk `synthesize` yields for this pack."""
        ...

    def synthesize(
        self,
        pack: VoicePack,
        style: str | None,
        text: str,
        options: SynthesisOptions,
        stop: threading.Event | None = None,
    ) -> Iterator[AudioChunk]:
        """Speak `text` in `pack`'s voice, one chunk per sentence (or sooner)."""
        ...

    def enroll(self, request: EnrollmentRequest) -> tuple[VoicePack, dict[str, Any]]:
        """Check, build and store a pack; returns it with its quality report or raises EnrollmentRejected."""
        ...

    def rename(self, voice_id: str, name: str) -> VoicePack:
        """Change the display name."""
        ...

    def remove(self, voice_id: str) -> None:
        """Delete a pack (never the built-in voice)."""
        ...

    def loaded_models(self) -> int:
        """Models currently in memory (for /metrics)."""
        ...

    def warm_up(self) -> None:
        """Load the default voice's engine now, so the first request after a start does not wait for it."""
        ...
