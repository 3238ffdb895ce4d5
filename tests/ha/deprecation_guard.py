"""Fails a test when Home Assistant reports a deprecated call made by this integration.

HA does not raise `DeprecationWarning` for its own API: its helpers log a warning instead
(`helpers/deprecation.py`: "The deprecated function X was called from edge_tts_clone. It will be
removed in HA Core 2026.8 ..."; `helpers/frame.py`: "Detected that custom integration
'edge_tts_clone' ... This will stop working in Home Assistant ..."). The guard listens on the
root logger for the whole test, fixtures included, and keeps every such line that names us.
Python's own `DeprecationWarning`s raised from our modules are errors through tests/ha/pytest.ini.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

DOMAIN: Final = "edge_tts_clone"
_DEPRECATION_LINE: Final = re.compile(
    r"\bdeprecated\b|will be removed in|will stop working in|Detected that custom integration",
    re.IGNORECASE,
)


def names_our_deprecation(message: str) -> bool:
    """True for a HA deprecation report that blames this integration."""
    return DOMAIN in message and _DEPRECATION_LINE.search(message) is not None


class _Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.found: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if names_our_deprecation(message):
            self.found.append(message)


@contextmanager
def guard_deprecations() -> Iterator[list[str]]:
    """Collect HA's deprecation reports about this integration while the block runs."""
    collector = _Collector()
    root = logging.getLogger()
    root.addHandler(collector)
    try:
        yield collector.found
    finally:
        root.removeHandler(collector)
