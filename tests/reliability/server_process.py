"""`edge-tts-clone serve` as a child process, for the load, soak and crash runs.

The server is started exactly as a user starts it (`python -m wyoming_server serve ...`); its
log (stderr) is drained by a background task so the pipe never fills, and the per-request lines
are parsed for the queue wait the runner logs. RSS comes from /proc/<pid>/status.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import sys
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import aiohttp

REPO: Final = Path(__file__).resolve().parents[2]
START_TIMEOUT_S: Final = 120.0
_LISTENING_RE: Final = re.compile(r"Wyoming server listening on tcp://127\.0\.0\.1:(\d+)")
_READY_RE: Final = re.compile(r"edge-tts-clone \S+ ready")
_QUEUED_RE: Final = re.compile(r"voice=(\S+) chars=\d+ audio=[\d.]+s queued=([\d.]+)s")
_LOG_TAIL_LINES: Final = 400


def free_port() -> int:
    """A TCP port that was free a moment ago (for --http-port, which has no "pick one" value)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def child_env() -> dict[str, str]:
    """The environment of a child: this checkout first on PYTHONPATH."""
    return {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}


@dataclass
class ServerProcess:
    """A running server child and what its log said."""

    process: asyncio.subprocess.Process
    wyoming_port: int
    http_port: int
    data_dir: Path
    queue_waits_s: list[float] = field(default_factory=list)
    """`queued=` of every request the engine served, in log order."""
    log_tail: deque[str] = field(default_factory=lambda: deque(maxlen=_LOG_TAIL_LINES))
    _drain: asyncio.Task[None] | None = None
    _line_arrived: asyncio.Event = field(default_factory=asyncio.Event)

    @classmethod
    async def start(
        cls,
        data_dir: Path,
        *flags: str,
        module: str = "wyoming_server",
        env: dict[str, str] | None = None,
        preexec_fn: Callable[[], None] | None = None,
    ) -> ServerProcess:
        """Start `python -m <module> serve` on 127.0.0.1 (Wyoming port picked by the OS); wait until ready.

        `module` other than `wyoming_server` is a test wrapper that injects a fault, then runs the CLI.
        """
        http_port = free_port()
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            module,
            "serve",
            "--uri",
            "tcp://127.0.0.1:0",
            "--http-host",
            "127.0.0.1",
            "--http-port",
            str(http_port),
            "--data-dir",
            str(data_dir),
            *flags,
            cwd=REPO,
            env={**child_env(), **(env or {})},
            preexec_fn=preexec_fn,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        server = cls(process=process, wyoming_port=0, http_port=http_port, data_dir=data_dir)
        try:
            await asyncio.wait_for(server._wait_ready(), START_TIMEOUT_S)
        except BaseException:
            await server.kill()
            raise
        server._drain = asyncio.get_running_loop().create_task(server._drain_log())
        return server

    async def _readline(self) -> str | None:
        assert self.process.stderr is not None
        raw = await self.process.stderr.readline()
        if not raw:
            return None
        line = raw.decode(errors="replace").rstrip("\n")
        self.log_tail.append(line)
        self._line_arrived.set()
        if match := _QUEUED_RE.search(line):
            self.queue_waits_s.append(float(match.group(2)))
        return line

    async def _wait_ready(self) -> None:
        while True:
            line = await self._readline()
            if line is None:
                raise RuntimeError("the server exited while starting:\n" + "\n".join(self.log_tail))
            if match := _LISTENING_RE.search(line):
                self.wyoming_port = int(match.group(1))
            if _READY_RE.search(line) and self.wyoming_port:
                return

    async def _drain_log(self) -> None:
        while await self._readline() is not None:
            pass

    async def wait_for_log(self, text: str, timeout_s: float = 30.0) -> str:
        """The first log line (in the kept tail) containing `text`, waiting for it if need be."""
        async with asyncio.timeout(timeout_s):
            while True:
                self._line_arrived.clear()
                for line in self.log_tail:
                    if text in line:
                        return line
                await self._line_arrived.wait()

    @property
    def pid(self) -> int:
        """The child's process id."""
        return self.process.pid

    @property
    def http_url(self) -> str:
        """Base URL of the admin API."""
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def token(self) -> str:
        """The admin token the server keeps in its data folder."""
        return (self.data_dir / "admin_token").read_text(encoding="utf-8").strip()

    def rss_bytes(self) -> int:
        """Resident set size of the server now."""
        status = Path(f"/proc/{self.pid}/status").read_text(encoding="ascii")
        match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
        if match is None:
            raise RuntimeError(f"no VmRSS for process {self.pid} (has it exited?)")
        return int(match.group(1)) * 1024

    async def metrics(self) -> dict[str, float]:
        """`/metrics` as name{labels} -> value."""
        async with aiohttp.ClientSession() as session, session.get(f"{self.http_url}/metrics") as response:
            response.raise_for_status()
            text = await response.text()
        values: dict[str, float] = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                values[name] = float(value)
        return values

    async def enroll(self, name: str, clip_wav: bytes, text: str) -> tuple[int, dict[str, Any]]:
        """POST /api/voices (English clip, consent given): (status, JSON body)."""
        form = aiohttp.FormData()
        form.add_field("name", name)
        form.add_field("audio", clip_wav, filename="clip.wav", content_type="audio/wav")
        form.add_field("text", text)
        form.add_field("language", "en")
        form.add_field("consent", "I, Jane, agree that my family may use my voice")
        headers = {"Authorization": f"Bearer {self.token}"}
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"{self.http_url}/api/voices", data=form, headers=headers) as response,
        ):
            body: dict[str, Any] = await response.json()
            return response.status, body

    async def voices(self) -> dict[str, Any]:
        """GET /api/voices: {"voices": [...], "skipped": [...]}."""
        async with aiohttp.ClientSession() as session, session.get(f"{self.http_url}/api/voices") as response:
            response.raise_for_status()
            body: dict[str, Any] = await response.json()
            return body

    async def wait_idle(self, timeout_s: float = 60.0) -> dict[str, float]:
        """Poll /metrics until no request runs or waits (abandoned syntheses have given their slots back)."""
        async with asyncio.timeout(timeout_s):
            while True:
                values = await self.metrics()
                if values["edge_tts_clone_requests_running"] == 0 and values["edge_tts_clone_requests_waiting"] == 0:
                    return values
                await asyncio.sleep(0.2)  # polling a remote gauge: there is no event to wait on

    async def kill(self) -> None:
        """SIGKILL (a crash, a power cut) and reap."""
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGKILL)
        await self.process.wait()
        await self._stop_drain()

    async def stop(self, timeout_s: float = 30.0) -> int:
        """SIGTERM (a graceful stop); returns the exit code."""
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.terminate()
        try:
            code = await asyncio.wait_for(self.process.wait(), timeout_s)
        except TimeoutError:
            await self.kill()
            raise
        await self._stop_drain()
        return code

    async def _stop_drain(self) -> None:
        if self._drain is not None:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._drain, 5.0)
            self._drain = None
