"""Admission control: at most N syntheses at once, a bounded line of waiters, `busy` beyond it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from .errors import ErrorCode, RequestError


class Admission:
    """An `asyncio.Semaphore(max_concurrent)` whose wait queue holds at most `max_queued` requests.

    A request that would have to wait while the queue is full is refused at once with `busy`
    (queueing it would only make every caller wait longer); one that waits past its deadline
    gets `timeout`.
    """

    def __init__(self, max_concurrent: int, max_queued: int) -> None:
        self.max_concurrent = max_concurrent
        self.max_queued = max_queued
        self._semaphore = asyncio.Semaphore(max_concurrent)
        self._running = 0
        self._waiting = 0
        self._changed = asyncio.Event()

    @property
    def running(self) -> int:
        """Requests holding a slot."""
        return self._running

    @property
    def waiting(self) -> int:
        """Requests queued for a slot."""
        return self._waiting

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def acquire(self, timeout_s: float) -> None:
        """Take a slot within `timeout_s` seconds, or raise `busy` / `timeout`."""
        if self._semaphore.locked() and self._waiting >= self.max_queued:
            raise RequestError(
                ErrorCode.BUSY,
                f"the server is busy ({self._running} speaking, {self._waiting} waiting); try again shortly",
            )
        self._waiting += 1
        self._notify()
        try:
            async with asyncio.timeout(max(timeout_s, 0.0)):
                await self._semaphore.acquire()
        except TimeoutError:
            raise RequestError(ErrorCode.TIMEOUT, "timed out waiting for a free synthesis slot") from None
        finally:
            self._waiting -= 1
            self._notify()
        self._running += 1
        self._notify()

    def release(self) -> None:
        """Give a slot back."""
        self._running -= 1
        self._semaphore.release()
        self._notify()

    async def wait_until(self, predicate: Callable[[Admission], bool]) -> None:
        """Return once `predicate(self)` holds (benchmarks and tests watch the queue with it)."""
        while not predicate(self):
            await self._changed.wait()
