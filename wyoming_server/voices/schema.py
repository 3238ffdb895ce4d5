"""`voice.json`: the versioned document of a voice pack, its validation and its revision hash.

The format is documented for people in `voices/README.md`; this module is its single source of
truth in code. Reading never trusts the folder: every listed file must exist with its recorded size
and sha256, and every prompt must load as a `VoicePrompt`.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np

from ..engine import VoicePrompt
from ..engine.errors import VoicePackError
from ..storage.slug import is_slug
from .pack import PACK_SCHEMA_VERSION, ConsentRecord, VoicePack, VoiceStyle

VOICE_JSON: Final = "voice.json"
ENROLLED_ATTRIBUTION: Final = "enrolled locally"
MAX_VOICE_JSON_BYTES: Final = 1 << 20
"""A voice.json larger than this is not ours (guards the scan against a stray huge file)."""


def reference_file_name(style: str, default_style: str) -> str:
    """`reference.wav` for the default style, `reference-<style>.wav` for the others."""
    return "reference.wav" if style == default_style else f"reference-{style}.wav"


def prompt_file_name(style: str, default_style: str) -> str:
    """`prompt.npz` for the default style, `prompt-<style>.npz` for the others."""
    return "prompt.npz" if style == default_style else f"prompt-{style}.npz"


def sha256_bytes(data: bytes) -> str:
    """Hex sha256."""
    return hashlib.sha256(data).hexdigest()


def sha256_path(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def compute_revision(document: dict[str, Any]) -> str:
    """Hash of everything in the document but `revision` (the file hashes included), 16 hex digits."""
    body = {k: v for k, v in document.items() if k != "revision"}
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return sha256_bytes(canonical.encode("utf-8"))[:16]


@dataclass(frozen=True, slots=True)
class PackDocument:
    """A parsed voice.json plus the pack it describes (files not yet checked)."""

    pack: VoicePack
    files: dict[str, dict[str, Any]]
    """file name -> {"sha256": ..., "bytes": ...}"""
    raw: dict[str, Any]


def build_document(
    *,
    voice_id: str,
    name: str,
    languages: list[str],
    model_id: str,
    styles: dict[str, VoiceStyle],
    default_style: str,
    created: str,
    consent: ConsentRecord | None,
    files: dict[str, bytes | dict[str, Any]],
) -> dict[str, Any]:
    """The voice.json content for a pack whose files are `files` (contents, or known hash records)."""
    records: dict[str, dict[str, Any]] = {}
    for file_name, content in sorted(files.items()):
        if isinstance(content, bytes):
            records[file_name] = {"sha256": sha256_bytes(content), "bytes": len(content)}
        else:
            records[file_name] = {"sha256": str(content["sha256"]), "bytes": int(content["bytes"])}
    document: dict[str, Any] = {
        "schema": PACK_SCHEMA_VERSION,
        "id": voice_id,
        "name": name,
        "languages": languages,
        "kind": "gpt-sovits",
        "model_id": model_id,
        "default_style": default_style,
        "styles": {style_name: style.to_dict() for style_name, style in styles.items()},
        "created": created,
        "consent": consent.to_dict() if consent else None,
        "attribution": ENROLLED_ATTRIBUTION,
        "files": records,
    }
    document["revision"] = compute_revision(document)
    return document


def encode_document(document: dict[str, Any]) -> bytes:
    """voice.json bytes (UTF-8, indented, so a person can read it)."""
    return (json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode("utf-8")


def parse_document(data: bytes, folder_name: str) -> PackDocument:
    """Parse and check voice.json's structure; VoicePackError says what is wrong."""
    if len(data) > MAX_VOICE_JSON_BYTES:
        raise VoicePackError(f"{VOICE_JSON} is larger than {MAX_VOICE_JSON_BYTES} bytes")
    try:
        raw = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise VoicePackError(f"{VOICE_JSON} is not valid JSON: {err}") from err
    if not isinstance(raw, dict):
        raise VoicePackError(f"{VOICE_JSON} is not a JSON object")
    schema = raw.get("schema")
    if not isinstance(schema, int):
        raise VoicePackError(f"{VOICE_JSON} has no schema version")
    if schema > PACK_SCHEMA_VERSION:
        raise VoicePackError(
            f"written by a newer edge-tts-clone (schema {schema}, this one reads "
            f"{PACK_SCHEMA_VERSION}); upgrade"
        )
    if schema < 1:
        raise VoicePackError(f"unknown schema version {schema}")
    try:
        voice_id = str(raw["id"])
        styles_raw = raw["styles"]
        if not isinstance(styles_raw, dict) or not styles_raw:
            raise VoicePackError("the pack has no styles")
        styles = {str(k): VoiceStyle.from_dict({**v, "name": k}) for k, v in styles_raw.items()}
        consent_raw = raw.get("consent")
        files = raw["files"]
        if not isinstance(files, dict):
            raise VoicePackError("'files' must be an object")
        languages = raw["languages"]
        if not isinstance(languages, list) or not languages:
            raise VoicePackError("'languages' must be a non-empty list")
        pack = VoicePack(
            id=voice_id,
            name=str(raw["name"]),
            languages=[str(language) for language in languages],
            kind="gpt-sovits",
            model_id=str(raw["model_id"]),
            styles=styles,
            default_style=str(raw["default_style"]),
            revision=compute_revision(raw),
            created=str(raw.get("created", "")),
            consent=ConsentRecord.from_dict(consent_raw) if isinstance(consent_raw, dict) else None,
            attribution=str(raw.get("attribution", ENROLLED_ATTRIBUTION)),
        )
    except KeyError as err:
        raise VoicePackError(f"{VOICE_JSON} lacks the field {err.args[0]!r}") from err
    except (TypeError, ValueError, AttributeError) as err:
        raise VoicePackError(f"{VOICE_JSON} is malformed: {err}") from err
    if raw.get("kind") != "gpt-sovits":
        raise VoicePackError(f"unknown pack kind {raw.get('kind')!r}")
    if voice_id != folder_name:
        raise VoicePackError(f"its id {voice_id!r} does not match the folder name {folder_name!r}")
    if not is_slug(voice_id):
        raise VoicePackError(f"id {voice_id!r} is not a slug (a-z, 0-9, inner hyphens)")
    if not pack.name.strip():
        raise VoicePackError("the display name is empty")
    if not is_slug(pack.model_id):
        raise VoicePackError(f"model id {pack.model_id!r} is not a slug")
    if pack.default_style not in styles:
        raise VoicePackError(f"default style {pack.default_style!r} is not one of its styles")
    for style in styles.values():
        if not is_slug(style.name):
            raise VoicePackError(f"style name {style.name!r} is not a slug")
        for file_name in (style.reference_file, style.prompt_file):
            if file_name not in files:
                raise VoicePackError(
                    f"style {style.name!r} refers to {file_name!r}, which 'files' does not list"
                )
    for file_name in files:
        if "/" in file_name or "\\" in file_name or file_name.startswith(".") or file_name == VOICE_JSON:
            raise VoicePackError(f"bad file name {file_name!r} in 'files'")
    return PackDocument(pack=pack, files={k: dict(v) for k, v in files.items()}, raw=raw)


