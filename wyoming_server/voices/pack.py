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

    def to_dict(self) -> dict[str, Any]:
        """JSON form (as in voice.json and the admin API)."""
        return {"statement": self.statement, "recorded_at": self.recorded_at, "recorded_by": self.recorded_by}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ConsentRecord:
        """Inverse of `to_dict` (KeyError/TypeError on a malformed record)."""
        return cls(str(data["statement"]), str(data["recorded_at"]), str(data.get("recorded_by", "")))


@dataclass(frozen=True, slots=True)
class VoiceStyle:
    """One reference clip of a person (e.g. "calm", "cheerful")."""

    name: str
    reference_text: str
    """Transcript of the clip; empty for a ref-free (lower quality) style."""
    reference_language: str
    quality: dict[str, Any] = field(default_factory=dict)
    """The enrollment quality report (duration_s, snr_db, clipping_ratio, loudness_lufs, ...)."""
    reference_file: str = ""
    """File name of the accepted clip inside the pack folder ("reference.wav"); empty for Piper voices."""
    prompt_file: str = ""
    """File name of the precomputed prompt tensors ("prompt.npz"); empty for Piper voices."""

    @property
    def ref_free(self) -> bool:
        """True when enrolled without a transcript (lower quality)."""
        return not self.reference_text

    def to_dict(self) -> dict[str, Any]:
        """JSON form (voice.json and the admin API)."""
        return {
            "name": self.name,
            "reference_text": self.reference_text,
            "reference_language": self.reference_language,
            "reference_file": self.reference_file,
            "prompt_file": self.prompt_file,
            "quality": self.quality,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VoiceStyle:
        """Inverse of `to_dict` (KeyError/TypeError on a malformed style)."""
        quality = data.get("quality", {})
        if not isinstance(quality, dict):
            raise TypeError("quality must be an object")
        return cls(
            name=str(data["name"]),
            reference_text=str(data["reference_text"]),
            reference_language=str(data["reference_language"]),
            quality=dict(quality),
            reference_file=str(data.get("reference_file", "")),
            prompt_file=str(data.get("prompt_file", "")),
        )


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

    def to_dict(self) -> dict[str, Any]:
        """The admin API's `Voice` object (docs/http-api.md)."""
        return {
            "id": self.id,
            "name": self.name,
            "languages": list(self.languages),
            "kind": self.kind,
            "model_id": self.model_id,
            "styles": [style.to_dict() for style in self.styles.values()],
            "default_style": self.default_style,
            "revision": self.revision,
            "created": self.created,
            "builtin": self.builtin,
            "attribution": self.attribution,
            "consent": self.consent.to_dict() if self.consent else None,
        }


@dataclass(frozen=True, slots=True)
class SkippedPack:
    """A folder that is not a usable pack, and why (shown by `voices list` and the admin API)."""

    path: str
    reason: str
