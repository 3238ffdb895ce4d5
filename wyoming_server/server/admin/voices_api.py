"""`/api/voices`: list, show, enroll, rename and delete voice packs."""

from __future__ import annotations

import dataclasses
import errno
import logging
from typing import Any, Final

from aiohttp import web

from ...engine import EngineError, ModelLoadError
from ...voices.library import EnrollmentRejected, EnrollmentRequest, NoModelInstalled, VoiceNotFoundError
from ...voices.pack import VoicePack
from ...voices.quality import ClipTooLongError, UnreadableAudioError, check_clip
from .context import context_of, dump_json
from .errors import ApiError
from .uploads import check_display_name, check_slug, read_enrollment_form, read_json

_LOGGER = logging.getLogger(__name__)

_STORAGE_FULL_ERRNOS: Final = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


def _storage_error(err: OSError) -> ApiError:
    """A write to the data folder failed (disk full, read-only, permissions); the previous state is intact."""
    cause = err.__cause__ if isinstance(err.__cause__, OSError) else err
    _LOGGER.warning("Writing to the data folder failed: %s", err)
    if cause.errno in _STORAGE_FULL_ERRNOS:
        return ApiError(
            507, "insufficient-storage", f"{err}; the data folder's disk is full: free some space and try again"
        )
    return ApiError(500, "storage-error", f"{err}; nothing was changed")


def voice_to_json(pack: VoicePack) -> dict[str, Any]:
    """The `Voice` object of docs/http-api.md."""
    return {
        "id": pack.id,
        "name": pack.name,
        "languages": list(pack.languages),
        "kind": pack.kind,
        "model_id": pack.model_id,
        "styles": [
            {
                "name": style.name,
                "reference_text": style.reference_text,
                "reference_language": style.reference_language,
                "quality": dict(style.quality),
            }
            for style in pack.styles.values()
        ],
        "default_style": pack.default_style,
        "revision": pack.revision,
        "created": pack.created,
        "builtin": pack.builtin,
        "consent": dataclasses.asdict(pack.consent) if pack.consent is not None else None,
    }


def _json(value: Any, status: int = 200) -> web.Response:
    return web.json_response(value, status=status, dumps=dump_json)


async def _find(request: web.Request, voice_id: str) -> VoicePack:
    context = context_of(request)
    packs = await context.blocking(context.library.voices)
    for pack in packs:
        if pack.id == voice_id:
            return pack
    raise ApiError(404, "unknown-voice", f"no voice {voice_id!r} on this server")


def _voice_id(request: web.Request) -> str:
    return check_slug(request.match_info["voice_id"], "the voice id")


async def list_voices(request: web.Request) -> web.Response:
    """GET /api/voices"""
    context = context_of(request)
    packs = await context.blocking(context.library.voices)
    skipped = await context.blocking(context.library.skipped)
    return _json(
        {
            "voices": [voice_to_json(pack) for pack in packs],
            "skipped": [{"path": item.path, "reason": item.reason} for item in skipped],
        }
    )


async def get_voice(request: web.Request) -> web.Response:
    """GET /api/voices/{id}"""
    return _json(voice_to_json(await _find(request, _voice_id(request))))


async def enroll_voice(request: web.Request) -> web.Response:
    """POST /api/voices (multipart)"""
    context = context_of(request)
    form = await read_enrollment_form(
        request,
        max_upload_bytes=context.limits.max_upload_bytes,
        timeout_s=context.limits.http_body_timeout_s,
    )
    max_seconds = context.limits.max_upload_audio_s
    try:  # before the heavy work, not during
        await context.blocking(lambda: check_clip(form.audio, max_seconds))
    except ClipTooLongError as err:
        raise ApiError(413, "too-large", str(err)) from None
    except UnreadableAudioError as err:
        raise ApiError(415, "unsupported-media", str(err)) from None
    enrollment = EnrollmentRequest(
        name=form.name,
        audio=form.audio,
        text=form.text,
        language=form.language,
        consent=form.consent,
        style=form.style,
        voice_id=form.voice_id,
        model_id=form.model_id,
        start_s=form.start_s,
        end_s=form.end_s,
        force=form.force,
        recorded_by="admin-api",
    )
    async with context.enroll_lock:
        try:
            pack, report = await context.blocking(lambda: context.library.enroll(enrollment))
        except NoModelInstalled as err:
            raise ApiError(409, "no-model", str(err), report=err.report) from None
        except EnrollmentRejected as err:
            raise ApiError(422, "rejected", str(err), report=err.report) from None
        except VoiceNotFoundError:
            raise ApiError(404, "unknown-voice", f"no voice {form.voice_id!r} to add a style to") from None
        except ModelLoadError as err:
            raise ApiError(503, "engine-error", str(err)) from None
        except EngineError as err:
            raise ApiError(
                422, "rejected", str(err), report={"accepted": False, "reasons": [str(err)], "warnings": []}
            ) from None
        except ValueError as err:
            raise ApiError(400, "bad-request", str(err)) from None
        except OSError as err:
            raise _storage_error(err) from None
    _LOGGER.info("Enrolled voice %s (style %s) through the admin API", pack.id, form.style)
    return _json({"voice": voice_to_json(pack), "report": report}, status=201)


async def rename_voice(request: web.Request) -> web.Response:
    """PATCH /api/voices/{id} {"name": ...}"""
    context = context_of(request)
    voice_id = _voice_id(request)
    body = await read_json(request, context.limits.http_body_timeout_s)
    if not isinstance(body, dict):
        raise ApiError(400, "bad-request", "the request body must be a JSON object")
    name = check_display_name(body.get("name"))
    await _find(request, voice_id)
    try:
        pack = await context.blocking(lambda: context.library.rename(voice_id, name))
    except VoiceNotFoundError:
        raise ApiError(404, "unknown-voice", f"no voice {voice_id!r} on this server") from None
    except ValueError as err:
        raise ApiError(400, "bad-request", str(err)) from None
    except OSError as err:
        if isinstance(err, PermissionError) and err.errno is None:  # a Piper voice keeps its file name
            raise ApiError(409, "builtin", str(err)) from None
        raise _storage_error(err) from None
    return _json(voice_to_json(pack))


async def delete_voice(request: web.Request) -> web.Response:
    """DELETE /api/voices/{id}"""
    context = context_of(request)
    voice_id = _voice_id(request)
    pack = await _find(request, voice_id)
    if pack.builtin:
        raise ApiError(409, "builtin", f"{pack.name!r} is the built-in voice and cannot be deleted")
    try:
        await context.blocking(lambda: context.library.remove(voice_id))
    except VoiceNotFoundError:
        raise ApiError(404, "unknown-voice", f"no voice {voice_id!r} on this server") from None
    except OSError as err:
        if isinstance(err, PermissionError) and err.errno is None:  # the registry's "built-in" refusal
            raise ApiError(409, "builtin", str(err)) from None
        raise _storage_error(err) from None
    except ValueError as err:
        raise ApiError(409, "builtin", str(err)) from None
    _LOGGER.info("Deleted voice %s through the admin API", voice_id)
    return web.Response(status=204)


def add_routes(app: web.Application) -> None:
    """Register the voice routes."""
    app.router.add_get("/api/voices", list_voices)
    app.router.add_post("/api/voices", enroll_voice)
    app.router.add_get("/api/voices/{voice_id}", get_voice)
    app.router.add_patch("/api/voices/{voice_id}", rename_voice)
    app.router.add_delete("/api/voices/{voice_id}", delete_voice)
