"""The figures of one fuzz run (`fuzz_wyoming.py`) and how memory and descriptors are measured."""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import tracemalloc
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class FuzzReport:
    """Figures of one run; `failures` empty means every property held."""

    frames: int = 0
    distinct_frames: set[bytes] = field(default_factory=set)
    """Digests of the frames sent (a flood repeats one frame; boundary frames are fixed)."""
    connections: int = 0
    errors_returned: int = 0
    error_codes: Counter[str] = field(default_factory=Counter)
    closed_by_server: int = 0
    pongs: int = 0
    labels: Counter[str] = field(default_factory=Counter)
    abandoned: int = 0
    flood_closed: int = 0
    """Flood connections closed by the server (made room for newer ones, or idle)."""
    flood_refused: int = 0
    dribblers_closed: int = 0
    bystander_ok: int = 0
    bystander_busy: int = 0
    server_log_errors: list[str] = field(default_factory=list)
    rss_start_kb: int = 0
    rss_warm_kb: int = 0
    rss_end_kb: int = 0
    rss_curve_kb: list[tuple[int, int]] = field(default_factory=list)
    """(frames so far, RSS kB) after each tenth of the frames."""
    live_growth_kb: dict[str, float] = field(default_factory=dict)
    """With --tracemalloc: live Python memory gained from after warm-up to the end, by owner."""
    open_fds_start: int = 0
    open_fds_end: int = 0
    duration_s: float = 0.0
    failures: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """The figures for docs/reliability.md."""
        codes = ", ".join(f"{code} {count}" for code, count in sorted(self.error_codes.items()))
        return "\n".join(
            [
                f"frames fuzzed:            {self.frames} ({len(self.distinct_frames)} distinct)",
                f"fuzz connections:         {self.connections} (+{self.abandoned} abandoned)",
                f"idle flood past the cap:  {self.flood_closed} closed by the server, {self.flood_refused} refused; "
                f"{self.dribblers_closed} dribbling clients closed",
                f"errors returned:          {self.errors_returned} ({codes})",
                f"closed by the server:     {self.closed_by_server}",
                f"sentinel pongs:           {self.pongs}",
                f"bystander requests:       {self.bystander_ok} correct, {self.bystander_busy} busy (retried)",
                f"server log errors:        {len(self.server_log_errors)}",
                f"RSS:                      start {self.rss_start_kb} kB, after warm-up {self.rss_warm_kb} kB, "
                f"end {self.rss_end_kb} kB (growth after warm-up {self.rss_end_kb - self.rss_warm_kb:+d} kB)",
                "RSS by frames (kB):       " + ", ".join(f"{frames}: {kb}" for frames, kb in self.rss_curve_kb),
                *(
                    ["live memory growth (kB):  " + ", ".join(f"{k} {v:+.1f}" for k, v in self.live_growth_kb.items())]
                    if self.live_growth_kb
                    else []
                ),
                f"open fds:                 {self.open_fds_start} before, {self.open_fds_end} after",
                f"duration:                 {self.duration_s:.1f} s",
                f"failures:                 {len(self.failures)}",
            ]
        )


def rss_kb() -> int:
    """Resident set size of this process (the server runs in it), kB, after giving free memory back.

    The fuzzer makes megabyte-sized frames; glibc keeps freed heap memory mapped, so without
    `malloc_trim` the figure mostly shows the allocator's high-water mark, not what is live.
    """
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def open_fds() -> int:
    """File descriptors open in this process."""
    return len(os.listdir("/proc/self/fd"))


TRACEBACK_FRAMES = 30
_OWNERS = (
    ("/wyoming_server/", "server"),
    ("/hypothesis/", "hypothesis"),
    ("/tests/support/fakes.py", "fake library"),
    ("/tests/reliability/", "fuzz harness"),
)


def _owner(traceback: tracemalloc.Traceback) -> str:
    """Who made an allocation: the innermost frame that is ours, hypothesis' or the fake's."""
    files = [frame.filename for frame in reversed(traceback)]  # a Traceback runs oldest first
    for filename in files:
        for marker, owner in _OWNERS:
            if marker in filename:
                return owner
    if any("/tests/support/threaded_server.py" in filename for filename in files):
        return "server event loop"  # asyncio's own objects (transports, handles) on the server's thread
    return "other"


def live_growth_by_owner(before: tracemalloc.Snapshot, after: tracemalloc.Snapshot) -> dict[str, float]:
    """kB of live Python memory gained between two snapshots, per owner."""
    growth: Counter[str] = Counter()
    for stat in after.compare_to(before, "traceback"):
        growth[_owner(stat.traceback)] += stat.size_diff
    owners = [owner for _marker, owner in _OWNERS]
    return {owner: growth[owner] / 1024 for owner in (*owners, "server event loop", "other")}
