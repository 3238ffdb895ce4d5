"""What the TTS events of one Wyoming connection mean: synthesize, streams, describe, ping.

Failures become `error` events (docs/http-api.md codes) and the connection stays up. An `error`
that ends a request is its whole reply, with no `audio-stop` (an empty one would put a silent WAV in
Home Assistant's cache). A failed stream still answers `synthesize-stop` with `synthesize-stopped`.
On server shutdown, replies in progress get a grace period to finish; new requests get `busy`.
Reading, ordered replies, idle and linger rules are `connection.QueuedConnection`'s.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from functools import partial
from typing import Final

from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Describe
from wyoming.ping import Ping, Pong
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop, SynthesizeStopped

from ..engine.audio import PCM16_WIDTH_BYTES
from ..settings import ServerSettings
from .connection import ClientGone, QueuedConnection
from .errors import ErrorCode, RequestError
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


@dataclass(frozen=True, slots=True)
class HandlerContext:
    """What every connection shares (built once in `server/app.py`, injected with functools.partial)."""

    runner: SynthesisRunner
    settings: ServerSettings
    metrics: ServerMetrics


class TtsEventHandler(QueuedConnection):
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
        """The keywords are `QueuedConnection`'s."""
        super().__init__(
            reader,
            writer,
            limits=context.settings.limits,
            metrics=context.metrics,
            finish_on_eof=finish_on_eof,
            close_after_error=close_after_error,
            idle_timeout_s=idle_timeout_s,
        )
        self._context = context
        self._stream: TextStream | None = None
        self._no_stream_open = asyncio.Event()
        self._no_stream_open.set()
        self._draining = False

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
                await self._queue_error(ErrorCode.BAD_REQUEST, f"this server has one program, {PROGRAM_NAME!r}")
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

    async def _write_pcm(self, pcm: bytes, rate_hz: int) -> None:
        step = self._context.settings.samples_per_chunk * PCM16_WIDTH_BYTES * CHANNELS
        for offset in range(0, len(pcm), step):
            chunk = AudioChunk(
                rate=rate_hz, width=PCM16_WIDTH_BYTES, channels=CHANNELS, audio=pcm[offset : offset + step]
            )
            await self._write(chunk.event())

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
                            AudioStart(rate=speech.rate_hz, width=PCM16_WIDTH_BYTES, channels=CHANNELS).event()
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
            with contextlib.suppress(TimeoutError, ClientGone):
                async with asyncio.timeout(SHUTDOWN_ERROR_WRITE_S):
                    await self._write(Error(text=message, code=ErrorCode.BUSY.value).event())
        self._close()
