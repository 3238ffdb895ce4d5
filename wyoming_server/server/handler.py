"""One Wyoming connection: events in, replies out, in order, without blocking the reading.

The read loop only parses events and queues replies; one reply task per connection writes them in
request order. So a client that goes away is noticed at once (its reply task is cancelled and the
engine's stop event set), and a bounded reply queue turns a request flood into TCP back-pressure.

Failures become `error` events (docs/http-api.md codes) and the connection stays up. An `error`
that ends a request is its whole reply, with no `audio-stop` (an empty one would put a silent WAV in
Home Assistant's cache); a client that then stays silent is disconnected (`Limits.error_linger_s`).
A failed stream still answers `synthesize-stop` with `synthesize-stopped`. A socket owed no reply
that completes no event for `Limits.idle_timeout_s` is closed; a broken frame ends the connection
with a lingering close, so the `error` is not lost to a TCP reset.
On server shutdown, replies in progress get a grace period to finish; new requests get `busy`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Final

from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Describe
from wyoming.ping import Ping, Pong
from wyoming.server import AsyncEventHandler
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop, SynthesizeStopped

from ..engine.audio import PCM16_WIDTH_BYTES
from ..settings import ServerSettings
from .errors import ErrorCode, RequestError
from .framing import (
    FrameError,
    FrameLimits,
    IdleTimeout,
    discard_input_then_close,
    read_event,
    read_event_before,
)
from .info import PROGRAM_NAME, build_info
from .metrics import ServerMetrics
from .requests import SpeechRequest, parse_synthesize, parse_synthesize_start
from .runner import SynthesisRunner
from .streaming import TextStream

_LOGGER = logging.getLogger(__name__)

CHANNELS: Final = 1
SHUTDOWN_ERROR_WRITE_S: Final = 1.0
"""Time to send the `error` of a reply cut short by shutdown (a client that does not read gets nothing)."""
_SELECT_PROGRAM_TYPE: Final = "select-program"
_Reply = Callable[[], Awaitable[object]]


@dataclass(frozen=True, slots=True)
class HandlerContext:
    """What every connection shares (built once in `server/app.py`, injected with functools.partial)."""

    runner: SynthesisRunner
    settings: ServerSettings
    metrics: ServerMetrics


class _ClientGone(Exception):
    """Writing to the client failed: it has disconnected."""


class TtsEventHandler(AsyncEventHandler):
    """Serves one Wyoming connection."""

    def __init__(
        self,
        context: HandlerContext,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
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
        self._context = context
        self._limits = context.settings.limits
        self._finish_on_eof = finish_on_eof
        self._close_after_error = close_after_error
        self._idle_timeout_s = idle_timeout_s
        self._last_activity = time.monotonic()
        self._frame_limits = FrameLimits(
            max_header_bytes=self._limits.max_event_header_bytes,
            max_data_bytes=self._limits.max_event_data_bytes,
            max_payload_bytes=self._limits.max_event_payload_bytes,
        )
        self._replies: asyncio.Queue[_Reply] = asyncio.Queue(maxsize=self._limits.max_pending_replies)
        self._reply_task: asyncio.Task[None] | None = None
        self._stream: TextStream | None = None
        self._no_stream_open = asyncio.Event()
        self._no_stream_open.set()
        self._events_seen = 0
        self._closing = False
        self._draining = False
        self._replying = False
        self._linger: asyncio.TimerHandle | None = None

    # ----- reading ------------------------------------------------------------

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

    async def handle_event(self, event: Event) -> bool:
        """Queue the reply to one event (never raises for bad input)."""
        settings = self._context.settings
        starts_request = SynthesizeStart.is_type(event.type) or (Synthesize.is_type(event.type) and not self._stream)
        if self._draining and starts_request:
            await self._queue_error(ErrorCode.BUSY, "the server is shutting down; try again shortly")
        elif Synthesize.is_type(event.type):
            if self._stream is None:
                await self._on_synthesize(event)
            # else: the full text Home Assistant repeats inside a stream "for compatibility": ignored.
        elif (
            SynthesizeStart.is_type(event.type)
            or SynthesizeChunk.is_type(event.type)
            or SynthesizeStop.is_type(event.type)
        ):
            if settings.streaming:
                await self._on_stream_event(event)
            # else: as wyoming-piper with --no-streaming, streaming events are ignored.
        elif Describe.is_type(event.type):
            await self._queue(self._reply_describe)
        elif Ping.is_type(event.type):
            text = event.data.get("text")
            await self._queue(lambda: self._write(Pong(text=text if isinstance(text, str) else None).event()))
        elif event.type == _SELECT_PROGRAM_TYPE:
            if event.data.get("name") != PROGRAM_NAME:
                await self._queue_error(
                    ErrorCode.BAD_REQUEST, f"this server has one program, {PROGRAM_NAME!r}"
                )
        else:
            await self._queue_error(ErrorCode.BAD_REQUEST, f"unknown event type {event.type[:100]!r}")
        return True

    async def _on_synthesize(self, event: Event) -> None:
        received_at = time.monotonic()
        self._context.metrics.requests.inc("wyoming", "synthesize")
        try:
            request = parse_synthesize(event.data, self._limits.max_text_chars)
        except RequestError as err:
            await self._queue(partial(self._fail, err, ends_request=True))
            return
        await self._queue(partial(self._speak, request, received_at, need_audio=True))

    async def _on_stream_event(self, event: Event) -> None:
        received_at = time.monotonic()
        if SynthesizeStart.is_type(event.type):
            if self._stream is not None:
                await self._queue_error(ErrorCode.BAD_REQUEST, "synthesize-start while a stream is open")
                return
            self._context.metrics.requests.inc("wyoming", "stream")
            self._no_stream_open.clear()
            try:
                self._stream = TextStream(request=parse_synthesize_start(event.data))
            except RequestError as err:
                self._stream = TextStream(request=None, refused=True, failed=True)
                await self._queue(partial(self._fail, err, ends_request=False))
            return

        stream = self._stream
        if stream is None:
            await self._queue_error(ErrorCode.BAD_REQUEST, f"{event.type} without synthesize-start")
            return
        if SynthesizeStop.is_type(event.type):
            self._stream = None
            self._no_stream_open.set()
            sentences = stream.finish()
        else:
            try:
                sentences = stream.add_chunk(event.data, self._limits.max_text_chars)
            except RequestError as err:
                await self._fail_stream(stream, err)
                return
        for sentence in sentences:
            await self._queue(partial(self._reply_sentence, stream, sentence, received_at))
        if SynthesizeStop.is_type(event.type):
            await self._queue(lambda: self._write(SynthesizeStopped().event()))

    async def _fail_stream(self, stream: TextStream, err: RequestError) -> None:
        if not stream.refused:
            stream.refused = True
            await self._queue(partial(self._fail_stream_reply, stream, err))

    async def _fail_stream_reply(self, stream: TextStream, err: RequestError) -> None:
        stream.failed = True
        await self._fail(err, ends_request=False)

    async def _queue(self, reply: _Reply) -> None:
        await self._replies.put(reply)

    async def _queue_error(self, code: ErrorCode, message: str) -> None:
        await self._queue(lambda: self._fail(RequestError(code, message), ends_request=False))

    # ----- replying ------------------------------------------------------------

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
            except _ClientGone:
                self._close()
            except Exception:
                _LOGGER.exception("Unexpected failure while replying")
                with contextlib.suppress(_ClientGone):
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
            raise _ClientGone
        try:
            async with asyncio.timeout(self._limits.request_timeout_s):
                await self.write_event(event)
        except (ConnectionError, OSError, RuntimeError, TimeoutError) as err:
            raise _ClientGone from err

    async def _write_pcm(self, pcm: bytes, rate_hz: int) -> None:
        step = self._context.settings.samples_per_chunk * PCM16_WIDTH_BYTES * CHANNELS
        for offset in range(0, len(pcm), step):
            chunk = AudioChunk(
                rate=rate_hz, width=PCM16_WIDTH_BYTES, channels=CHANNELS, audio=pcm[offset : offset + step]
            )
            await self._write(chunk.event())

    async def _fail(self, err: RequestError, *, ends_request: bool) -> None:
        """Send an `error`; after one that ends a request, close the connection if the client goes quiet."""
        self._context.metrics.errors.inc(err.code.value)
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

    async def _reply_describe(self) -> None:
        runner = self._context.runner
        try:
            voices = await asyncio.get_running_loop().run_in_executor(None, runner.library.voices)
        except Exception:
            _LOGGER.exception("Listing voices failed")
            await self._fail(
                RequestError(ErrorCode.INTERNAL, "could not list voices; see the server log"),
                ends_request=True,
            )
            return
        await self._write(build_info(voices, streaming=self._context.settings.streaming).event())

    async def _speak(self, request: SpeechRequest, received_at: float, *, need_audio: bool) -> bool:
        """Send audio-start, chunks, audio-stop for one request; False when it failed (error already sent)."""
        runner = self._context.runner
        started = False
        try:
            speech = await runner.resolve(request)
            async with contextlib.aclosing(runner.speak(speech, received_at=received_at)) as blocks:
                async for pcm in blocks:
                    if not started:
                        await self._write(
                            AudioStart(
                                rate=speech.rate_hz, width=PCM16_WIDTH_BYTES, channels=CHANNELS
                            ).event()
                        )
                        started = True
                    await self._write_pcm(pcm, speech.rate_hz)
            if not started and need_audio:
                raise RequestError(ErrorCode.EMPTY_TEXT, "the text has nothing to pronounce")
        except RequestError as err:
            await self._fail(err, ends_request=need_audio)
            return False
        if started:
            await self._write(AudioStop().event())
        return True

    async def _reply_sentence(self, stream: TextStream, sentence: str, received_at: float) -> None:
        if stream.failed or stream.request is None:
            return
        if not await self._speak(stream.request.with_text(sentence), received_at, need_audio=False):
            stream.failed = True

    # ----- ending ------------------------------------------------------------

    async def disconnect(self) -> None:
        """The client is gone: stop its synthesis (the runner sets the engine's stop event)."""
        self._closing = True
        if self._linger is not None:
            self._linger.cancel()
        if self._reply_task is not None:
            self._reply_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reply_task

    async def stop(self, grace_s: float = 0.0) -> None:
        """Server shutdown: let queued replies finish for `grace_s`, then end the connection.

        A reply still running then is cut short with an `error` (`busy`), so the client is not left
        with audio that simply stops; a stream already open may still send its text meanwhile.
        """
        self._draining = True
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace_s):
                await self._no_stream_open.wait()  # Home Assistant streams an LLM's text as it comes
                await self._finish_replies()
        cut_short = self._replying or not self._replies.empty() or not self._no_stream_open.is_set()
        if self._reply_task is not None and not self._closing and cut_short:
            self._reply_task.cancel()  # its synthesis is told to stop, as when the client leaves
            with contextlib.suppress(asyncio.CancelledError):
                await self._reply_task
            message = "the server is shutting down; this reply was cut short"
            with contextlib.suppress(TimeoutError, _ClientGone):
                async with asyncio.timeout(SHUTDOWN_ERROR_WRITE_S):
                    await self._write(Error(text=message, code=ErrorCode.BUSY.value).event())
        self._close()

    def close(self) -> None:
        """End this connection now (the listener makes room for a new one)."""
        self._close()
