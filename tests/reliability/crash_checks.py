"""What a data folder must look like after a crash, checked the way a restarted server sees it.

`check_data_dir` opens a fresh library (whose first scan runs the same recovery a restarted
server runs), then checks: no pack skipped, no staging/aside/deleting leftovers, every model
folder complete (manifest present, every file's sha256 as recorded), and every cache entry a
whole WAV (header sizes agree with the bytes on disk; parsed here, independently of the
cache's own reader).
"""

from __future__ import annotations

import struct
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

TERABYTE: Final = 1 << 40
_ALLOWED_DOT_ENTRIES: Final = frozenset({".lock"})


@dataclass
class DiskState:
    """What survived, and what is wrong with it."""

    voices: dict[str, str] = field(default_factory=dict)
    """Enrolled (non-built-in) voice id -> revision."""
    models: list[str] = field(default_factory=list)
    cache_entries: int = 0
    cache_bytes: int = 0
    problems: list[str] = field(default_factory=list)


def wav_problem(path: Path) -> str | None:
    """None when `path` is a complete PCM WAV whose header agrees with its length."""
    data = path.read_bytes()
    if len(data) < 44 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return f"{path.name}: not a WAV file ({len(data)} bytes)"
    (riff_size,) = struct.unpack_from("<I", data, 4)
    if riff_size + 8 != len(data):
        return f"{path.name}: RIFF says {riff_size + 8} bytes, the file has {len(data)}"
    offset = 12
    while offset + 8 <= len(data):
        chunk_id, size = data[offset : offset + 4], struct.unpack_from("<I", data, offset + 4)[0]
        if chunk_id == b"data":
            present = len(data) - offset - 8
            if size != present or size == 0:
                return f"{path.name}: data chunk says {size} bytes, {present} present"
            return None
        offset += 8 + size + (size & 1)
    return f"{path.name}: no data chunk"


def _leftovers(folder: Path) -> list[str]:
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") and p.name not in _ALLOWED_DOT_ENTRIES)


def check_models(models_dir: Path, state: DiskState) -> None:
    """Every model folder loads with its file hashes verified."""
    from wyoming_server.engine.errors import ModelLoadError
    from wyoming_server.engine.gpt_sovits.model import GptSoVitsModel
    from wyoming_server.engine.gpt_sovits.shared_files import SHARED_FOLDER

    if not models_dir.is_dir():
        return
    for folder in sorted(p for p in models_dir.iterdir() if not p.name.startswith(".") and p.name != SHARED_FOLDER):
        try:
            GptSoVitsModel.load(folder, verify_hashes=True)
        except ModelLoadError as err:
            state.problems.append(f"model {folder.name} is not complete: {err}")
            continue
        state.models.append(folder.name)


def check_cache(cache_dir: Path, state: DiskState) -> None:
    """Open the cache as the server does (it clears its temp files), then check every entry."""
    from wyoming_server.server.cache import AudioCache

    if not cache_dir.is_dir():
        return
    AudioCache(cache_dir, TERABYTE)
    temp = cache_dir / ".tmp"
    if temp.is_dir() and any(temp.iterdir()):
        state.problems.append(
            f"cache temp files left after opening the cache: {sorted(p.name for p in temp.iterdir())}"
        )
    for path in sorted(cache_dir.glob("??/*.wav")):
        problem = wav_problem(path)
        if problem is not None:
            state.problems.append(f"cache entry {problem}")
        state.cache_entries += 1
        state.cache_bytes += path.stat().st_size


def check_data_dir(data_dir: Path) -> DiskState:
    """The state a restarted server would find, with every problem named."""
    from wyoming_server.voices.folder_library import open_library

    state = DiskState()
    library = open_library(data_dir, max_loaded_models=1, threads=1)
    for pack in library.voices():
        if not pack.builtin and pack.kind == "gpt-sovits":
            state.voices[pack.id] = pack.revision
    state.problems.extend(f"skipped {item.path}: {item.reason}" for item in library.skipped())
    for sub in ("voices", "models"):
        if leftovers := _leftovers(data_dir / sub):
            state.problems.append(f"{sub}/ has leftovers after recovery: {leftovers}")
    check_models(data_dir / "models", state)
    check_cache(data_dir / "cache", state)
    return state


@dataclass
class CrashReport:
    """What the run did and found."""

    server_kills: int = 0
    conversion_kills: int = 0
    in_flight: Counter[str] = field(default_factory=Counter)
    """Kills that landed while an operation of this kind was under way."""
    completed: Counter[str] = field(default_factory=Counter)
    """Operations that finished before their kill (or in calibration runs)."""
    restarts: int = 0
    replays: int = 0
    """Replies to texts spoken before a kill, checked against audio synthesized alone."""
    replay_cache_hits: float = 0.0
    problems: dict[str, str] = field(default_factory=dict)
    """Each distinct problem -> the first moment it was seen."""
    last_state: DiskState | None = None

    def summary(self) -> str:
        """The figures, one per line."""
        state = self.last_state or DiskState()
        return "\n".join(
            [
                f"kills: {self.server_kills} of the server, {self.conversion_kills} of the converting CLI; "
                f"{self.restarts} server starts, every one came up",
                "kills that landed during: " + ", ".join(f"{k} {v}" for k, v in sorted(self.in_flight.items())),
                "operations completed: " + ", ".join(f"{k} {v}" for k, v in sorted(self.completed.items())),
                f"replies to earlier texts after a restart: {self.replays} checked "
                f"({self.replay_cache_hits:.0f} from the cache)",
                f"at the end: {len(state.voices)} enrolled voices, models {state.models}, "
                f"{state.cache_entries} cache entries ({state.cache_bytes / 1e6:.1f} MB), all whole",
                f"problems: {len(self.problems)}",
                *(f"PROBLEM ({context}): {problem}" for problem, context in self.problems.items()),
            ]
        )
