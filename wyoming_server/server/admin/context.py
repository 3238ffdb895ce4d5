"""What the admin API handlers share, stored on the aiohttp application under a typed key."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web

from ...jobs.manager import JobManager
from ...settings import Limits
from ...voices.library import VoiceLibrary
from ..metrics import ServerMetrics
from ..runner import SynthesisRunner

_T = TypeVar("_T")

Gauges = dict[str, tuple[str, float]]
"""Prometheus gauge name -> (help text, value)."""


@dataclass(frozen=True, slots=True)
class AdminContext:
    """Built once by `server/app.py`."""

    library: VoiceLibrary
    runner: SynthesisRunner
    metrics: ServerMetrics
    limits: Limits
    token: str = field(repr=False)
    """The admin token (compared, never sent; kept out of repr so no log or traceback shows it)."""
    server_id: str
    version: str
    wyoming_port: Callable[[], int]
    """The bound Wyoming TCP port (0 for unix/stdio)."""
    extra_gauges: Callable[[], Gauges] = dict
    enroll_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    """Enrollment is heavy (it runs the reference encoder): one at a time."""
    jobs: JobManager | None = None
    """Model installs and fine-tune imports (None: the routes answer 503)."""

    async def blocking(self, func: Callable[[], _T]) -> _T:
        """Run a blocking library call on the default executor."""
        return await asyncio.get_running_loop().run_in_executor(None, func)


CONTEXT_KEY: web.AppKey[AdminContext] = web.AppKey("context", AdminContext)


def context_of(request: web.Request) -> AdminContext:
    """The context of the application serving `request`."""
    return request.app[CONTEXT_KEY]


def dump_json(value: Any) -> str:
    """JSON for responses: UTF-8 text kept as is (names are often Chinese)."""
    import json

    return json.dumps(value, ensure_ascii=False)
