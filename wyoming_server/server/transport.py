"""Where Wyoming clients connect: tcp://host:port, unix://path or stdio://.

Our own listener rather than `wyoming.server.AsyncServer`: that class feeds stdio events
straight to `handle_event` (skipping our bounded reader) and keeps no way to wait for a
connection's work, and we need the bound port when asked for port 0 (tests, benchmarks).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

from .handler import TtsEventHandler

_LOGGER = logging.getLogger(__name__)

HandlerFactory = Callable[..., TtsEventHandler]
"""`factory(reader, writer, *, finish_on_eof=..., close_after_error=...)`."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A parsed `--uri`."""

    scheme: Literal["tcp", "unix", "stdio"]
    host: str = ""
    port: int = 0
    path: str = ""


def parse_uri(uri: str) -> Endpoint:
    """`--uri` as an Endpoint; ValueError with a usable message otherwise."""
    parsed = urlparse(uri)
    if parsed.scheme == "stdio":
        return Endpoint("stdio")
    if parsed.scheme == "unix":
        path = parsed.netloc + parsed.path
        if not path:
            raise ValueError(
                f"{uri!r}: a unix:// URI needs a socket path, e.g. unix:///run/edge-tts-clone.sock"
            )
        return Endpoint("unix", path=path)
    if parsed.scheme == "tcp":
        try:
            port = parsed.port
        except ValueError:
            port = None
        if not parsed.hostname or port is None:
            raise ValueError(f"{uri!r}: a tcp:// URI needs a host and a port, e.g. tcp://0.0.0.0:10210")
        return Endpoint("tcp", host=parsed.hostname, port=port)
    raise ValueError(f"{uri!r}: only tcp://, unix:// and stdio:// are supported")


class WyomingListener:
    """Accepts connections and runs one handler per connection (or one on stdin/stdout)."""

    def __init__(self, endpoint: Endpoint, factory: HandlerFactory, *, stream_limit: int) -> None:
        self.endpoint = endpoint
        self._factory = factory
        self._stream_limit = stream_limit
        self._server: asyncio.Server | None = None
        self._handlers: dict[asyncio.Task[None], TtsEventHandler] = {}
        self._stdio_task: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        """The bound TCP port (the real one when asked for port 0); 0 for unix and stdio."""
        if self._server is None or self.endpoint.scheme != "tcp":
            return 0
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    @property
    def connections(self) -> int:
        """Open connections."""
        return len(self._handlers)

    async def start(self) -> None:
        """Start listening (or start serving stdin/stdout)."""
        endpoint = self.endpoint
        if endpoint.scheme == "tcp":
            self._server = await asyncio.start_server(
                self._accept, host=endpoint.host, port=endpoint.port, limit=self._stream_limit
            )
            _LOGGER.info("Wyoming server listening on tcp://%s:%d", endpoint.host, self.port)
        elif endpoint.scheme == "unix":
            Path(endpoint.path).unlink(missing_ok=True)
            self._server = await asyncio.start_unix_server(
                self._accept, path=endpoint.path, limit=self._stream_limit
            )
            _LOGGER.info("Wyoming server listening on unix://%s", endpoint.path)
        else:
            reader, writer = await self._stdio_streams()
            handler = self._factory(reader, writer, finish_on_eof=True, close_after_error=False)
            self._stdio_task = asyncio.get_running_loop().create_task(handler.run())
            self._handlers[self._stdio_task] = handler
            _LOGGER.info("Wyoming server on stdin/stdout")

    async def _stdio_streams(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=self._stream_limit)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        transport, protocol = await loop.connect_write_pipe(
            asyncio.streams.FlowControlMixin, os.fdopen(sys.stdout.fileno(), "wb", buffering=0, closefd=False)
        )
        writer = asyncio.StreamWriter(transport, protocol, None, loop)
        return reader, writer

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handler = self._factory(reader, writer, finish_on_eof=False, close_after_error=True)
        task = asyncio.current_task()
        if task is None:  # pragma: no cover - asyncio always runs callbacks in a task
            return
        self._handlers[task] = handler
        try:
            await handler.run()
        except Exception:
            _LOGGER.exception("Connection handler failed")
        finally:
            self._handlers.pop(task, None)

    async def wait_finished(self) -> None:
        """For stdio: until the input has ended and every reply is written. Sockets: forever."""
        if self._stdio_task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._stdio_task
            return
        await asyncio.Event().wait()

    async def stop(self, grace_s: float = 5.0) -> None:
        """Stop accepting, end every connection (their syntheses are told to stop)."""
        if self._server is not None:
            self._server.close()
        for handler in list(self._handlers.values()):
            await handler.stop()
        tasks = list(self._handlers)
        if tasks:
            _done, pending = await asyncio.wait(tasks, timeout=grace_s)
            for task in pending:
                task.cancel()
        if self.endpoint.scheme == "unix":
            Path(self.endpoint.path).unlink(missing_ok=True)
