"""Load and soak: N concurrent Wyoming clients against `edge-tts-clone serve` with tiny models.

    python -m tests.reliability.load_soak --clients 16 --requests 50      # the load run
    python -m tests.reliability.load_soak --clients 16 --soak-minutes 30  # the soak run

Each client sends its planned requests (load_plan.py: mixed voices, streaming and not, some
closing the connection after the first audio chunk) and checks every reply against audio
synthesized alone beforehand, so audio crossing between clients or damaged in the cache is
caught. The server's RSS is sampled while it runs; queue waits come from its own log lines.
Exit code 0 when every request got its own audio and nothing failed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop, SynthesizeStopped, SynthesizeVoice

from tests.support.wyoming_connection import WyomingConnection

from .load_plan import PlannedRequest, PlanSettings, References, make_plan
from .server_process import ServerProcess

RSS_SAMPLE_INTERVAL_S: Final = 1.0
WARM_UP_SHARE: Final = 0.2
"""RSS growth is measured from the moment this share of the requests (or of the soak time) is done."""
MB: Final = 1024 * 1024
SERVER_THREADS: Final = 1
"""onnxruntime threads per synthesis, in the server and for the references (same threads, same sums)."""


@dataclass
class LoadReport:
    """Everything a run measured."""

    requests: int = 0
    served: int = 0
    abandoned: int = 0
    """Requests the client dropped on purpose after the first chunk (their prefix was still checked)."""
    failures: list[str] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)
    """Replies that were not the audio their request must get (crossing or damage)."""
    ttfa_s: list[float] = field(default_factory=list)
    queue_waits_s: list[float] = field(default_factory=list)
    rss_samples: list[tuple[float, int]] = field(default_factory=list)
    """(seconds since start, bytes)."""
    warm_up_at_s: float = 0.0
    rss_idle_end: int = 0
    audio_bytes: int = 0
    elapsed_s: float = 0.0
    references: int = 0
    cache_hits: float = 0.0
    cache_misses: float = 0.0

    @property
    def ok(self) -> bool:
        """No failure and no mismatch."""
        return not self.failures and not self.mismatches

    def rss_after_warm_up(self) -> int:
        """RSS at the first sample after warm-up."""
        after = [rss for t, rss in self.rss_samples if t >= self.warm_up_at_s]
        return after[0] if after else self.rss_samples[-1][1]

    def rss_growth(self) -> int:
        """Idle RSS at the end minus RSS right after warm-up."""
        return self.rss_idle_end - self.rss_after_warm_up()

    def rss_slope_mb_per_hour(self) -> float:
        """Least-squares slope of RSS over the samples after warm-up."""
        points = [(t, rss / MB) for t, rss in self.rss_samples if t >= self.warm_up_at_s]
        if len(points) < 3 or points[-1][0] - points[0][0] < 1.0:
            return 0.0
        slope = statistics.linear_regression([t for t, _ in points], [m for _, m in points]).slope
        return slope * 3600.0

    def summary(self) -> str:
        """The figures, one per line."""

        def pct(values: list[float], q: float) -> float:
            ordered = sorted(values)
            return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0

        waits, ttfa = self.queue_waits_s, self.ttfa_s
        return "\n".join(
            [
                f"requests {self.requests}: served {self.served}, abandoned on purpose {self.abandoned}, "
                f"failures {len(self.failures)}, mismatched audio {len(self.mismatches)}",
                f"audio received {self.audio_bytes / MB:.1f} MB in {self.elapsed_s:.1f} s; "
                f"references synthesized alone {self.references}; "
                f"cache hits {self.cache_hits:.0f}, misses {self.cache_misses:.0f}",
                f"queue wait (server log, {len(waits)} engine runs): p50 {pct(waits, 0.5):.3f} s, "
                f"p95 {pct(waits, 0.95):.3f} s, max {max(waits, default=0.0):.3f} s",
                f"time to first audio (client): p50 {pct(ttfa, 0.5):.3f} s, p95 {pct(ttfa, 0.95):.3f} s, "
                f"max {max(ttfa, default=0.0):.3f} s",
                f"server RSS: after warm-up {self.rss_after_warm_up() / MB:.1f} MB, "
                f"peak {max(r for _, r in self.rss_samples) / MB:.1f} MB, idle at end {self.rss_idle_end / MB:.1f} MB, "
                f"growth {self.rss_growth() / MB:+.1f} MB, slope {self.rss_slope_mb_per_hour():+.1f} MB/h "
                f"({len(self.rss_samples)} samples)",
                *(f"FAILED: {line}" for line in self.failures[:20]),
                *(f"MISMATCH: {line}" for line in self.mismatches[:20]),
            ]
        )


def _options(request: PlannedRequest) -> dict[str, object]:
    return {"edge_tts_clone": {"seed": request.seed}}


async def _send_request(connection: WyomingConnection, request: PlannedRequest) -> None:
    voice = SynthesizeVoice(name=request.voice)
    if not request.streaming:
        event = Synthesize(request.text, voice=voice).event()
        event.data.update(_options(request))
        await connection.send(event)
        return
    start = SynthesizeStart(voice=voice).event()
    start.data.update(_options(request))
    await connection.send(start)
    for piece in request.pieces:
        await connection.send(SynthesizeChunk(piece).event())
    # Home Assistant repeats the whole text in a `synthesize` inside the stream; the server ignores it.
    await connection.send(Synthesize(request.text, voice=voice).event())
    await connection.send(SynthesizeStop().event())


async def _perform(
    connection: WyomingConnection, request: PlannedRequest, references: References, report: LoadReport
) -> bool:
    """Send one request and check its reply; False when the connection must not be reused."""
    tag = f"client {request.client} request {request.index} ({request.voice}, seed {request.seed}, " + (
        "stream" if request.streaming else "synthesize"
    )
    sent_at = time.monotonic()
    await _send_request(connection, request)
    units = request.units()
    rate_hz, pcm, group = 0, bytearray(), 0
    first = True
    while True:
        event = await connection.read()
        if Error.is_type(event.type):
            report.failures.append(f"{tag}): error {event.data}")
            return False
        if AudioStart.is_type(event.type):
            rate_hz, pcm = AudioStart.from_event(event).rate, bytearray()
        elif AudioChunk.is_type(event.type):
            pcm += AudioChunk.from_event(event).audio
            if first:
                report.ttfa_s.append(time.monotonic() - sent_at)
                first = False
            if request.disconnect:
                report.abandoned += 1
                report.audio_bytes += len(pcm)
                if problem := references.check(request, units[group], rate_hz, bytes(pcm), complete=False):
                    report.mismatches.append(f"{tag}, abandoned): {problem}")
                return False
        elif AudioStop.is_type(event.type):
            report.audio_bytes += len(pcm)
            if group >= len(units):
                report.mismatches.append(f"{tag}): more audio groups than sentences {units}")
                return False
            if problem := references.check(request, units[group], rate_hz, bytes(pcm), complete=True):
                report.mismatches.append(f"{tag}) group {group} {units[group]!r}: {problem}")
            group += 1
            if not request.streaming:
                break
        elif SynthesizeStopped.is_type(event.type):
            break
        else:
            report.failures.append(f"{tag}): unexpected {event.type}")
            return False
    if group != len(units):
        report.mismatches.append(f"{tag}): {group} audio groups for {len(units)} sentences")
    report.served += 1
    return True


async def _client(
    requests: list[PlannedRequest],
    port: int,
    references: References,
    report: LoadReport,
    deadline: float | None,
) -> None:
    connection: WyomingConnection | None = None
    index = 0
    try:
        while index < len(requests) or (deadline is not None and time.monotonic() < deadline):
            if deadline is not None and time.monotonic() >= deadline:
                break
            request = requests[index % len(requests)]
            index += 1
            report.requests += 1
            if connection is not None and request.new_connection:
                await connection.close()
                connection = None
            try:
                if connection is None:
                    connection = await WyomingConnection.open(port)
                reusable = await _perform(connection, request, references, report)
            except (ConnectionError, OSError, TimeoutError) as err:
                report.failures.append(f"client {request.client} request {request.index}: {err!r}")
                reusable = False
            if not reusable and connection is not None:
                await connection.close()
                connection = None
    finally:
        if connection is not None:
            await connection.close()


async def _sample_rss(server: ServerProcess, report: LoadReport, started: float, stop: asyncio.Event) -> None:
    while not stop.is_set():
        report.rss_samples.append((time.monotonic() - started, server.rss_bytes()))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), RSS_SAMPLE_INTERVAL_S)


def server_flags(clients: int, cache_mb: float) -> list[str]:
    """How the load run starts the server: room in the queue for every client, three models in memory."""
    return [
        "--max-concurrent",
        "2",
        "--max-queued",
        str(max(8, clients)),
        "--threads",
        str(SERVER_THREADS),
        "--max-loaded-models",
        "3",
        "--cache-size-mb",
        str(cache_mb),
    ]


async def run_load(
    data_dir: Path,
    *,
    clients: int,
    requests: int,
    soak_minutes: float = 0.0,
    cache_mb: float = 16.0,
    settings: PlanSettings | None = None,
    progress: bool = False,
) -> LoadReport:
    """Start the server on `data_dir` (built by tiny_data.build_data_dir), run the clients, stop it."""
    plan = make_plan(clients, requests, settings or PlanSettings())
    report = LoadReport()
    references = References(data_dir, threads=SERVER_THREADS)
    report.references = references.prepare(r for client in plan for r in client)
    if progress:
        print(f"{report.references} references synthesized; starting the server", file=sys.stderr)
    server = await ServerProcess.start(data_dir, *server_flags(clients, cache_mb))
    try:
        started = time.monotonic()
        deadline = started + soak_minutes * 60.0 if soak_minutes > 0 else None
        stop_sampling = asyncio.Event()
        sampler = asyncio.get_running_loop().create_task(_sample_rss(server, report, started, stop_sampling))
        total = clients * requests
        tasks = [
            asyncio.get_running_loop().create_task(_client(plan[c], server.wyoming_port, references, report, deadline))
            for c in range(clients)
        ]
        warm_up_marked = False
        while not all(task.done() for task in tasks):
            await asyncio.wait(tasks, timeout=1.0)
            elapsed = time.monotonic() - started
            done_share = elapsed / (soak_minutes * 60.0) if deadline is not None else report.requests / total
            if not warm_up_marked and done_share >= WARM_UP_SHARE:
                report.warm_up_at_s, warm_up_marked = elapsed, True
            if progress and deadline is not None:
                print(
                    f"{elapsed / 60:.1f} min: {report.served} served, {len(report.failures)} failures, "
                    f"RSS {server.rss_bytes() / MB:.1f} MB",
                    file=sys.stderr,
                )
        for task in tasks:
            task.result()
        report.elapsed_s = time.monotonic() - started
        values = await server.wait_idle()
        report.cache_hits = values.get("edge_tts_clone_cache_hits_total", 0.0)
        report.cache_misses = values.get("edge_tts_clone_cache_misses_total", 0.0)
        stop_sampling.set()
        await sampler
        report.rss_idle_end = server.rss_bytes()
        report.rss_samples.append((time.monotonic() - started, report.rss_idle_end))
        report.queue_waits_s = list(server.queue_waits_s)
        code = await server.stop()
        if code != 0:
            report.failures.append(f"the server exited with {code} on SIGTERM")
    finally:
        await server.kill()
    return report


def main(argv: list[str] | None = None) -> int:
    """The command: build a tiny data folder (or use --data-dir), run, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=16, help="concurrent Wyoming clients")
    parser.add_argument("--requests", type=int, default=50, help="requests per client (the plan a soak repeats)")
    parser.add_argument("--soak-minutes", type=float, default=0.0, help="keep going this long (0: one pass)")
    parser.add_argument("--cache-size-mb", type=float, default=16.0, help="the server's cache bound")
    parser.add_argument("--seed", type=int, default=2026, help="seed of the request plan")
    parser.add_argument("--data-dir", type=Path, default=None, help="a data folder built before (default: a new one)")
    args = parser.parse_args(argv)
    from .tiny_data import build_data_dir

    with tempfile.TemporaryDirectory(prefix="load-soak-") as scratch:
        data_dir = args.data_dir
        if data_dir is None or not data_dir.exists():
            data_dir = build_data_dir(data_dir or Path(scratch) / "data")
        report = asyncio.run(
            run_load(
                data_dir,
                clients=args.clients,
                requests=args.requests,
                soak_minutes=args.soak_minutes,
                cache_mb=args.cache_size_mb,
                settings=PlanSettings(seed=args.seed),
                progress=True,
            )
        )
    print(report.summary())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
