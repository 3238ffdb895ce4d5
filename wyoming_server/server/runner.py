"""Runs synthesis off the event loop: admission, per-request timeout, stop on abandon, cache.

`SynthesisRunner.speak` is an async generator of PCM, one block per engine chunk (a sentence, or
part of one when the engine streams within sentences). Each step of the library's chunk iterator
runs in a worker thread (`run_in_executor`), and the next step is only asked for after the
caller has taken (and sent) the previous block, so the first chunk leaves the server before
the next is synthesized and a slow client never makes
audio pile up in memory. When the caller stops early (client gone, timeout, write error) the
request's `threading.Event` is set so the engine stops, and the slot is given back only once
the worker thread has really finished: `--max-concurrent` bounds threads, not just requests.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
import time
from collections.abc import AsyncGenerator, Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from ..engine import AudioChunk, EngineError, SynthesisOptions, TextError
from ..engine.audio import PCM16_WIDTH_BYTES, float_to_pcm16, resample
from ..engine.gpt_sovits.text.pronunciations import Pronunciations
from ..settings import Limits
from ..voices.library import VoiceLibrary, VoiceNotFoundError
from ..voices.pack import VoicePack
from ..voices.pronunciation_file import PronunciationFile
from .admission import Admission
from .cache import AudioCache, CachedAudio, cache_key
from .errors import ErrorCode, RequestError
from .metrics import ServerMetrics
from .requests import SpeechRequest

_LOGGER = logging.getLogger(__name__)
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class ResolvedSpeech:
    """A request with its voice looked up: everything needed to speak it."""

    request: SpeechRequest
    pack: VoicePack
    style: str
    options: SynthesisOptions
    rate_hz: int
    """Rate of every block `speak` yields (Hertz)."""
    key: str
    """Cache key of the audio."""


def _next_block(iterator: Iterator[AudioChunk], rate_hz: int) -> tuple[bytes, float] | None:
    """Worker thread: the next chunk as s16le bytes at `rate_hz`, with its duration; None at the end."""
    chunk = next(iterator, None)
    if chunk is None:
        return None
    samples = chunk.samples
    if chunk.rate_hz != rate_hz:
        _LOGGER.warning("Engine yielded %d Hz audio for a %d Hz reply; resampling", chunk.rate_hz, rate_hz)
        samples = resample(samples, chunk.rate_hz, rate_hz)  # one format per reply, whatever the engine yields
    pcm = float_to_pcm16(samples)
    return pcm, len(pcm) / PCM16_WIDTH_BYTES / rate_hz


def _close_quietly(iterator: Iterator[AudioChunk]) -> None:
    close = getattr(iterator, "close", None)
    if close is not None:
        try:
            close()
        except Exception:
            _LOGGER.exception("Closing an abandoned synthesis failed")


def _engine_failure(err: BaseException) -> RequestError:
    """The `error` a failed engine call becomes."""
    if isinstance(err, RequestError):
        return err
    if isinstance(err, VoiceNotFoundError):
        return RequestError(ErrorCode.UNKNOWN_VOICE, f"the voice is gone ({err})")
    if isinstance(err, TextError):
        return RequestError(ErrorCode.BAD_REQUEST, f"cannot speak this text: {err}")
    if isinstance(err, EngineError):
        return RequestError(ErrorCode.ENGINE_ERROR, str(err) or err.__class__.__name__)
    _LOGGER.error("Synthesis failed unexpectedly", exc_info=err)
    return RequestError(ErrorCode.INTERNAL, "internal error while synthesizing; see the server log")


class SynthesisRunner:
    """Shared by every connection: the one way to turn a request into audio."""

    def __init__(
        self,
        library: VoiceLibrary,
        *,
        limits: Limits,
        metrics: ServerMetrics,
        cache: AudioCache | None = None,
        pronunciations: PronunciationFile | None = None,
    ) -> None:
        self._library = library
        self._pronunciations = pronunciations
        self._limits = limits
        self._metrics = metrics
        self._cache = cache
        self.admission = Admission(limits.max_concurrent, limits.max_queued)
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=limits.max_concurrent, thread_name_prefix="synthesis"
        )
        self._background: set[asyncio.Task[None]] = set()
        self._pending_stores: dict[str, asyncio.Task[None]] = {}

    @property
    def library(self) -> VoiceLibrary:
        """The voice library requests are served from."""
        return self._library

    @property
    def pronunciations(self) -> PronunciationFile | None:
        """The pronunciation dictionary requests are read with (None: none)."""
        return self._pronunciations

    async def _blocking(self, func: Callable[[], _T]) -> _T:
        """Run a short blocking library/disk call on the default executor."""
        return await asyncio.get_running_loop().run_in_executor(None, func)

    async def resolve(self, request: SpeechRequest) -> ResolvedSpeech:
        """Look up voice and style; `unknown-voice` or `bad-request` when they do not fit."""

        def lookup() -> tuple[VoicePack, int, Pronunciations | None]:
            pack = self._library.resolve(request.voice_id, request.language)
            user = self._pronunciations.for_voice(pack.id) if self._pronunciations else None
            return pack, self._library.sample_rate_hz(pack), user or None

        try:
            pack, rate_hz, pronunciations = await self._blocking(lookup)
        except VoiceNotFoundError as err:
            wanted = request.voice_id or (f"language {request.language!r}" if request.language else "default")
            raise RequestError(
                ErrorCode.UNKNOWN_VOICE, f"no voice {wanted!r} on this server ({err})"
            ) from None
        except EngineError as err:
            raise _engine_failure(err) from None
        if request.voice_id is not None and pack.id != request.voice_id:
            raise RequestError(ErrorCode.UNKNOWN_VOICE, f"no voice {request.voice_id!r} on this server")
        style = request.style or pack.default_style
        if style not in pack.styles:
            raise RequestError(
                ErrorCode.UNKNOWN_VOICE,
                f"voice {pack.id!r} has no style {style!r} (it has: {', '.join(sorted(pack.styles))})",
            )
        try:
            options = SynthesisOptions(seed=request.seed, speed=request.speed or 1.0, pronunciations=pronunciations)
        except ValueError as err:
            raise RequestError(ErrorCode.BAD_REQUEST, str(err)) from None
        key = cache_key(
            voice_id=pack.id,
            revision=pack.revision,
            model_id=pack.model_id,
            style=style,
            text=request.text,
            options={**options.to_dict(), "rate_hz": rate_hz},
        )
        return ResolvedSpeech(
            request=request, pack=pack, style=style, options=options, rate_hz=rate_hz, key=key
        )

    async def speak(self, speech: ResolvedSpeech, *, received_at: float) -> AsyncGenerator[bytes, None]:
        """s16le blocks at `speech.rate_hz`, one per engine chunk. Use inside `contextlib.aclosing`.

        `received_at` (time.monotonic) is when the request arrived: the timeout and the
        time-to-first-audio metric count from it. Raises `RequestError` on any failure.
        """
        cached = await self._cache_lookup(speech)
        if cached is not None:
            self._metrics.time_to_first_audio.observe(time.monotonic() - received_at)
            _LOGGER.info(
                "voice=%s chars=%d audio=%.2fs from cache",
                speech.pack.id,
                len(speech.request.text),
                len(cached.pcm) / PCM16_WIDTH_BYTES / cached.rate_hz,
            )
            yield cached.pcm
            return

        timeout_s = self._limits.request_timeout_s
        queued_at = time.monotonic()
        await self.admission.acquire(received_at + timeout_s - queued_at)
        started_at = time.monotonic()
        self._metrics.queue_wait.observe(started_at - queued_at)
        stop = threading.Event()
        iterator: Iterator[AudioChunk] | None = None
        inflight: list[asyncio.Future[Any]] = []
        blocks: list[bytes] | None = [] if self._cache is not None else None
        audio_s = 0.0
        finished = False
        deadline = received_at + timeout_s

        async def call(func: Callable[[], _T]) -> _T:
            future = asyncio.wrap_future(self._executor.submit(func))
            inflight[:] = [future]
            try:
                async with asyncio.timeout(max(deadline - time.monotonic(), 0.0)):
                    return await asyncio.shield(future)
            except TimeoutError:
                raise RequestError(
                    ErrorCode.TIMEOUT, f"synthesis took longer than {timeout_s:g} s (see --request-timeout)"
                ) from None
            except RequestError:
                raise
            except Exception as err:
                raise _engine_failure(err) from None

        pack, text = speech.pack, speech.request.text
        try:
            chunks: Iterator[AudioChunk] = await call(
                lambda: iter(self._library.synthesize(pack, speech.style, text, speech.options, stop))
            )
            iterator = chunks
            first = True
            while True:
                block = await call(lambda: _next_block(chunks, speech.rate_hz))
                if block is None:
                    break
                pcm, seconds = block
                audio_s += seconds
                if blocks is not None:
                    blocks.append(pcm)
                if first:
                    self._metrics.time_to_first_audio.observe(time.monotonic() - received_at)
                    first = False
                yield pcm
                deadline = time.monotonic() + timeout_s
            finished = True
        finally:
            if not finished:
                stop.set()
            self._spawn(self._finish(inflight[0] if inflight else None, iterator))
        elapsed_s = time.monotonic() - started_at
        self._metrics.audio_seconds.inc(amount=audio_s)
        if audio_s > 0:
            self._metrics.real_time_factor.observe(elapsed_s / audio_s)
        _LOGGER.info(
            "voice=%s chars=%d audio=%.2fs queued=%.3fs time=%.2fs rtf=%.2f",
            pack.id,
            len(text),
            audio_s,
            started_at - queued_at,
            elapsed_s,
            elapsed_s / audio_s if audio_s else 0.0,
        )
        if blocks and self._cache is not None:
            audio = CachedAudio(pcm=b"".join(blocks), rate_hz=speech.rate_hz)
            store = asyncio.get_running_loop().create_task(self._cache_store(speech.key, audio))
            self._pending_stores[speech.key] = store
            self._spawn_tracked(store)

    async def _cache_lookup(self, speech: ResolvedSpeech) -> CachedAudio | None:
        if self._cache is None:
            return None
        pending = self._pending_stores.get(speech.key)
        if pending is not None:
            await asyncio.shield(pending)  # the same text was just spoken: wait for its entry
        cache = self._cache
        cached = await self._blocking(lambda: cache.load(speech.key))
        if cached is not None and cached.rate_hz == speech.rate_hz:
            self._metrics.cache_hits.inc()
            return cached
        self._metrics.cache_misses.inc()
        return None

    async def _cache_store(self, key: str, audio: CachedAudio) -> None:
        cache = self._cache
        try:
            if cache is not None:
                await self._blocking(lambda: cache.store(key, audio))
        finally:
            if self._pending_stores.get(key) is asyncio.current_task():
                del self._pending_stores[key]

    async def _finish(
        self, inflight: asyncio.Future[Any] | None, iterator: Iterator[AudioChunk] | None
    ) -> None:
        """After a request: wait for its worker thread, close the engine's iterator, free the slot."""
        try:
            if inflight is not None and not inflight.done():
                with contextlib.suppress(BaseException):
                    await inflight
            if iterator is not None:
                await asyncio.get_running_loop().run_in_executor(self._executor, _close_quietly, iterator)
        finally:
            self.admission.release()

    def _spawn(self, coro: Any) -> None:
        self._spawn_tracked(asyncio.get_running_loop().create_task(coro))

    def _spawn_tracked(self, task: asyncio.Task[None]) -> None:
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def drain(self) -> None:
        """Wait for abandoned worker threads and pending cache writes (used by tests and shutdown)."""
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)

    async def close(self, grace_s: float = 5.0) -> None:
        """Stop taking work; give running threads `grace_s` to notice their stop events."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace_s):
                await self.drain()
        self._executor.shutdown(wait=False, cancel_futures=True)
