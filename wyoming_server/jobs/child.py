"""The server's side of a worker process: start it at the lowest CPU priority, read its events, cancel it.

The worker runs in its own session (a Ctrl-C meant for the server reaches only the server, which
then cancels the job itself) and gets its spec on stdin, which stays open: if the server dies, the
worker sees the end of its input and stops. Its memory goes back to the system when it exits.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

_LOGGER = logging.getLogger(__name__)

WORKER_COMMAND: Final = (sys.executable, "-m", "wyoming_server.jobs.worker")
NICENESS: Final = 19
"""The lowest priority: speech, at 0, gets the CPU whenever it wants it."""
CANCEL_GRACE_S: Final = 10.0
"""After SIGTERM, time to leave a long native call (an export, a quantization) before SIGKILL."""
STDERR_TAIL_LINES: Final = 20


@dataclass(frozen=True, slots=True)
class WorkerExit:
    """How a worker ended."""

    returncode: int
    failure: dict[str, Any] | None
    """Its `failed` event, if it sent one."""
    stderr_tail: tuple[str, ...]

    def failure_fields(self) -> dict[str, Any]:
        """`error` and `code` of a failed run, in words a person can act on."""
        if self.failure is not None:
            return {"error": str(self.failure.get("message")), "code": str(self.failure.get("code", "internal"))}
        for line in self.stderr_tail:
            _LOGGER.warning("worker: %s", line)
        if self.returncode < 0:
            name = signal.Signals(-self.returncode).name
            hint = " (the system ends processes this way when memory runs out)" if name == "SIGKILL" else ""
            killed = f"the conversion process was killed by {name}{hint}; nothing was installed"
            return {"error": killed, "code": "killed"}
        return {
            "error": f"the conversion process failed (exit status {self.returncode}); see the server log",
            "code": "internal",
        }


class WorkerProcess:
    """One run of the worker for one job."""

    def __init__(
        self,
        spec: dict[str, Any],
        on_event: Callable[[dict[str, Any]], None],
        *,
        command: Sequence[str] = WORKER_COMMAND,
        name: str = "job",
    ) -> None:
        self._spec = {**spec, "niceness": NICENESS}
        self._on_event = on_event
        self._command = list(command)
        self._name = name
        self._process: asyncio.subprocess.Process | None = None
        self._stderr: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)
        self._failure: dict[str, Any] | None = None

    @property
    def pid(self) -> int | None:
        """The worker's process id while it runs."""
        return self._process.pid if self._process is not None else None

    async def run(self) -> WorkerExit:
        """Start the worker and wait for it to end, passing each event to `on_event`."""
        self._process = await asyncio.create_subprocess_exec(
            *self._command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
        assert self._process.stdin is not None
        self._process.stdin.write(json.dumps(self._spec).encode() + b"\n")
        with contextlib.suppress(ConnectionError):
            await self._process.stdin.drain()
        await asyncio.gather(self._read_events(), self._read_stderr())
        returncode = await self._process.wait()
        self._process.stdin.close()
        return WorkerExit(returncode, self._failure, tuple(self._stderr))

    async def _read_events(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        async for raw in self._process.stdout:
            try:
                event = json.loads(raw)
            except ValueError:
                _LOGGER.warning("%s: ignoring a line that is not an event: %r", self._name, raw[:200])
                continue
            if not isinstance(event, dict):
                continue
            if event.get("phase") == "failed":
                self._failure = event
            self._on_event(event)

    async def _read_stderr(self) -> None:
        assert self._process is not None and self._process.stderr is not None
        async for raw in self._process.stderr:
            line = raw.decode("utf-8", "replace").rstrip()
            self._stderr.append(line)
            _LOGGER.debug("%s: %s", self._name, line)

    async def cancel(self) -> None:
        """SIGTERM (the worker cleans up), then SIGKILL if it has not ended within CANCEL_GRACE_S."""
        process = self._process
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.shield(process.wait()), CANCEL_GRACE_S)
        except TimeoutError:
            _LOGGER.warning("%s: the worker ignored SIGTERM for %.0f s; killing it", self._name, CANCEL_GRACE_S)
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
