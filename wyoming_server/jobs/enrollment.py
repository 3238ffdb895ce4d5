"""The last step of an import that was given a clip: enroll the person's voice with the new model."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..voices.library import EnrollmentRequest

Enroll = Callable[[EnrollmentRequest], tuple[Any, dict[str, Any]]]
"""The library's `enroll`: (pack, report)."""


def enroll_with_model(
    model_id: str, fields: dict[str, Any], clip: Path, enroll: Enroll
) -> tuple[str, dict[str, Any]]:
    """(final state, job changes) after enrolling; blocking. The model stays installed either way."""
    try:
        request = EnrollmentRequest(audio=clip.read_bytes(), model_id=model_id, recorded_by="admin-api", **fields)
        pack, report = enroll(request)
    except Exception as err:  # the voice can be enrolled again by hand: the model is there
        refusal = getattr(err, "report", None)
        return "failed", {
            "code": "rejected" if refusal is not None else "enroll-failed",
            "report": refusal,
            "error": f"model {model_id} is installed, but the voice was not enrolled: {err}",
        }
    return "succeeded", {
        "voice_id": pack.id,
        "report": report,
        "message": f"model {model_id} is installed and voice {pack.id} uses it",
    }
