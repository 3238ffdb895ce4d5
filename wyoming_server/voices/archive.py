"""Export a voice pack (optionally with its model) to one `.voicepack` file, and import it elsewhere.

The file is a zip: `voicepack.json` (format, voice id, name, model id, and the size + sha256 of every
other member) plus `voice/<pack files>` and, with `--with-model`, `model/<model files>`. Import
checks every member against those checksums while extracting into a staging folder; anything wrong
(corrupt, truncated, unexpected or unsafe member names) is a clear error and nothing is installed.
Then the model and the pack are swapped in atomically, like any other write.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from ..engine.gpt_sovits.shared_files import place_shared_file, shared_files_of
from ..storage import atomic
from ..storage.slug import unique_slug
from .pack import VoicePack
from .registry import VoiceRegistry
from .schema import VOICE_JSON, PackDocument, build_document, parse_document, sha256_path, verify_files

ARCHIVE_FORMAT: Final = "edge-tts-clone-voicepack"
ARCHIVE_VERSION: Final = 1
MANIFEST_MEMBER: Final = "voicepack.json"
MAX_MEMBERS: Final = 500
MAX_TOTAL_BYTES: Final = 8 << 30
"""Refuse archives that would unpack to more than 8 GiB (a zip bomb, or not ours)."""
_MEMBER_NAME: Final = re.compile(
    r"^(voice|model|shared)/(?:[A-Za-z0-9_][A-Za-z0-9._-]*/)*[A-Za-z0-9_][A-Za-z0-9._-]*$"
)


class ArchiveError(ValueError):
    """The file is not a usable voice-pack archive; nothing was installed."""


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What `import_pack` installed."""

    pack: VoicePack
    original_id: str
    model_id: str
    model_installed: bool
    """True when the archive's model was installed (False: reused or not included)."""
    warnings: list[str] = field(default_factory=list)


