"""Reading the fine-tune import form: two checkpoints streamed to disk, optionally a clip to enroll with.

The checkpoints (hundreds of MB) never sit in memory: each part is written to the upload folder
as it arrives, on a worker thread, under the fine-tune size cap (both files together) and a
per-read idle timeout (a large upload may take minutes, but not minutes of silence). The first
bytes are sniffed: a GPT `.ckpt` is a zip (`PK`), a SoVITS `.pth` a zip or a zip whose `PK` was
replaced by a two-digit version code. A full disk is 507 and the caller deletes the folder.
"""

from __future__ import annotations

import asyncio
import errno
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Final

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from ...jobs.specs import CLIP_UPLOAD, GPT_UPLOAD, SOVITS_UPLOAD
from ...storage.slug import is_slug, slugify
from .errors import ApiError
from .uploads import LANGUAGE_RE, MAX_FIELD_BYTES, MAX_FORM_PARTS, check_display_name, check_slug, looks_like_audio

CHUNK_BYTES: Final = 256 * 1024
CHECKPOINT_PARTS: Final = {"gpt": GPT_UPLOAD, "sovits": SOVITS_UPLOAD}
TEXT_FIELDS: Final = frozenset({"model_id", "replace", "name", "text", "language", "consent", "style", "force"})
STORAGE_FULL_ERRNOS: Final = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


@dataclass(frozen=True, slots=True)
class FineTuneForm:
    """The checked fields of `POST /api/models/import` (the checkpoints are in the upload folder)."""

    model_id: str
    replace: bool
    enrollment: dict[str, Any] | None
    """`EnrollmentRequest` fields of the voice to enroll once the model is installed (with `clip`)."""
    clip: bytes | None


def _sniff(name: str, head: bytes) -> None:
    if name == "gpt" and head[:2] != b"PK":
        raise ApiError(415, "unsupported-media", "'gpt' is not a GPT-SoVITS GPT checkpoint (.ckpt, a torch zip file)")
    if name == "sovits" and head[:2] != b"PK" and not (len(head) >= 2 and head[:2].isdigit()):
        raise ApiError(415, "unsupported-media", "'sovits' is not a GPT-SoVITS SoVITS checkpoint (.pth)")


async def _next_chunk(part: BodyPartReader, idle_timeout_s: float) -> bytes:
    try:
        async with asyncio.timeout(idle_timeout_s):
            return bytes(await part.read_chunk(CHUNK_BYTES))
    except TimeoutError:
        raise ApiError(408, "timeout", f"the upload stalled for {idle_timeout_s:g} s") from None


async def _stream_to_file(part: BodyPartReader, path: Path, budget: list[int], limit_mb: float, idle_s: float) -> int:
    """Write the part to `path`; returns its size. `budget[0]` is what the checkpoints may still use."""
    loop = asyncio.get_running_loop()
    handle: BinaryIO = await loop.run_in_executor(None, path.open, "xb")
    size = 0
    head = b""
    try:
        while chunk := await _next_chunk(part, idle_s):
            if len(head) < 2:
                head += chunk[: 2 - len(head)]
                if len(head) == 2:
                    _sniff(part.name or "", head)
            size += len(chunk)
            budget[0] -= len(chunk)
            if budget[0] < 0:
                raise ApiError(413, "too-large", f"the checkpoints are larger than {limit_mb:g} MB together")
            await loop.run_in_executor(None, handle.write, chunk)
    except OSError as err:
        if err.errno in STORAGE_FULL_ERRNOS:
            raise ApiError(507, "insufficient-storage", "the data folder's disk is full; nothing was kept") from None
        raise ApiError(500, "storage-error", f"cannot write the upload: {err}") from None
    finally:
        await loop.run_in_executor(None, handle.close)
    if size < 2:
        raise ApiError(400, "bad-request", f"'{part.name}' is empty")
    return size


