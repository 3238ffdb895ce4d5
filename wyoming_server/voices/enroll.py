"""Enrollment: an uploaded clip + transcript + consent -> a checked, stored voice pack (or a style of one).

The slow part (the prompt builder: HuBERT, reference embedder) runs before the folder lock is
taken; only the final write holds it, so enrollments overlap and never corrupt each other.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import numpy as np
import soundfile as sf
from numpy.typing import NDArray

from ..engine import VoicePrompt
from ..engine.errors import ReferenceAudioError, TextError
from ..engine.gpt_sovits.text import to_phones
from ..storage.slug import is_slug
from .library import NO_MODEL_MESSAGE, EnrollmentRejected, EnrollmentRequest, NoModelInstalled, VoiceNotFoundError
from .pack import ConsentRecord, VoicePack, VoiceStyle
from .quality import QualityReport, UnreadableAudioError, analyze, decide, decode_audio
from .registry import VoiceRegistry
from .schema import PackDocument, build_document, encode_prompt, prompt_file_name, reference_file_name

_LOGGER = logging.getLogger(__name__)

PromptBuilder = Callable[[NDArray[np.float32], int, str, str, Any], VoicePrompt]
"""(trimmed samples, rate Hz, transcript, language, model) -> prompt tensors (gpt_sovits/prompt.py)."""
PhoneCounter = Callable[[str, str], int]
"""(text, language) -> number of phones the text frontend makes of it (0: unpronounceable)."""
ModelOpener = Callable[[str], tuple[Any, list[str]]]
"""model id -> (model object for the prompt builder, languages its engine speaks)."""

MAX_NAME_CHARS: Final = 64
MAX_TRANSCRIPT_CHARS: Final = 400
"""Ten seconds of speech is at most about 60 words or 100 Chinese characters; more is a wrong transcript."""
MIN_CONSENT_CHARS: Final = 5
RECORDED_BY: Final = ("cli", "admin-api", "home-assistant")
PREFERRED_MODELS: Final = ("v2proplus", "v2pro", "v2")
"""Which installed model a new voice gets when none is named (the best first)."""


def utc_now() -> str:
    """ISO 8601 UTC time to the second, e.g. 2026-11-23T10:00:00Z."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def default_phone_counter(text: str, language: str) -> int:
    """Phones the text frontend makes of `text` (0 when there is nothing pronounceable)."""
    try:
        return int(to_phones(text, language).ids.size)
    except TextError:
        return 0


def default_prompt_builder(
    samples: NDArray[np.float32], rate_hz: int, text: str, language: str, model: Any
) -> VoicePrompt:
    """The engine's `build_voice_prompt` (imported on first use: it loads onnxruntime graphs)."""
    from ..engine.gpt_sovits.prompt import build_voice_prompt

    return build_voice_prompt(samples, rate_hz, text, language, model)


