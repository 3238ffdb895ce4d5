"""Fuzz the Wyoming server over real sockets while a well-behaved client keeps being served.

    python -m tests.reliability.fuzz_wyoming --frames 10000          # full run (docs/reliability.md)
    python -m tests.reliability.fuzz_wyoming --frames 1500 --seed 3  # quick

An in-process server (its own thread and event loop) around the FakeLibrary gets hypothesis-
generated connections (`wyoming_frames.scripts`), one after another, then bursts of abandoned
connections, an idle-connection flood past the connection cap and slow "dribbling" clients.
Properties checked on every connection and at the end:

- the server stays up and the bystander (`bystander.py`) gets exactly its own audio throughout;
- a connection whose frames are all well framed gets the sentinel `pong` (it was not dropped);
- a broken frame gets an `error` and that connection, only that one, is closed;
- every connection ends (none hangs), and nothing the server sends breaks the protocol or the
  error contract; no `internal` error and no exception in the server log;
- the server never holds more connections than its cap, and closes idle and dribbling ones;
- afterwards no connection, synthesis slot or queued request is left, and memory stays flat.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import socket
import sys
import tempfile
import threading
import time
import traceback
import tracemalloc
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from hypothesis import HealthCheck, Phase, given, seed, settings

from tests.reliability.bystander import Bystander
from tests.reliability.fuzz_report import TRACEBACK_FRAMES, FuzzReport, live_growth_by_owner, open_fds, rss_kb
from tests.reliability.wyoming_frames import FrameKind, Script, scripts
from tests.support.fakes import FakeLibrary
from tests.support.raw_wire import (
    READ_TIMEOUT_S,
    Received,
    connect,
    ping_frame,
    read_frames,
    reset,
    send_all,
)
from tests.support.threaded_server import ThreadedServer
from wyoming_server.server.transport import WyomingListener
from wyoming_server.settings import Limits, ServerSettings

BATCH_EXAMPLES: Final = 250
FRAMES_PER_EXAMPLE: Final = 5
"""About how many frames one generated connection sends (to size hypothesis batches)."""
SETTLE_TIMEOUT_S: Final = 30.0


@dataclass(frozen=True)
class FuzzConfig:
    """How much to fuzz and the limits the server runs with."""

    frames: int = 10_000
    seed: int = 0
    abandoned: int = 300
    """Connections opened, sent a piece of a request and reset without reading."""
    max_connections: int = 32
    """The server's connection cap in this run (small, so the flood passes it cheaply)."""
    flood_extra: int = 40
    """Idle connections opened beyond the cap."""
    dribblers: int = 4
    """Clients sending one header byte at a time, never completing an event."""
    idle_timeout_s: float = 2.0
    shrink: bool = False
    tracemalloc: bool = False
    """Attribute live-memory growth to server, harness and hypothesis (slow: about 5x)."""
    """Stop at the first failing connection and let hypothesis shrink it (else record and go on)."""


class _LogCollector(logging.Handler):
    """Keeps server log records that mean something went wrong inside the server."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        # Warnings about malformed events are the server doing its job; errors and asyncio's
        # complaints (unretrieved exceptions, failed sends) are not.
        if record.levelno >= logging.ERROR or record.name.startswith("asyncio"):
            cause = ""
            if record.exc_info and record.exc_info[1] is not None:
                cause = " | " + " / ".join(traceback.format_exception(record.exc_info[1])[-3:]).replace("\n", " ")
            self.records.append(f"{record.name}: {record.getMessage()[:300]}{cause[:1200]}")


def _eventually(predicate: object, timeout_s: float = SETTLE_TIMEOUT_S) -> bool:
    """Poll a condition of the server's state from outside it, within a bound."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.02)
    return bool(predicate())  # type: ignore[operator]