def export_pack(registry: VoiceRegistry, voice_id: str, output: Path, *, with_model: bool = False) -> Path:
    """Write `voice_id` (and its model) into `output` atomically; returns `output`."""
    entry = registry.entry(voice_id)
    if entry.folder is None:
        raise ArchiveError(f"{voice_id!r} is a Piper voice; copy its .onnx and .onnx.json files instead")
    members: dict[str, Path] = {}
    with atomic.FolderLock(registry.voices_dir, exclusive=False):
        document = parse_document((entry.folder / VOICE_JSON).read_bytes(), voice_id)
        verify_files(entry.folder, document.files)
        members[f"voice/{VOICE_JSON}"] = entry.folder / VOICE_JSON
        members.update({f"voice/{name}": entry.folder / name for name in document.files})
        if with_model and entry.model_dir is not None:
            for path in sorted(entry.model_dir.rglob("*")):
                if path.is_file():
                    members[f"model/{path.relative_to(entry.model_dir).as_posix()}"] = path
            for name, path in shared_files_of(entry.model_dir).items():  # HuBERT lives beside the model
                if not path.is_file():
                    raise ArchiveError(f"model {entry.model_dir.name} needs {path}, which is missing")
                members[f"shared/{name}"] = path
        manifest = {
            "format": ARCHIVE_FORMAT,
            "version": ARCHIVE_VERSION,
            "voice_id": voice_id,
            "name": document.pack.name,
            "model_id": document.pack.model_id,
            "with_model": with_model,
            "files": {
                name: {"sha256": sha256_path(path), "bytes": path.stat().st_size}
                for name, path in members.items()
            },
        }
        temp = output.with_name(f".{output.name}.{secrets.token_hex(4)}.tmp")
        try:
            with zipfile.ZipFile(temp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
                archive.writestr(MANIFEST_MEMBER, json.dumps(manifest, indent=2, ensure_ascii=False))
                for name, path in members.items():
                    archive.write(path, name)
            with temp.open("rb") as f:
                os.fsync(f.fileno())
            temp.replace(output)
        finally:
            temp.unlink(missing_ok=True)
    return output


def _read_manifest(archive: zipfile.ZipFile) -> dict[str, Any]:
    try:
        manifest = json.loads(archive.read(MANIFEST_MEMBER).decode("utf-8"))
    except KeyError:
        raise ArchiveError(f"not a voice pack archive ({MANIFEST_MEMBER} is missing)") from None
    except (ValueError, UnicodeDecodeError) as err:
        raise ArchiveError(f"{MANIFEST_MEMBER} is not valid JSON: {err}") from err
    if not isinstance(manifest, dict) or manifest.get("format") != ARCHIVE_FORMAT:
        raise ArchiveError("not an edge-tts-clone voice pack archive")
    if manifest.get("version") != ARCHIVE_VERSION:
        raise ArchiveError(f"archive version {manifest.get('version')!r} is not supported (expected 1)")
    files = manifest.get("files")
    if not isinstance(files, dict) or f"voice/{VOICE_JSON}" not in files:
        raise ArchiveError("the archive lists no voice.json")
    members = {info.filename for info in archive.infolist() if not info.is_dir()} - {MANIFEST_MEMBER}
    if members != set(files):
        extra, missing = sorted(members - set(files)), sorted(set(files) - members)
        raise ArchiveError(f"archive members do not match its manifest (unlisted {extra}, missing {missing})")
    if len(files) > MAX_MEMBERS:
        raise ArchiveError(f"the archive has {len(files)} files; a voice pack has far fewer")
    for name, record in files.items():
        if not _MEMBER_NAME.match(name) or ".." in name.split("/"):
            raise ArchiveError(f"unsafe file name {name!r} in the archive")
        if (
            not isinstance(record, dict)
            or not isinstance(record.get("bytes"), int)
            or not record.get("sha256")
        ):
            raise ArchiveError(f"no checksum for {name!r} in the archive's manifest")
        if archive.getinfo(name).file_size != record["bytes"]:
            raise ArchiveError(
                f"{name} is {archive.getinfo(name).file_size} bytes, the manifest says {record['bytes']}"
            )
    if sum(int(r["bytes"]) for r in files.values()) > MAX_TOTAL_BYTES:
        raise ArchiveError("the archive would unpack to more than 8 GiB")
    return manifest


def _extract_verified(
    archive: zipfile.ZipFile, manifest: dict[str, Any], destinations: dict[str, Path]
) -> None:
    """Unpack members (`voice/...` and `model/...` into their destination folders), checking sha256."""
    for name, record in manifest["files"].items():
        prefix, _, relative = name.partition("/")
        target = destinations[prefix] / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        try:
            with archive.open(name) as source, target.open("xb") as sink:
                while block := source.read(1 << 20):
                    digest.update(block)
                    sink.write(block)
                sink.flush()
                os.fsync(sink.fileno())
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as err:
            raise ArchiveError(f"{name} cannot be read from the archive (corrupt): {err}") from err
        if digest.hexdigest() != record["sha256"]:
            raise ArchiveError(f"{name} does not match its checksum: the archive is corrupt")


def import_pack(registry: VoiceRegistry, source: Path, *, replace: bool = False) -> ImportResult:
    """Verify and install a `.voicepack`; a clashing id gets a new one unless `replace`."""
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as err:
        raise ArchiveError(
            f"{source} is not a voice pack archive (corrupt or another kind of file): {err}"
        ) from err
    # Each part is unpacked next to where it will live, so installing it is a rename.
    with (
        atomic.StagingFolder(registry.voices_dir, "import") as voice_staging_folder,
        atomic.StagingFolder(registry.models_dir, "import") as model_staging_folder,
    ):
        voice_staging, model_staging = voice_staging_folder.path, model_staging_folder.path
        with archive:
            manifest = _read_manifest(archive)
            _extract_verified(archive, manifest, {
                "voice": voice_staging, "model": model_staging / "model", "shared": model_staging / "shared"
            })
        original_id = str(manifest["voice_id"])
        try:
            document = parse_document((voice_staging / VOICE_JSON).read_bytes(), original_id)
            verify_files(voice_staging, document.files)
        except Exception as err:  # VoicePackError or OSError: either way the archive's pack is unusable
            raise ArchiveError(f"the archive's voice pack is invalid: {err}") from err
        warnings: list[str] = []
        model_id, installed = _install_model(
            registry, model_staging / "model", document.pack.model_id, warnings
        )
        for shared in sorted((model_staging / "shared").glob("*")):  # checked against the archive's sha256
            place_shared_file(shared, registry.models_dir)
        pack = _install_pack(registry, voice_staging, document, model_id, replace)
        if pack.id != original_id:
            warnings.append(f"a voice {original_id!r} already exists; imported as {pack.id!r}")
        return ImportResult(pack, original_id, model_id, installed, warnings)


def _install_model(
    registry: VoiceRegistry, staged: Path, model_id: str, warnings: list[str]
) -> tuple[str, bool]:
    """Install the archive's model (or reuse an identical one); returns (model id, installed?)."""
    models_dir = registry.models_dir
    if not staged.is_dir():
        if model_id not in registry.installed_models():
            warnings.append(
                f"the archive has no model and model {model_id!r} is not installed; the voice "
                "is listed as skipped until it is (models download, or export --with-model)"
            )
        return model_id, False
    manifest = staged / "manifest.json"
    if not manifest.is_file():
        raise ArchiveError("the archive's model has no manifest.json")
    models_dir.mkdir(parents=True, exist_ok=True)
    with atomic.FolderLock(models_dir, exclusive=True):
        # The same model may already be here under the id an earlier import gave it (v2pro-2).
        wanted = sha256_path(manifest)
        for candidate in [model_id, *(m for m in registry.installed_models() if m != model_id)]:
            existing = models_dir / candidate / "manifest.json"
            if existing.is_file() and sha256_path(existing) == wanted:
                return candidate, False
        if (models_dir / model_id).exists():
            taken = {p.name for p in models_dir.iterdir()}
            new_id = unique_slug(model_id, taken)
            warnings.append(
                f"a different model {model_id!r} is installed; the archive's model became {new_id!r}"
            )
            model_id = new_id
        atomic.commit_folder(staged, models_dir / model_id)
    return model_id, True


def _install_pack(
    registry: VoiceRegistry, staged: Path, document: PackDocument, model_id: str, replace: bool
) -> VoicePack:
    pack = document.pack

    def compose(
        voice_id: str, current: PackDocument | None
    ) -> tuple[dict[str, Any], dict[str, bytes], dict[str, Path]]:
        rebuilt = build_document(
            voice_id=voice_id,
            name=pack.name,
            languages=pack.languages,
            model_id=model_id,
            styles=pack.styles,
            default_style=pack.default_style,
            created=pack.created,
            consent=pack.consent,
            files=dict(document.files),
        )
        return rebuilt, {}, {name: staged / name for name in document.files}

    if replace:
        return registry.commit_pack(compose, voice_id=pack.id)
    return registry.commit_pack(compose, name=pack.id)