def encode_reference(samples: NDArray[np.float32], rate_hz: int) -> bytes:
    """The accepted clip as 16-bit PCM WAV at its own rate."""
    buffer = io.BytesIO()
    sf.write(buffer, samples, rate_hz, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def _reject(report: QualityReport, extra: list[str] | None = None) -> EnrollmentRejected:
    report.reasons.extend(extra or [])
    report.accepted = False
    message = "voice not enrolled: " + "; ".join(report.reasons)
    return EnrollmentRejected(message, report.to_dict())


class Enroller:
    """Turns `EnrollmentRequest`s into packs in one registry."""

    def __init__(
        self,
        registry: VoiceRegistry,
        open_model: ModelOpener,
        *,
        prompt_builder: PromptBuilder = default_prompt_builder,
        phone_counter: PhoneCounter = default_phone_counter,
        clock: Callable[[], str] = utc_now,
    ) -> None:
        self.registry = registry
        self._open_model = open_model
        self._prompt_builder = prompt_builder
        self._phone_counter = phone_counter
        self._clock = clock

    def default_model(self) -> str | None:
        """The model a new voice gets: the best of `PREFERRED_MODELS` installed, else the first installed."""
        installed = self.registry.installed_models()
        for model_id in PREFERRED_MODELS:
            if model_id in installed:
                return model_id
        return installed[0] if installed else None

    def _request_problems(self, request: EnrollmentRequest) -> list[str]:
        problems: list[str] = []
        if request.voice_id is None and not request.name.strip():
            problems.append("a display name is required")
        if len(request.name) > MAX_NAME_CHARS:
            problems.append(f"the display name is longer than {MAX_NAME_CHARS} characters")
        if request.voice_id is not None and not is_slug(request.voice_id):
            problems.append(f"{request.voice_id!r} is not a voice id")
        if not is_slug(request.style):
            problems.append(f"style name {request.style!r} must be lower-case letters, digits and hyphens")
        if not re.fullmatch(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})*", request.language or ""):
            problems.append(f"language {request.language!r} is not a language code such as zh or en")
        if len(request.consent.strip()) < MIN_CONSENT_CHARS:
            problems.append(
                "consent is required: a statement from the person that they agree to their "
                'voice being cloned (e.g. "I, Jane, agree that my family may use my voice")'
            )
        text = request.text.strip()
        if len(text) > MAX_TRANSCRIPT_CHARS:
            problems.append(
                f"the transcript is longer than {MAX_TRANSCRIPT_CHARS} characters; "
                "it must be exactly what the 3-10 s clip says"
            )
        elif text and self._phone_counter(text, request.language.split("-")[0]) == 0:
            problems.append(
                f"the transcript has nothing pronounceable in language {request.language!r}; "
                "type what the clip says in words (or leave it empty for ref-free enrollment)"
            )
        return problems

    def enroll(self, request: EnrollmentRequest) -> tuple[VoicePack, dict[str, Any]]:
        """Check, build and store; returns the pack and its quality report, or raises EnrollmentRejected."""
        report = QualityReport()
        if request.voice_id is None and request.model_id is None and self.default_model() is None:
            raise NoModelInstalled(NO_MODEL_MESSAGE, {"accepted": False, "reasons": [NO_MODEL_MESSAGE]})
        problems = self._request_problems(request)
        try:
            clip = decode_audio(request.audio)
        except UnreadableAudioError as err:
            raise _reject(report, [str(err), *problems]) from err
        try:
            trimmed, report = analyze(clip, start_s=request.start_s, end_s=request.end_s)
        except ValueError as err:  # a bad --start/--end
            raise _reject(report, [str(err), *problems]) from err
        text = request.text.strip()
        report.ref_free = not text
        if report.ref_free:
            report.warnings.append("no transcript: ref-free enrollment, which sounds less like the person")
        report.reasons.extend(problems)
        decide(report, force=request.force)
        if not report.accepted:
            raise _reject(report)

        current = self._current_pack(request.voice_id)
        model_id = self._choose_model(request, current, report)
        model, engine_languages = self._open_model(model_id)
        language = request.language.split("-")[0]
        try:
            prompt = self._prompt_builder(trimmed, clip.rate_hz, text, language, model)
        except (ReferenceAudioError, TextError) as err:
            raise _reject(report, [str(err)]) from err
        report_dict = report.to_dict()
        reference = encode_reference(trimmed, clip.rate_hz)
        prompt_bytes = encode_prompt(prompt)
        consent = ConsentRecord(
            request.consent.strip(),
            self._clock(),
            request.recorded_by if request.recorded_by in RECORDED_BY else "cli",
        )

        def compose(
            voice_id: str, existing: PackDocument | None
        ) -> tuple[dict[str, Any], dict[str, bytes], dict[str, Path]]:
            folder = self.registry.voices_dir / voice_id
            default_style = existing.pack.default_style if existing else request.style
            styles = dict(existing.pack.styles) if existing else {}
            ref_name = reference_file_name(request.style, default_style)
            prompt_name = prompt_file_name(request.style, default_style)
            styles[request.style] = VoiceStyle(
                request.style, text, language, report_dict, ref_name, prompt_name
            )
            kept = {
                name: folder / name
                for name in (existing.files if existing else {})
                if name not in (ref_name, prompt_name)
            }
            new_files = {ref_name: reference, prompt_name: prompt_bytes}
            languages = list(
                dict.fromkeys(
                    [*(existing.pack.languages if existing else [language]), language, *engine_languages]
                )
            )
            document = build_document(
                voice_id=voice_id,
                name=existing.pack.name if existing else request.name.strip(),
                languages=languages,
                model_id=model_id,
                styles=styles,
                default_style=default_style,
                created=existing.pack.created if existing else consent.recorded_at,
                consent=consent,
                files={**new_files, **({name: existing.files[name] for name in kept} if existing else {})},
            )
            return document, new_files, kept

        pack = self.registry.commit_pack(
            compose, voice_id=request.voice_id, name=request.name, must_exist=request.voice_id is not None
        )
        _LOGGER.info(
            "enrolled voice %s style %s (%.1f s clip, model %s)",
            pack.id,
            request.style,
            report.duration_s,
            model_id,
        )
        return pack, {**report_dict, "voice_id": pack.id, "style": request.style}

    def _current_pack(self, voice_id: str | None) -> VoicePack | None:
        if voice_id is None:
            return None
        entry = self.registry.entries().get(voice_id)
        if entry is None:
            raise VoiceNotFoundError(f"no voice {voice_id!r} to add a style to")
        if entry.pack.kind != "gpt-sovits":
            raise EnrollmentRejected(
                f"{voice_id!r} is a Piper voice; styles can only be added to enrolled voices",
                {"accepted": False, "reasons": ["not an enrolled voice"]},
            )
        return entry.pack

    def _choose_model(
        self, request: EnrollmentRequest, current: VoicePack | None, report: QualityReport
    ) -> str:
        if current is not None:
            if request.model_id and request.model_id != current.model_id:
                raise _reject(
                    report,
                    [
                        f"voice {current.id!r} speaks with model {current.model_id!r}; "
                        "a new style must use the same model"
                    ],
                )
            return current.model_id
        model_id = request.model_id or self.default_model()
        if model_id is None:
            raise NoModelInstalled(NO_MODEL_MESSAGE, {"accepted": False, "reasons": [NO_MODEL_MESSAGE]})
        if model_id not in self.registry.installed_models():
            raise _reject(report, [f"model {model_id!r} is not installed in {self.registry.models_dir}"])
        return model_id
