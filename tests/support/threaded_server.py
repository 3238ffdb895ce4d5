"""A real ServerApp on its own event loop in a background thread.

For tests whose client side blocks (selenium, the Wyoming fuzzer's raw sockets): the server
keeps serving while the test thread waits on a socket or a browser.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Awaitable, Callable
from typing import Final, TypeVar

from tests.support.fakes import FakeLibrary
from tests.support.servers import OFFLINE_BASE_URL
from wyoming_server.jobs.manager import JobManager
from wyoming_server.server.app import ServerApp
from wyoming_server.settings import ModelJobSettings, ServerSettings

START_TIMEOUT_S: Final = 20.0
_T = TypeVar("_T")


class ThreadedServer:
    """A ServerApp running on its own event loop in a background thread."""

    def __init__(self, settings: ServerSettings, library: FakeLibrary, jobs: JobManager | None = None) -> None:
        """`jobs` defaults to a job manager that can reach no download server (tests stay offline)."""
        self._settings = settings
        self.library = library
        self.jobs = jobs or JobManager(settings.data_dir, ModelJobSettings(base_url=OFFLINE_BASE_URL))
        self.app: ServerApp | None = None
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _main(self) -> None:
        try:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            self.app = ServerApp(self._settings, self.library, self.jobs)
            await self.app.start()
        except BaseException as err:
            self._error = err
            self._ready.set()
            raise
        self._ready.set()
        await self._stop.wait()
        await self.app.stop()

    def start(self) -> None:
        """Start and wait until it listens."""
        self._thread.start()
        assert self._ready.wait(START_TIMEOUT_S), "server did not start"
        if self._error is not None:
            raise self._error

    def stop(self) -> None:
        """Stop and join the thread."""
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(START_TIMEOUT_S)

    def call(self, func: Callable[[], Awaitable[_T]], timeout_s: float = START_TIMEOUT_S) -> _T:
        """Run `func()` on the server's loop and return its result (from another thread)."""
        assert self._loop is not None

        async def run() -> _T:
            return await func()

        future: concurrent.futures.Future[_T] = asyncio.run_coroutine_threadsafe(run(), self._loop)
        return future.result(timeout_s)

    @property
    def running(self) -> bool:
        """True while the server thread is alive."""
        return self._thread.is_alive()

    @property
    def wyoming_port(self) -> int:
        """The bound Wyoming port."""
        assert self.app is not None
        return self.app.wyoming_port

    @property
    def url(self) -> str:
        """The web page's address."""
        assert self.app is not None
        return f"http://127.0.0.1:{self.app.http_port}/"

    @property
    def token(self) -> str:
        """The admin token."""
        return (self._settings.data_dir / "admin_token").read_text().strip()