class Fuzzer:
    """Runs the phases against one server; see the module docstring."""

    def __init__(self, config: FuzzConfig, data_dir: Path) -> None:
        self.config = config
        self.report = FuzzReport()
        self.library = FakeLibrary(data_dir)
        limits = Limits(
            max_concurrent=2, max_connections=config.max_connections, idle_timeout_s=config.idle_timeout_s
        )
        settings_ = ServerSettings(data_dir=data_dir, uri="tcp://127.0.0.1:0", http_port=None, limits=limits)
        self.server = ThreadedServer(settings_, self.library)
        self._sequence = 0
        self._batch = 0

    # ----- one fuzz connection ------------------------------------------------

    def run_script(self, script: Script) -> None:
        """Send one connection's frames and check what the server did with them."""
        report = self.report
        self._sequence += 1
        sentinel = f"sentinel-{self._sequence}"
        data = b"".join(frame.data for frame in script.frames)
        first_bad = next((frame for frame in script.frames if frame.kind is not FrameKind.OK), None)
        report.frames += len(script.frames)
        report.connections += 1
        report.labels.update(frame.label for frame in script.frames)
        report.distinct_frames.update(hashlib.blake2b(frame.data, digest_size=16).digest() for frame in script.frames)
        sock = connect(self.server.wyoming_port)
        if script.ending == "abandon":
            send_all(sock, data, script.split_at)
            reset(sock)
            return
        received = Received()
        expect_pong = script.ending == "ping" and first_bad is None
        reader = threading.Thread(target=read_frames, args=(sock, received, sentinel if expect_pong else None))
        reader.start()
        try:
            sent = send_all(sock, data + (ping_frame(sentinel) if script.ending == "ping" else b""), script.split_at)
            if sent and not expect_pong and (first_bad is None or first_bad.kind is FrameKind.UNKNOWN):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_WR)  # end of input: whatever the server waits for never comes
            reader.join(READ_TIMEOUT_S * 2)
        finally:
            with contextlib.suppress(OSError):
                sock.close()
            reader.join(READ_TIMEOUT_S)
        self._check(script, first_bad, expect_pong, received)

    def _check(self, script: Script, first_bad: object, expect_pong: bool, received: Received) -> None:
        report = self.report
        errors = received.errors()
        report.errors_returned += len(errors)
        report.error_codes.update(error["code"] for error in errors)
        report.closed_by_server += int(received.closed)
        sentinel = f"sentinel-{self._sequence}"
        got_pong = any(e["type"] == "pong" and e["data"].get("text") == sentinel for e in received.events)
        report.pongs += int(got_pong)
        labels = [frame.label for frame in script.frames]
        problems: list[str] = []
        if received.violation:
            problems.append(f"protocol violation: {received.violation}")
        if received.hung:
            problems.append("the connection hung (no reply, not closed)")
        if any(error["code"] == "internal" for error in errors):
            problems.append(f"internal error: {[e['text'] for e in errors if e['code'] == 'internal']}")
        if expect_pong and not got_pong:
            problems.append(f"well-framed events but no pong (closed={received.closed}, errors={errors[-3:]})")
        if first_bad is not None and getattr(first_bad, "kind", None) is FrameKind.BROKEN:
            malformed = [e for e in errors if e["code"] == "bad-request" and e["text"].startswith("malformed event")]
            if not malformed or not received.closed:
                problems.append(
                    f"broken frame ({getattr(first_bad, 'label', '?')}) without error+close: "
                    f"closed={received.closed} errors={errors[-3:]}"
                )
        if not self.server.running:
            problems.append("the server thread died")
        if problems:
            raise AssertionError(f"connection {self._sequence} frames={labels[:30]}: " + "; ".join(problems))

    # ----- phases ------------------------------------------------------------

    def fuzz_frames(self, until_frames: int) -> None:
        """Hypothesis-generated connections until `until_frames` frames have been sent."""
        while self.report.frames < until_frames:
            self._batch += 1
            batch = self._batch
            examples = min(BATCH_EXAMPLES, (until_frames - self.report.frames) // FRAMES_PER_EXAMPLE + 1)

            @seed(self.config.seed * 1_000_003 + batch)
            @settings(
                max_examples=examples,
                deadline=None,
                database=None,
                phases=[Phase.generate, Phase.shrink],
                suppress_health_check=list(HealthCheck),
            )
            @given(script=scripts())
            def fuzz(script: Script) -> None:
                if self.report.frames >= until_frames:
                    return
                try:
                    self.run_script(script)
                except AssertionError as err:
                    if self.config.shrink:
                        raise
                    self.report.failures.append(str(err)[:1500])

            fuzz()

    def abandon_burst(self) -> None:
        """Connections that send part of a request and vanish (RST), many in a row."""
        request = ping_frame("x") + json.dumps(
            {"type": "synthesize", "data": {"text": "Abandoned at once. Really.", "voice": {"name": "mum"}}}
        ).encode() + b"\n"
        for index in range(self.config.abandoned):
            sock = connect(self.server.wyoming_port)
            send_all(sock, request[: 1 + index % len(request)], [])
            reset(sock)
            self.report.abandoned += 1

    def connection_flood(self) -> None:
        """Idle connections past the cap: the server never holds more than the cap, and closes them all.

        At the cap the longest-idle connection is closed to make room (or, when all are owed a
        reply, the newcomer is refused with `busy`); the rest are closed by the idle timeout.
        """
        config = self.config
        listener = self._listener()
        sockets: list[tuple[socket.socket, Received, threading.Thread]] = []
        for index in range(config.max_connections + config.flood_extra):
            sock = connect(self.server.wyoming_port)
            if index % 3 == 1:
                send_all(sock, b'{"type": "synthe', [])  # a header started and never finished
            received = Received()
            reader = threading.Thread(target=read_frames, args=(sock, received, None))
            reader.start()
            sockets.append((sock, received, reader))
        if not _eventually(lambda: listener.connections <= config.max_connections):
            self.report.failures.append(f"flood: {listener.connections} connections open, cap {config.max_connections}")
        for sock, received, reader in sockets:
            reader.join(READ_TIMEOUT_S + config.idle_timeout_s)
            codes = [error["code"] for error in received.errors()]
            if not received.closed:
                self.report.failures.append(f"flood: a connection was neither refused nor closed (codes {codes})")
            elif codes == ["busy"]:
                self.report.flood_refused += 1
            elif not codes:
                self.report.flood_closed += 1
            else:
                self.report.failures.append(f"flood: unexpected errors {codes}")
            sock.close()

    def _listener(self) -> WyomingListener:
        app = self.server.app
        assert app is not None and app.listener is not None
        return app.listener

    def dribble(self) -> None:
        """Clients that send a header one byte at a time and never finish: closed after the idle timeout."""
        header = b'{"type": "synthesize", "data": {"text": "' + b"slow " * 200
        sockets = [connect(self.server.wyoming_port) for _ in range(self.config.dribblers)]
        alive = list(sockets)
        deadline = time.monotonic() + READ_TIMEOUT_S
        offset = 0
        while alive and time.monotonic() < deadline:
            for sock in list(alive):
                try:
                    sock.sendall(header[offset % len(header) : offset % len(header) + 1])
                except OSError:
                    alive.remove(sock)
                    self.report.dribblers_closed += 1
            offset += 1
            time.sleep(self.config.idle_timeout_s / 20)
        for sock in sockets:
            sock.close()
        if alive:
            self.report.failures.append(f"dribble: {len(alive)} slow clients still connected after {READ_TIMEOUT_S} s")

    # ----- the whole run -------------------------------------------------------

    def run(self) -> FuzzReport:
        """All phases; the report's `failures` lists every property that did not hold."""
        report, config = self.report, self.config
        started = time.monotonic()
        collector = _LogCollector()
        logging.getLogger().addHandler(collector)
        report.open_fds_start = open_fds()
        report.rss_start_kb = rss_kb()
        self.server.start()
        bystander = Bystander(self.server.wyoming_port)
        bystander.start()
        try:
            if not bystander.stats.first_ok.wait(READ_TIMEOUT_S):
                report.failures.append(f"the bystander was never served: {bystander.stats.failures[:3]}")
            try:
                snapshot: tracemalloc.Snapshot | None = None
                for tenth in range(1, 11):
                    self.fuzz_frames(max(1, config.frames * tenth // 10))
                    with self.library.behaviour.lock:
                        self.library.behaviour.calls.clear()  # the fake's own call log is not the server's memory
                    report.rss_curve_kb.append((report.frames, rss_kb()))
                    if config.tracemalloc and tenth == 1:
                        tracemalloc.start(TRACEBACK_FRAMES)
                        snapshot = tracemalloc.take_snapshot()
                report.rss_warm_kb = report.rss_curve_kb[0][1]
                if snapshot is not None:
                    report.live_growth_kb = live_growth_by_owner(snapshot, tracemalloc.take_snapshot())
                    tracemalloc.stop()
            except Exception as err:  # --shrink: hypothesis has shrunk it; its notes hold the example
                notes = "\n".join(getattr(err, "__notes__", []))
                report.failures.append(f"{err!s:.2000}\n{notes:.4000}")
            self.abandon_burst()
            self.connection_flood()
            self.dribble()
        finally:
            bystander.stop()
            report.bystander_ok, report.bystander_busy = bystander.stats.ok, bystander.stats.busy
            report.failures.extend(f"bystander: {failure}" for failure in bystander.stats.failures)
            self._check_settled()
            self.server.stop()
            logging.getLogger().removeHandler(collector)
        report.server_log_errors = collector.records
        report.failures.extend(f"server log: {line}" for line in collector.records[:20])
        report.rss_end_kb = rss_kb()
        report.open_fds_end = open_fds()
        report.duration_s = time.monotonic() - started
        return report

    def _check_settled(self) -> None:
        """Nothing left behind: connections, synthesis slots, queued requests."""
        app = self.server.app
        if app is None or app.runner is None or app.listener is None:
            self.report.failures.append("the server is not running at the end")
            return
        listener, admission = app.listener, app.runner.admission
        if not _eventually(lambda: listener.connections == 0 and admission.running == 0 and admission.waiting == 0):
            self.report.failures.append(
                f"left behind: {listener.connections} connections, {admission.running} running, "
                f"{admission.waiting} waiting"
            )


def run_fuzz(config: FuzzConfig) -> FuzzReport:
    """One fuzz run with a fresh data folder."""
    with tempfile.TemporaryDirectory(prefix="fuzz-wyoming-") as data_dir:
        return Fuzzer(config, Path(data_dir)).run()


def main(argv: list[str] | None = None) -> int:
    """Command line: run, print the figures, exit 1 when a property failed."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=10_000, help="frames to fuzz (at least)")
    parser.add_argument("--seed", type=int, default=0, help="hypothesis seed (same seed, same frames)")
    parser.add_argument("--abandoned", type=int, default=300, help="connections opened and reset")
    parser.add_argument("--tracemalloc", action="store_true", help="attribute live-memory growth (slow)")
    parser.add_argument("--shrink", action="store_true", help="stop at the first failure and shrink it")
    parser.add_argument("--verbose", action="store_true", help="show the server's log (very noisy)")
    args = parser.parse_args(argv)
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(logging.WARNING if args.verbose else logging.CRITICAL)
    logging.basicConfig(level=logging.WARNING, handlers=[console])  # the collector needs asyncio's warnings
    report = run_fuzz(
        FuzzConfig(
            frames=args.frames,
            seed=args.seed,
            abandoned=args.abandoned,
            shrink=args.shrink,
            tracemalloc=args.tracemalloc,
        )
    )
    print(report.summary())
    print("frame families:", ", ".join(f"{label} {count}" for label, count in report.labels.most_common(25)))
    for failure in report.failures:
        print("FAILED:", failure)
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