async def _read_small(part: BodyPartReader, limit: int, what: str, idle_s: float) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while chunk := await _next_chunk(part, idle_s):
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "too-large", f"{what} is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_fine_tune_form(
    request: web.Request, upload_dir: Path, *, max_checkpoint_bytes: int, max_clip_bytes: int, idle_timeout_s: float
) -> FineTuneForm:
    """Stream the checkpoints into `upload_dir` (as `gpt.ckpt`, `sovits.pth`, and the clip as `clip`)."""
    if request.content_type != "multipart/form-data":
        raise ApiError(415, "unsupported-media", "send the fine-tune as multipart/form-data")
    limit_mb = max_checkpoint_bytes / (1024 * 1024)
    if request.content_length is not None and request.content_length > max_checkpoint_bytes + max_clip_bytes + 65536:
        raise ApiError(413, "too-large", f"the checkpoints are larger than {limit_mb:g} MB together")
    budget = [max_checkpoint_bytes]
    fields: dict[str, str] = {}
    clip: bytes | None = None
    seen: set[str] = set()
    try:
        reader = await request.multipart()
        for _ in range(MAX_FORM_PARTS + 1):
            part = await reader.next()
            if part is None:
                break
            if not isinstance(part, BodyPartReader) or not part.name or part.name in seen:
                raise ApiError(400, "bad-request", "every form part must be named once, and not nested")
            seen.add(part.name)
            if part.name in CHECKPOINT_PARTS:
                await _stream_to_file(part, upload_dir / CHECKPOINT_PARTS[part.name], budget, limit_mb, idle_timeout_s)
            elif part.name == "audio":
                clip = await _read_small(part, max_clip_bytes, "the audio file", idle_timeout_s)
            else:
                raw = await _read_small(part, MAX_FIELD_BYTES, f"field '{part.name}'", idle_timeout_s)
                if part.name in TEXT_FIELDS:
                    fields[part.name] = raw.decode("utf-8", "replace")
        else:
            raise ApiError(413, "too-large", f"the form has more than {MAX_FORM_PARTS} parts")
    except (ValueError, HttpProcessingError) as err:
        detail = err.message if isinstance(err, HttpProcessingError) else str(err)
        raise ApiError(400, "bad-request", f"the multipart body is malformed ({detail[:200]})") from None
    missing = [name for name in CHECKPOINT_PARTS if name not in seen]
    if missing:
        raise ApiError(400, "bad-request", f"the fine-tune needs both checkpoints; missing: {', '.join(missing)}")
    form = _checked(fields, clip)
    if clip is not None:
        await asyncio.get_running_loop().run_in_executor(None, (upload_dir / CLIP_UPLOAD).write_bytes, clip)
    return form


def _checked(fields: dict[str, str], clip: bytes | None) -> FineTuneForm:
    name = fields.get("name", "").strip()
    model_id = fields.get("model_id", "").strip() or (f"{slugify(name)}-ft" if name else "")
    if not model_id or not is_slug(model_id):
        rule = "lower-case letters, digits and hyphens"
        raise ApiError(400, "bad-request", f"'model_id' (or a 'name' to make it from) must be {rule}")
    enrollment: dict[str, Any] | None = None
    if clip is not None:
        if not looks_like_audio(clip[:16]):
            raise ApiError(415, "unsupported-media", "the audio must be a WAV, FLAC, OGG or MP3 file")
        consent = fields.get("consent", "").strip()
        if not consent or consent.lower() in {"false", "0", "no", "off"}:
            raise ApiError(400, "bad-request", "consent is required to enroll the voice with its clip")
        language = fields.get("language", "").strip()
        if not LANGUAGE_RE.fullmatch(language):
            raise ApiError(400, "bad-request", "'language' must be a language code such as 'zh' or 'en'")
        enrollment = {
            "name": check_display_name(name),
            "text": fields.get("text", "").strip(),
            "language": language,
            "consent": consent,
            "style": check_slug(fields.get("style", "").strip() or "default", "'style'"),
            "force": fields.get("force", "").strip().lower() == "true",
        }
    return FineTuneForm(
        model_id=model_id,
        replace=fields.get("replace", "").strip().lower() == "true",
        enrollment=enrollment,
        clip=clip,
    )
