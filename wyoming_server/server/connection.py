"""One Wyoming connection's transport: events read with size limits and an idle deadline, replies
written in request order by one task, errors that end a request, and closing.

The read loop only parses events and queues replies; one reply task per connection writes them in
request order. So a client that goes away is noticed at once (its reply task is cancelled and the
engine's stop event set), and a bounded reply queue turns a request flood into TCP back-pressure.
An `error` that ends a request is its whole reply; a client that then stays silent is disconnected
(`Limits.error_linger_s`). A socket owed no reply that completes no event for
`Limits.idle_timeout_s` is closed; a broken frame ends the connection with a lingering close, so the
`error` is not lost to a TCP reset. What events mean is the subclass's (`handler.TtsEventHandler`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from functools import partial

from wyoming.error import Error
from wyoming.event import Event
from wyoming.server import AsyncEventHandler

from ..settings import Limits
from .errors import ErrorCode, RequestError
from .framing import (
    FrameError,
    FrameLimits,
    IdleTimeout,
    discard_input_then_close,
    read_event,
    read_event_before,
)
from .metrics import ServerMetrics

_LOGGER = logging.getLogger(__name__)

Reply = Callable[[], Awaitable[object]]


class ClientGone(Exception):
    """Writing to the client failed: it has disconnected."""


class QueuedConnection(AsyncEventHandler):
    """Reads events and writes queued replies in order; subclasses say what each event means."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        limits: Limits,
        metrics: ServerMetrics,
        finish_on_eof: bool = False,
        close_after_error: bool = True,
        idle_timeout_s: float | None = None,
    ) -> None:
        """`finish_on_eof`: at end of input finish queued replies (stdio), not cancel them (sockets).

        `close_after_error`: close a connection that stays silent after an error ending a request.
        `idle_timeout_s`: close the connection when it is owed no reply and completes no event
        for this long (None: never, for stdio).
        """
        super().__init__(reader, writer)
        self._limits = limits
        self._metrics = metrics
        self._finish_on_eof = finish_on_eof
        self._close_after_error = close_after_error
        self._idle_timeout_s = idle_timeout_s
        self._last_activity = time.monotonic()
        self._frame_limits = FrameLimits(
            max_header_bytes=limits.max_event_header_bytes,
            max_data_bytes=limits.max_event_data_bytes,
            max_payload_bytes=limits.max_event_payload_bytes,
        )
        self._replies: asyncio.Queue[Reply] = asyncio.Queue(maxsize=limits.max_pending_replies)
        self._reply_task: asyncio.Task[None] | None = None
        self._events_seen = 0
        self._closing = False
        self._replying = False
        self._linger: asyncio.TimerHandle | None = None

    async def run(self) -> None:
        """Read events until end of input, a broken frame, or the connection is closed."""
        self._reply_task = asyncio.get_running_loop().create_task(self._reply_loop())
        try:
            while not self._closing:
                try:
                    event = await self._next_event()
                except IdleTimeout:
                    _LOGGER.debug("Closing a Wyoming connection idle for %.0f s", self._idle_timeout_s)
                    break
                except FrameError as err:
                    _LOGGER.warning("Malformed Wyoming event, closing that connection: %s", err)
                    await self._queue(
                        partial(
                            self._fail,
                            RequestError(ErrorCode.BAD_REQUEST, f"malformed event: {err}"),
                            ends_request=False,
                        )
                    )
                    await self._finish_replies()
                    await discard_input_then_close(self.reader, self.writer)
                    break
                except (ConnectionError, OSError):
                    break
                if event is None:
                    if self._finish_on_eof:
                        await self._finish_replies()
                    break
                self._events_seen += 1
                self._last_activity = time.monotonic()
                await self.handle_event(event)
        finally:
            await self.disconnect()
            self.writer.close()

    async def _next_event(self) -> Event | None:
        """The next event; `IdleTimeout` when the connection has been idle for the idle timeout."""
        if self._idle_timeout_s is None:
            return await read_event(self.reader, self._frame_limits)
        return await read_event_before(self.reader, self._frame_limits, self._idle_deadline, self._idle_timeout_s / 4)

    def _idle_deadline(self) -> float | None:
        """Idle means owed no reply: a client waiting for a long synthesis is not idle, while one
        that sends half a header, or one byte a minute, is (only complete events count)."""
        if self._idle_timeout_s is None or self.idle_since is None:
            return None
        return self._last_activity + self._idle_timeout_s

    @property
    def idle_since(self) -> float | None:
        """When this connection last completed an event or a reply; None while a reply is owed."""
        if self._replying or not self._replies.empty():
            return None
        return self._last_activity

    @property
    def events_seen(self) -> int:
        """Complete events read on this connection."""
        return self._events_seen

    @property
    def closing(self) -> bool:
        """True once the connection is being closed."""
        return self._closing

    async def _queue(self, reply: Reply) -> None:
        await self._replies.put(reply)

    async def _queue_error(self, code: ErrorCode, message: str) -> None:
        await self._queue(lambda: self._fail(RequestError(code, message), ends_request=False))

    async def _reply_loop(self) -> None:
        while True:
            reply = await self._replies.get()
            if self._closing:
                # The client is gone (or the server stopping): drop what it queued without
                # starting syntheses or writing to a closed transport.
                self._replies.task_done()
                continue
            self._replying = True
            try:
                await reply()
            except ClientGone:
                self._close()
            except Exception:
                _LOGGER.exception("Unexpected failure while replying")
                with contextlib.suppress(ClientGone):
                    await self._fail(
                        RequestError(ErrorCode.INTERNAL, "internal error; see the server log"),
                        ends_request=True,
                    )
            finally:
                self._replying = False
                self._last_activity = time.monotonic()
                self._replies.task_done()

    async def _finish_replies(self) -> None:
        """Wait until every queued reply has been written."""
        if self._reply_task is not None and not self._reply_task.done():
            await self._replies.join()

    async def _write(self, event: Event) -> None:
        """Send one event; a client that stops reading for the request timeout counts as gone.

        Otherwise a client that never reads would hold its synthesis slot for ever.
        """
        if self._closing:
            raise ClientGone
        try:
            async with asyncio.timeout(self._limits.request_timeout_s):
                await self.write_event(event)
        except (ConnectionError, OSError, RuntimeError, TimeoutError) as err:
            raise ClientGone from err

    async def _fail(self, err: RequestError, *, ends_request: bool) -> None:
        """Send an `error`; after one that ends a request, close the connection if the client goes quiet."""
        self._metrics.errors.inc(err.code.value)
        _LOGGER.info("Request failed (%s): %s", err.code.value, err.message)
        await self._write(Error(text=err.message, code=err.code.value).event())
        if ends_request and self._close_after_error:
            seen = self._events_seen
            self._linger = asyncio.get_running_loop().call_later(
                self._limits.error_linger_s, self._close_if_silent, seen
            )

    def _close_if_silent(self, seen: int) -> None:
        if self._events_seen == seen and self._replies.empty() and not self._replying:
            _LOGGER.debug("Closing a connection that stayed silent after an error")
            self._close()

    def _close(self) -> None:
        self._closing = True
        self.writer.close()
        self.reader.feed_eof()

    async def disconnect(self) -> None:
        """The client is gone: stop its synthesis (the runner sets the engine's stop event)."""
        self._closing = True
        if self._linger is not None:
            self._linger.cancel()
        if self._reply_task is not None:
            self._reply_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reply_task

    def close(self) -> None:
        """End this connection now (the listener makes room for a new one)."""
        self._close()