def verify_files(folder: Path, files: dict[str, dict[str, Any]]) -> None:
    """Every listed file exists with its recorded size and sha256 (VoicePackError otherwise)."""
    for file_name, record in files.items():
        path = folder / file_name
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise VoicePackError(f"file {file_name} is missing") from None
        if size != int(record.get("bytes", -1)):
            raise VoicePackError(f"file {file_name} has {size} bytes, voice.json says {record.get('bytes')}")
        if sha256_path(path) != record.get("sha256"):
            raise VoicePackError(f"file {file_name} does not match its sha256 (corrupt or edited)")


def encode_prompt(prompt: VoicePrompt) -> bytes:
    """prompt.npz bytes (uncompressed npz; no pickled objects)."""
    buffer = io.BytesIO()
    np.savez(buffer, **prompt.to_npz_dict())  # type: ignore[arg-type]  # numpy's stub wants positional arrays
    return buffer.getvalue()


def decode_prompt(data: bytes) -> VoicePrompt:
    """Load and sanity-check prompt.npz bytes (VoicePackError for anything unusable)."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as err:
        raise VoicePackError(f"prompt tensors cannot be read: {err}") from err
    prompt = VoicePrompt.from_npz_dict(arrays)
    if prompt.phones.ndim != 1 or prompt.semantic.ndim != 1:
        raise VoicePackError("prompt phones and semantic tokens must be 1-D")
    if prompt.ge.ndim != 3:
        raise VoicePackError(f"prompt speaker embedding must be 3-D (1, C, 1), not {prompt.ge.shape}")
    if not np.all(np.isfinite(prompt.ge)) or not np.all(np.isfinite(prompt.bert)):
        raise VoicePackError("prompt tensors contain NaN or infinity")
    return prompt
