"""The model pool: engines loaded on demand, at most `max_loaded` kept (least recently used goes first).

Each key (e.g. "gpt-sovits:v2pro", "piper:/path/voice.onnx") has a fingerprint, a cheap stat() of
its files; when it changes on disk (a model re-converted or replaced) the next `get` reloads it.
Thread-safe: loading happens outside the pool lock, one loader per key, so a slow load of one model
does not block requests for another that is already loaded. A full pool unloads its least recently
used model before it loads the next, so a switch never holds one model more than the bound. An
evicted engine that a request is still using stays alive until that request ends (so memory can
briefly exceed the bound).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from ..engine import TtsEngine
from ..settings import DEFAULT_MAX_LOADED_MODELS

_LOGGER = logging.getLogger(__name__)

@dataclass(frozen=True, slots=True)
class LoadedModel:
    """What a loader returns: the engine that speaks, and the model object enrollment needs."""

    engine: TtsEngine
    model: Any = None
    """E.g. the GptSoVitsModel the prompt builder runs on; None for Piper voices."""


@dataclass(frozen=True, slots=True)
class _Slot:
    loaded: LoadedModel
    fingerprint: Hashable


Loader = Callable[[str], LoadedModel]
Fingerprint = Callable[[str], Hashable]


class ModelPool:
    """An LRU cache of loaded engines keyed by model key."""

    def __init__(
        self, loader: Loader, fingerprint: Fingerprint, max_loaded: int = DEFAULT_MAX_LOADED_MODELS
    ) -> None:
        if max_loaded < 1:
            raise ValueError("max_loaded_models must be at least 1")
        self._loader = loader
        self._fingerprint = fingerprint
        self.max_loaded = max_loaded
        self._slots: OrderedDict[str, _Slot] = OrderedDict()
        self._lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}
        self.loads = 0
        """How many times a loader ran (for tests and metrics)."""

    def get(self, key: str) -> LoadedModel:
        """The loaded model for `key`, loading (or reloading after a change on disk) as needed.

        Loader errors (e.g. ModelLoadError) propagate; the failed key is not cached.
        """
        fingerprint = self._fingerprint(key)
        with self._lock:
            slot = self._slots.get(key)
            if slot is not None and slot.fingerprint == fingerprint:
                self._slots.move_to_end(key)
                return slot.loaded
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:  # another thread may have loaded it while we waited
                slot = self._slots.get(key)
                if slot is not None and slot.fingerprint == fingerprint:
                    self._slots.move_to_end(key)
                    return slot.loaded
                if slot is not None:
                    _LOGGER.info("model %s changed on disk; reloading", key)
                    del self._slots[key]
                self._make_room(self.max_loaded - 1)  # before loading: never max_loaded + 1 models at once
            started = time.monotonic()
            loaded = self._loader(key)
            self.loads += 1
            _LOGGER.info("loaded model %s in %.0f ms", key, 1000 * (time.monotonic() - started))
            with self._lock:
                self._slots[key] = _Slot(loaded, fingerprint)
                self._slots.move_to_end(key)
                self._make_room(self.max_loaded)  # another key may have loaded meanwhile
            return loaded

    def _make_room(self, keep: int) -> None:
        """Unload the least recently used models until at most `keep` remain (the pool lock is held)."""
        while len(self._slots) > keep:
            evicted, _ = self._slots.popitem(last=False)
            _LOGGER.info("unloaded model %s (keeping at most %d)", evicted, self.max_loaded)

    def loaded_keys(self) -> list[str]:
        """Keys in memory, least recently used first."""
        with self._lock:
            return list(self._slots)

    def loaded_models(self) -> int:
        """How many models are in memory."""
        with self._lock:
            return len(self._slots)

    def evict(self, key: str) -> None:
        """Drop one model (e.g. after its files were removed)."""
        with self._lock:
            self._slots.pop(key, None)

    def clear(self) -> None:
        """Drop every model."""
        with self._lock:
            self._slots.clear()
