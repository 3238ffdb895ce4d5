"""Fails a test when the integration does blocking I/O in the event loop thread.

HA's own detector (`homeassistant.block_async_io`) is not enabled by the test harness, and in
tests it skips `open` and the pathlib calls. This guard wraps the blocking filesystem and
sleep functions for the duration of a test and records every call made on the loop's thread
while a frame of `custom_components/edge_tts_clone` is on the stack; the conftest fails the
test if any were recorded. Calls from worker threads (the executor) are fine.
"""

from __future__ import annotations

import builtins
import os
import pathlib
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Final

_INTEGRATION_DIR: Final = os.sep + os.path.join("custom_components", "edge_tts_clone") + os.sep

# (object, attribute) pairs that block on disk or time.
WATCHED: Final[tuple[tuple[Any, str], ...]] = (
    (builtins, "open"),
    (os, "open"),
    (os, "stat"),
    (os, "lstat"),
    (os, "listdir"),
    (os, "scandir"),
    (os, "walk"),
    (time, "sleep"),
    (pathlib.Path, "read_bytes"),
    (pathlib.Path, "read_text"),
    (pathlib.Path, "write_bytes"),
    (pathlib.Path, "write_text"),
)


def _integration_frame() -> str | None:
    """`file:line` of the innermost integration frame on the current stack, if any.

    Calls made by `linecache` are ignored: asyncio's debug mode (on in HA's test harness)
    records a traceback for every task and future, and that stats source files.
    """
    frame = sys._getframe(2)
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename.endswith(("linecache.py", "traceback.py")):
            return None
        if _INTEGRATION_DIR in filename:
            return f"{filename.rsplit(os.sep, 1)[-1]}:{frame.f_lineno}"
        frame = frame.f_back  # type: ignore[assignment]  # None ends the loop
    return None


@contextmanager
def guard_loop_thread(loop_thread_id: int) -> Iterator[list[str]]:
    """Record blocking calls the integration makes on `loop_thread_id`; yields the record list."""
    found: list[str] = []
    originals = [(owner, name, getattr(owner, name)) for owner, name in WATCHED]

    def wrap(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if threading.get_ident() == loop_thread_id and (where := _integration_frame()):
                found.append(f"{name} at {where}")
            return original(*args, **kwargs)

        return guarded

    for owner, name, original in originals:
        setattr(owner, name, wrap(name, original))
    try:
        yield found
    finally:
        for owner, name, original in originals:
            setattr(owner, name, original)
