"""Keep glibc's heap from holding on to large freed buffers (Linux/glibc only; elsewhere a no-op).

glibc's malloc raises its mmap threshold each time a large mmapped buffer is freed (up to 32 MB),
so later large buffers come from the heap, and the heap keeps their pages after they are freed.
The SoVITS decoder allocates and frees hundreds of 3-12 MB activations per sentence, so the heap
grew far beyond what was alive at any moment. Two remedies:

- `use_mmap_for_large_buffers` fixes the threshold at `MMAP_THRESHOLD_BYTES`: larger buffers are
  mapped and unmapped every time, which halves the decoder's peak for a few percent of its time
  (docs/decisions.md, "Memory").
- `trim_heap` returns free heap pages after a large one-off load (`malloc_trim(0)`).

And one for loading: `own_mappings_while_loading` lowers the threshold while a model's sessions are
created and warmed up, so its weights and prepacked copies get mappings of their own. Unloading it
then unmaps them whole instead of leaving holes between the next model's allocations in the heap
(docs/performance.md, "Switching between people").
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

_LOGGER = logging.getLogger(__name__)

M_MMAP_THRESHOLD: Final = -3
"""glibc's mallopt() parameter number."""
MMAP_THRESHOLD_BYTES: Final = 4 << 20
"""Buffers from 4 MB up are mapped and unmapped each time: the balance of memory saved and decoder time."""

LOAD_MMAP_THRESHOLD_BYTES: Final = 64 << 10
"""While a model loads, buffers from 64 kB up (every weight matrix) are mapped on their own."""

_lock = threading.Lock()
_loads_in_progress = 0
_libc: ctypes.CDLL | None = None
_looked_up = False
_mmap_threshold_set = False


def _glibc() -> ctypes.CDLL | None:
    global _libc, _looked_up
    with _lock:
        if not _looked_up:
            _looked_up = True
            name = ctypes.util.find_library("c")
            try:
                libc = ctypes.CDLL(name) if name else None
                _libc = libc if libc is not None and hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None
            except OSError:
                _libc = None
        return _libc


def trim_heap() -> bool:
    """Return free heap pages to the OS (glibc only); True when glibc released something."""
    libc = _glibc()
    if libc is None:
        return False
    released = bool(libc.malloc_trim(0))
    _LOGGER.debug("malloc_trim released memory: %s", released)
    return released


def use_mmap_for_large_buffers(threshold_bytes: int = MMAP_THRESHOLD_BYTES) -> bool:
    """Fix glibc's mmap threshold for this process (once); True when it is set."""
    global _mmap_threshold_set
    libc = _glibc()
    if libc is None:
        return False
    with _lock:
        if not _mmap_threshold_set:
            _mmap_threshold_set = bool(libc.mallopt(M_MMAP_THRESHOLD, threshold_bytes))
            _LOGGER.debug("glibc mmap threshold fixed at %d bytes: %s", threshold_bytes, _mmap_threshold_set)
        return _mmap_threshold_set


@contextmanager
def own_mappings_while_loading() -> Iterator[None]:
    """Within: allocations of `LOAD_MMAP_THRESHOLD_BYTES` and up are mapped; after: the speaking threshold again.

    Concurrent loads nest: the threshold goes back only when the last one ends.
    """
    global _loads_in_progress
    libc = _glibc()
    if libc is None:
        yield
        return
    use_mmap_for_large_buffers()
    with _lock:
        _loads_in_progress += 1
        if _loads_in_progress == 1:
            libc.mallopt(M_MMAP_THRESHOLD, LOAD_MMAP_THRESHOLD_BYTES)
    try:
        yield
    finally:
        with _lock:
            _loads_in_progress -= 1
            if _loads_in_progress == 0:
                libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
