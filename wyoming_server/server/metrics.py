"""Prometheus metrics in the text exposition format, written by hand (no extra dependency).

Updated only from the event loop, so no locking. `/metrics` renders them together with gauges
read at scrape time (models loaded, voices, requests running and waiting).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

PREFIX: Final = "edge_tts_clone_"
TTFA_BUCKETS_S: Final = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)
QUEUE_WAIT_BUCKETS_S: Final = (0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)
RTF_BUCKETS: Final = (0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 4.0, 8.0)


def _labels(pairs: tuple[tuple[str, str], ...]) -> str:
    if not pairs:
        return ""
    escaped = (
        f'{k}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34)).replace(chr(10), " ")}"'
        for k, v in pairs
    )
    return "{" + ",".join(escaped) + "}"


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


@dataclass(slots=True)
class Counter:
    """A monotonically increasing count, optionally split by labels."""

    name: str
    help: str
    label_names: tuple[str, ...] = ()
    values: dict[tuple[str, ...], float] = field(default_factory=dict)

    def inc(self, *labels: str, amount: float = 1.0) -> None:
        """Add `amount` to the series with these label values."""
        if len(labels) != len(self.label_names):
            raise ValueError(f"{self.name} takes labels {self.label_names}")
        self.values[labels] = self.values.get(labels, 0.0) + amount

    def value(self, *labels: str) -> float:
        """Current value of one series (0 if never incremented)."""
        return self.values.get(labels, 0.0)

    def render(self) -> Iterable[str]:
        """Exposition lines."""
        yield f"# HELP {PREFIX}{self.name} {self.help}"
        yield f"# TYPE {PREFIX}{self.name} counter"
        if not self.values and not self.label_names:
            yield f"{PREFIX}{self.name} 0"
        for labels, value in sorted(self.values.items()):
            pairs = tuple(zip(self.label_names, labels, strict=True))
            yield f"{PREFIX}{self.name}{_labels(pairs)} {_number(value)}"


@dataclass(slots=True)
class Histogram:
    """Observations counted into cumulative buckets."""

    name: str
    help: str
    buckets: tuple[float, ...]
    counts: list[int] = field(default_factory=list)
    total: float = 0.0
    count: int = 0

    def __post_init__(self) -> None:
        self.counts = [0] * len(self.buckets)

    def observe(self, value: float) -> None:
        """Record one observation."""
        self.total += value
        self.count += 1
        for index, bound in enumerate(self.buckets):
            if value <= bound:
                self.counts[index] += 1

    def render(self) -> Iterable[str]:
        """Exposition lines."""
        yield f"# HELP {PREFIX}{self.name} {self.help}"
        yield f"# TYPE {PREFIX}{self.name} histogram"
        for bound, count in zip(self.buckets, self.counts, strict=True):
            yield f'{PREFIX}{self.name}_bucket{{le="{_number(bound)}"}} {count}'
        yield f'{PREFIX}{self.name}_bucket{{le="+Inf"}} {self.count}'
        yield f"{PREFIX}{self.name}_sum {_number(self.total)}"
        yield f"{PREFIX}{self.name}_count {self.count}"


class ServerMetrics:
    """Every metric the server keeps."""

    def __init__(self) -> None:
        self.requests = Counter("requests_total", "Synthesis requests received.", ("channel", "kind"))
        self.errors = Counter("errors_total", "Failed requests by error code.", ("code",))
        self.cache_hits = Counter("cache_hits_total", "Replies served from the audio cache.")
        self.cache_misses = Counter("cache_misses_total", "Replies the engine had to synthesize.")
        self.audio_seconds = Counter("audio_seconds_total", "Seconds of audio synthesized by the engine.")
        self.time_to_first_audio = Histogram(
            "time_to_first_audio_seconds",
            "From request to its first audio leaving the server.",
            TTFA_BUCKETS_S,
        )
        self.queue_wait = Histogram(
            "queue_wait_seconds",
            "From request to its synthesis slot (admission queue; cache hits never wait).",
            QUEUE_WAIT_BUCKETS_S,
        )
        self.real_time_factor = Histogram(
            "real_time_factor",
            "Synthesis time divided by audio duration (below 1 is faster than real time).",
            RTF_BUCKETS,
        )

    def render(self, gauges: Mapping[str, tuple[str, float]]) -> str:
        """The whole exposition: counters, histograms, then `gauges` (name -> (help, value))."""
        lines: list[str] = []
        for metric in (self.requests, self.errors, self.cache_hits, self.cache_misses, self.audio_seconds):
            lines.extend(metric.render())
        for histogram in (self.time_to_first_audio, self.queue_wait, self.real_time_factor):
            lines.extend(histogram.render())
        for name, (help_text, value) in gauges.items():
            lines.append(f"# HELP {PREFIX}{name} {help_text}")
            lines.append(f"# TYPE {PREFIX}{name} gauge")
            lines.append(f"{PREFIX}{name} {_number(value)}")
        return "\n".join(lines) + "\n"
