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
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal
from urllib.parse import urlparse

from wyoming.error import Error
from wyoming.event import async_write_event

from .errors import ErrorCode
from .framing import discard_input_then_close
from .handler import TtsEventHandler

_LOGGER = logging.getLogger(__name__)

HandlerFactory = Callable[..., TtsEventHandler]
"""`factory(reader, writer, *, finish_on_eof=..., close_after_error=..., idle_timeout_s=...)`."""
REFUSAL_WRITE_TIMEOUT_S: Final = 1.0
REFUSAL_LOG_INTERVAL_S: Final = 60.0


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

    def __init__(
        self,
        endpoint: Endpoint,
        factory: HandlerFactory,
        *,
        stream_limit: int,
        max_connections: int,
        idle_timeout_s: float | None,
    ) -> None:
        """`max_connections` and `idle_timeout_s` apply to socket connections, not to stdio."""
        self.endpoint = endpoint
        self._factory = factory
        self._stream_limit = stream_limit
        self._max_connections = max_connections
        self._idle_timeout_s = idle_timeout_s
        self._last_refusal_log = -REFUSAL_LOG_INTERVAL_S
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
        if not self._make_room():
            await self._refuse(reader, writer)
            return
        handler = self._factory(
            reader, writer, finish_on_eof=False, close_after_error=True, idle_timeout_s=self._idle_timeout_s
        )
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

    def _make_room(self) -> bool:
        """True when a new connection fits, closing an idle one if the cap is reached.

        Evicting rather than refusing means a flood of idle connections cannot lock Home
        Assistant out. The victim is one that never completed an event if there is one (a
        flood's), else the longest idle; only when every connection is owed a reply is the
        newcomer refused.
        """
        open_handlers = [handler for handler in self._handlers.values() if not handler.closing]
        if len(open_handlers) < self._max_connections:
            return True
        idle = [
            (handler.events_seen > 0, since, handler)
            for handler in open_handlers
            if (since := handler.idle_since) is not None
        ]
        if not idle:
            return False
        victim = min(idle, key=lambda item: item[:2])[2]
        _LOGGER.debug("At %d connections: closing an idle one", self._max_connections)
        victim.close()
        return True

    async def _refuse(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Every connection is busy: tell the newcomer so and close."""
        now = time.monotonic()
        if now - self._last_refusal_log >= REFUSAL_LOG_INTERVAL_S:
            self._last_refusal_log = now
            _LOGGER.warning(
                "Refusing Wyoming connections: %d are open and all busy (the limit)", self._max_connections
            )
        message = f"the server has {self._max_connections} busy connections; try again shortly"
        try:
            async with asyncio.timeout(REFUSAL_WRITE_TIMEOUT_S):
                await async_write_event(Error(text=message, code=ErrorCode.BUSY.value).event(), writer)
        except (ConnectionError, OSError, TimeoutError):
            writer.close()
            return
        await discard_input_then_close(reader, writer, REFUSAL_WRITE_TIMEOUT_S)

    async def wait_finished(self) -> None:
        """For stdio: until the input has ended and every reply is written. Sockets: forever."""
        if self._stdio_task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._stdio_task
            return
        await asyncio.Event().wait()

    async def stop(self, grace_s: float = 0.0, close_s: float = 5.0) -> None:
        """Stop accepting; replies in progress may finish for `grace_s`; then end every connection.

        `close_s`: how long the connections then get to close before their tasks are cancelled.
        """
        if self._server is not None:
            self._server.close()
        await asyncio.gather(*(handler.stop(grace_s) for handler in list(self._handlers.values())))
        tasks = list(self._handlers)
        if tasks:
            _done, pending = await asyncio.wait(tasks, timeout=close_s)
            for task in pending:
                task.cancel()
        if self.endpoint.scheme == "unix":
            Path(self.endpoint.path).unlink(missing_ok=True)
