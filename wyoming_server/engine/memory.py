"""Give freed heap memory back to the operating system after a large load.

glibc's malloc raises its mmap threshold after the first large buffer is freed, so later large
transient buffers (building the text frontend's tables, reading a graph) come from the heap, and
freeing them leaves the heap's pages resident. `trim_heap` asks glibc to return them
(`malloc_trim(0)`); elsewhere (musl, macOS) it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import threading
from collections.abc import Callable

_LOGGER = logging.getLogger(__name__)

_lock = threading.Lock()
_trim: Callable[[int], int] | None = None
_looked_up = False


def _malloc_trim() -> Callable[[int], int] | None:
    global _trim, _looked_up
    with _lock:
        if not _looked_up:
            _looked_up = True
            name = ctypes.util.find_library("c")
            try:
                _trim = ctypes.CDLL(name).malloc_trim if name else None
            except (OSError, AttributeError):
                _trim = None
        return _trim


def trim_heap() -> bool:
    """Return free heap pages to the OS (glibc only); True when glibc released something."""
    trim = _malloc_trim()
    if trim is None:
        return False
    released = bool(trim(0))
    _LOGGER.debug("malloc_trim released memory: %s", released)
    return released
