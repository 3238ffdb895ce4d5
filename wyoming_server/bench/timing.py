"""Timing and machine helpers of the benchmark: best of repeated runs, memory bandwidth, RSS.

The machine the benchmark runs on is often shared, so a timing is the best (shortest) of several
runs, the one least disturbed by other work; the median is kept beside it in the JSON. The figures
that matter most are ratios taken in the same run.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Final

import numpy as np

BANDWIDTH_BYTES: Final = 256 << 20
"""Size of the arrays the bandwidth probe streams (far beyond any cache)."""
BANDWIDTH_REPEATS: Final = 5


@dataclass(frozen=True)
class Timing:
    """Seconds of repeated runs."""

    best: float
    """Shortest wall time."""
    median: float
    """Median wall time."""
    cpu: float
    """Shortest CPU time of the process (all its threads): with one thread, what an idle core takes."""


def best_of(times: list[float], cpu_times: list[float]) -> Timing:
    """The best and the median of some wall times, and the best CPU time."""
    return Timing(min(times), statistics.median(times), min(cpu_times))


def time_runs(run: Callable[[], Any], repeats: int, warmup: int = 1) -> Timing:
    """Wall and CPU time of `run()` over `repeats` calls, after `warmup` untimed calls."""
    for _ in range(warmup):
        run()
    times, cpu_times = [], []
    for _ in range(repeats):
        started, cpu_started = time.perf_counter(), time.process_time()
        run()
        times.append(time.perf_counter() - started)
        cpu_times.append(time.process_time() - cpu_started)
    return best_of(times, cpu_times)


def memory_bandwidth(threads: int, size_bytes: int = BANDWIDTH_BYTES) -> dict[str, float]:
    """Measured bandwidth in GB/s: `read` (summing, best of runs) and `copy` (read + write bytes).

    Each of `threads` workers streams its own slice, as the onnxruntime threads stream their
    slices of the weights; numpy releases the GIL inside both loops.
    """
    source = np.ones(size_bytes // 4, dtype=np.float32)
    target = np.empty_like(source)
    slices = np.array_split(np.arange(source.size), threads)
    bounds = [(int(s[0]), int(s[-1]) + 1) for s in slices if s.size]
    sink = np.zeros(len(bounds))

    def read(part: int) -> None:
        lo, hi = bounds[part]
        sink[part] = np.add.reduce(source[lo:hi])

    def copy(part: int) -> None:
        lo, hi = bounds[part]
        np.copyto(target[lo:hi], source[lo:hi])

    best = {"read": float("inf"), "copy": float("inf")}
    with ThreadPoolExecutor(max_workers=len(bounds)) as pool:
        for _ in range(BANDWIDTH_REPEATS):
            for name, work in (("read", read), ("copy", copy)):
                started = time.perf_counter()
                list(pool.map(work, range(len(bounds))))
                best[name] = min(best[name], time.perf_counter() - started)
    return {
        "read_gb_s": size_bytes / best["read"] / 1e9,
        "copy_gb_s": 2 * size_bytes / best["copy"] / 1e9,
        "threads": float(len(bounds)),
    }


def machine_info(threads: int) -> dict[str, Any]:
    """What the figures were measured on."""
    import onnxruntime

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "onnxruntime": onnxruntime.__version__,
        "threads": threads,
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else [],
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
    }


def proc_status_mb(keys: tuple[str, ...] = ("VmRSS", "VmHWM")) -> dict[str, float]:
    """Fields of /proc/self/status in MB (Linux); empty elsewhere."""
    values: dict[str, float] = {}
    try:
        with open("/proc/self/status", encoding="utf-8") as f:
            for line in f:
                name, _, rest = line.partition(":")
                if name in keys:
                    values[name] = int(rest.split()[0]) / 1024.0
    except OSError:
        pass
    return values


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two vectors (float64)."""
    a64, b64 = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
    return float(np.dot(a64, b64) / (np.linalg.norm(a64) * np.linalg.norm(b64)))
