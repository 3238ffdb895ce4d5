"""The voice-pack data types (the on-disk format is documented in voices/README.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, Literal

PACK_SCHEMA_VERSION: Final = 1
VoiceKind = Literal["gpt-sovits", "piper"]


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    """Who agreed to their voice being cloned, and when."""

    statement: str
    """The consent text as given (e.g. "I, Jane, agree that my family may use my voice")."""
    recorded_at: str
    """ISO 8601 UTC time of enrollment."""
    recorded_by: str = ""
    """How it was given: "cli", "admin-api", "home-assistant"."""


@dataclass(frozen=True, slots=True)
class VoiceStyle:
    """One reference clip of a person (e.g. "calm", "cheerful")."""

    name: str
    reference_text: str
    """Transcript of the clip; empty for a ref-free (lower quality) style."""
    reference_language: str
    quality: dict[str, Any] = field(default_factory=dict)
    """The enrollment quality report (duration_s, snr_db, clipping_ratio, loudness_lufs, speech_ratio, warnings)."""


@dataclass(frozen=True, slots=True)
class VoicePack:
    """A person's voice as the server lists and speaks it."""

    id: str
    """Slug, unique: the Wyoming voice name and the folder name."""
    name: str
    """Display name ("Mum")."""
    languages: list[str]
    kind: VoiceKind
    model_id: str
    """GPT-SoVITS model folder under <data>/models, or the Piper voice's file stem."""
    styles: dict[str, VoiceStyle]
    default_style: str
    revision: str
    """Changes whenever anything in the pack changes (cache keys use it)."""
    created: str = ""
    consent: ConsentRecord | None = None
    attribution: str = ""
    """Who made the voice (stock voices) or "enrolled locally"."""
    builtin: bool = False
    """True for the stock voice shipped with the install (cannot be removed)."""

    def style(self, name: str | None) -> VoiceStyle:
        """The named style, or the default one; KeyError for an unknown name."""
        return self.styles[name or self.default_style]


@dataclass(frozen=True, slots=True)
class SkippedPack:
    """A folder that is not a usable pack, and why (shown by `voices list` and the admin API)."""

    path: str
    reason: str
