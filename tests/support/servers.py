"""A real server on 127.0.0.1 (port 0) around a FakeLibrary: the `library` and `start_server` fixtures.

Conftest files import the fixtures from here; tests import `RunningServer` and `StartServer`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pytest
from wyoming.client import AsyncTcpClient

from tests.support.fakes import FakeLibrary
from wyoming_server.jobs.manager import JobManager
from wyoming_server.server.app import ServerApp
from wyoming_server.settings import CacheSettings, Limits, ModelJobSettings, ServerSettings

OFFLINE_BASE_URL: Final = "http://127.0.0.1:9/"
"""Where the default test server's jobs would download from: refused at once, so no test reaches the internet."""


@dataclass
class RunningServer:
    """A started ServerApp and its fake library."""

    app: ServerApp
    library: FakeLibrary

    @property
    def port(self) -> int:
        """Wyoming port."""
        return self.app.wyoming_port

    @property
    def http_url(self) -> str:
        """Base URL of the admin API."""
        return f"http://127.0.0.1:{self.app.http_port}"

    def client(self) -> AsyncTcpClient:
        """A new Wyoming client (use as `async with`)."""
        return AsyncTcpClient("127.0.0.1", self.port)

    @property
    def token(self) -> str:
        """The admin token the server generated."""
        return (self.app.settings.data_dir / "admin_token").read_text().strip()


StartServer = Callable[..., Awaitable[RunningServer]]


@pytest.fixture
def library(tmp_path: Path) -> FakeLibrary:
    """A fresh fake library with the voices `joe` (built-in, Piper) and `mum` (styles default, calm)."""
    return FakeLibrary(tmp_path / "data")


@pytest.fixture
async def start_server(tmp_path: Path, library: FakeLibrary) -> AsyncIterator[StartServer]:
    """`await start_server(cache_mb=..., streaming=..., http=..., jobs=..., **limits)` -> RunningServer."""
    started: list[ServerApp] = []

    async def start(
        *,
        cache_mb: float = 0,
        streaming: bool = True,
        http: bool = True,
        samples_per_chunk: int = 1024,
        zeroconf: str | None = None,
        jobs: JobManager | None = None,
        **limits: Any,
    ) -> RunningServer:
        settings = ServerSettings(
            data_dir=tmp_path / "data",
            uri="tcp://127.0.0.1:0",
            http_host="127.0.0.1",
            http_port=0 if http else None,
            samples_per_chunk=samples_per_chunk,
            streaming=streaming,
            zeroconf_name=zeroconf,
            limits=dataclasses.replace(Limits(), **limits),
            cache=CacheSettings(tmp_path / "cache", int(cache_mb * 1024 * 1024)) if cache_mb else None,
        )
        if jobs is None:
            jobs = JobManager(settings.data_dir, ModelJobSettings(base_url=OFFLINE_BASE_URL))
        app = ServerApp(settings, library, jobs)
        await app.start()
        started.append(app)
        return RunningServer(app, library)

    yield start
    if library.behaviour.gate is not None:
        library.behaviour.gate.set()  # let held syntheses finish
    for app in started:
        await app.stop()
