"""On-disk LRU cache of synthesized audio, so a repeated announcement never touches the engine.

Entries are plain WAV files (s16le mono) named by a hash of everything that shapes the audio:
voice id and revision, model, style, text and options. Writes are atomic (temp file, fsync,
rename), so a crash leaves either a whole entry or none; a read checks the WAV header against
the file length anyway and drops an entry that does not add up rather than serve it. The total
size is bounded; the least recently used entries go first, and file modification times record
use so the order survives a restart. All methods block (disk): call them from a worker thread.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import tempfile
import threading
import wave
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

_LOGGER = logging.getLogger(__name__)

CACHE_FORMAT_VERSION: Final = 2
"""Part of every key: bump it when the meaning of cached audio changes (2: Chinese read by context)."""
ENTRY_SUFFIX: Final = ".wav"
_TEMP_DIR: Final = ".tmp"
_WIDTH_BYTES: Final = 2


@dataclass(frozen=True, slots=True)
class CachedAudio:
    """A whole reply's audio."""

    pcm: bytes
    """s16le mono samples."""
    rate_hz: int
    """Hertz"""


def cache_key(
    *, voice_id: str, revision: str, model_id: str, style: str, text: str, options: dict[str, Any]
) -> str:
    """Hex digest naming the audio these inputs produce."""
    material = {
        "format": CACHE_FORMAT_VERSION,
        "voice": voice_id,
        "revision": revision,
        "model": model_id,
        "style": style,
        "text": text,
        "options": options,
    }
    encoded = json.dumps(material, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return hashlib.sha256(encoded).hexdigest()


def _encode_wav(audio: CachedAudio) -> bytes:
    with io.BytesIO() as buffer:
        with wave.open(buffer, "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(_WIDTH_BYTES)
            wav.setframerate(audio.rate_hz)
            wav.writeframes(audio.pcm)
        return buffer.getvalue()


def _decode_wav(blob: bytes) -> CachedAudio | None:
    """The audio, or None when the file is not a complete entry of ours."""
    try:
        with wave.open(io.BytesIO(blob), "rb") as wav:
            if wav.getnchannels() != 1 or wav.getsampwidth() != _WIDTH_BYTES or wav.getcomptype() != "NONE":
                return None
            frames = wav.getnframes()
            pcm = wav.readframes(frames)
            rate = wav.getframerate()
    except (wave.Error, EOFError, ValueError):
        return None
    if frames == 0 or len(pcm) != frames * _WIDTH_BYTES:
        return None
    return CachedAudio(pcm=pcm, rate_hz=rate)


class AudioCache:
    """Size-bounded LRU of `CachedAudio` in a folder."""

    def __init__(self, directory: Path, max_bytes: int) -> None:
        if max_bytes < 1:
            raise ValueError("a cache needs a positive size bound")
        self.directory = directory
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, int] = OrderedDict()
        """key -> file size, least recently used first."""
        self._total_bytes = 0
        self._scan()

    @property
    def total_bytes(self) -> int:
        """Bytes the entries take on disk."""
        return self._total_bytes

    def __len__(self) -> int:
        return len(self._entries)

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}{ENTRY_SUFFIX}"

    def _scan(self) -> None:
        """Index what is on disk; remove temp files a crash left behind."""
        temp_dir = self.directory / _TEMP_DIR
        temp_dir.mkdir(parents=True, exist_ok=True)
        for leftover in temp_dir.iterdir():
            with contextlib.suppress(OSError):
                leftover.unlink()
        found: list[tuple[float, str, int]] = []
        for path in self.directory.glob(f"??/*{ENTRY_SUFFIX}"):
            try:
                stat = path.stat()
            except OSError:
                continue
            found.append((stat.st_mtime, path.stem, stat.st_size))
        for _mtime, key, size in sorted(found):
            self._entries[key] = size
            self._total_bytes += size
        self._evict()
        _LOGGER.info(
            "Audio cache: %d entries, %.1f MB in %s",
            len(self._entries),
            self._total_bytes / 1e6,
            self.directory,
        )

    def load(self, key: str) -> CachedAudio | None:
        """The cached audio for `key`, or None (missing, or dropped because it was damaged)."""
        with self._lock:
            if key not in self._entries:
                return None
            path = self._path(key)
            try:
                blob = path.read_bytes()
            except OSError:
                self._forget(key)
                return None
            audio = _decode_wav(blob)
            if audio is None:
                _LOGGER.warning("Dropping damaged cache entry %s", path)
                self._forget(key)
                return None
            self._entries.move_to_end(key)
            with contextlib.suppress(OSError):
                os.utime(path)  # records use, so the LRU order survives a restart
            return audio

    def store(self, key: str, audio: CachedAudio) -> bool:
        """Add an entry atomically; False when it was not stored (too big, disk error)."""
        blob = _encode_wav(audio)
        if len(blob) > self.max_bytes:
            return False
        path = self._path(key)
        temp_dir = self.directory / _TEMP_DIR
        with self._lock:
            temp_name: str | None = None
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                temp_dir.mkdir(parents=True, exist_ok=True)
                handle, temp_name = tempfile.mkstemp(dir=temp_dir, suffix=".part")
                with os.fdopen(handle, "wb") as temp_file:
                    temp_file.write(blob)
                    temp_file.flush()
                    os.fsync(temp_file.fileno())
                os.replace(temp_name, path)
                temp_name = None
            except OSError as err:
                _LOGGER.warning("Could not write cache entry %s: %s", path, err)
                return False
            finally:
                if temp_name is not None:
                    with contextlib.suppress(OSError):
                        os.unlink(temp_name)
            self._total_bytes -= self._entries.pop(key, 0)
            self._entries[key] = len(blob)
            self._total_bytes += len(blob)
            self._evict()
            return True

    def clear(self) -> None:
        """Remove every entry."""
        with self._lock:
            for key in list(self._entries):
                self._forget(key)

    def _forget(self, key: str) -> None:
        self._total_bytes -= self._entries.pop(key, 0)
        with contextlib.suppress(OSError):
            self._path(key).unlink()

    def _evict(self) -> None:
        while self._total_bytes > self.max_bytes and self._entries:
            oldest = next(iter(self._entries))
            self._forget(oldest)
