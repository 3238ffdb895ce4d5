"""Every default a user can change, and the frozen settings `cli/serve.py` builds from the command line.

Nothing below the CLI reads argv or the environment: every knob arrives here, and the command
line shows these defaults in `--help`. Per-request synthesis defaults (upstream's sampling
values) are the fields of `engine.SynthesisOptions`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

DEFAULT_DATA_DIR: Final = Path("voices")
"""The repository's `voices/` folder when run from a checkout; `--data-dir` moves it."""
DEFAULT_THREADS: Final = min(4, os.cpu_count() or 1)
"""onnxruntime intra-op threads per session: a Pi 4/5 is fastest at its core count."""
DEFAULT_MAX_LOADED_MODELS: Final = 2
"""Models kept in memory at once; the least recently used one is unloaded."""

DEFAULT_URI: Final = "tcp://0.0.0.0:10210"
DEFAULT_HTTP_HOST: Final = "0.0.0.0"
DEFAULT_HTTP_PORT: Final = 10211
PRONUNCIATIONS_FILE: Final = "pronunciations.json"
"""The pronunciation dictionary's name in the data folder (docs/text-frontend.md)."""
DEFAULT_SAMPLES_PER_CHUNK: Final = 1024
"""Samples per `audio-chunk` event (wyoming-piper's default): 2048 bytes of s16le mono."""

DEFAULT_MAX_CONCURRENT: Final = 1
"""Syntheses running at once; a Raspberry Pi has room for one GPT-SoVITS model at full speed."""
DEFAULT_MAX_QUEUED: Final = 8
"""Requests allowed to wait for a free synthesis slot before new ones get `busy`."""
DEFAULT_REQUEST_TIMEOUT_S: Final = 90.0
DEFAULT_MAX_TEXT_CHARS: Final = 2000
DEFAULT_MAX_UPLOAD_MB: Final = 20
DEFAULT_HTTP_BODY_TIMEOUT_S: Final = 30.0
DEFAULT_ERROR_LINGER_S: Final = 1.0
DEFAULT_MAX_EVENT_HEADER_BYTES: Final = 64 * 1024
DEFAULT_MAX_EVENT_DATA_BYTES: Final = 1024 * 1024
DEFAULT_MAX_EVENT_PAYLOAD_BYTES: Final = 4 * 1024 * 1024
DEFAULT_MAX_PENDING_REPLIES: Final = 4
DEFAULT_MAX_CONNECTIONS: Final = 64
"""Open connections per listener (Wyoming, admin HTTP) at once."""
DEFAULT_IDLE_TIMEOUT_S: Final = 300.0
"""A Wyoming connection with nothing in progress that completes no event for this long is closed."""
DEFAULT_HTTP_HEADER_TIMEOUT_S: Final = 15.0
"""Seconds an HTTP client may take to send a request's headers (and to start one on a kept-alive connection)."""
DEFAULT_MAX_UPLOAD_AUDIO_S: Final = 60.0
DEFAULT_CACHE_SIZE_MB: Final = 200
DEFAULT_MAX_FINE_TUNE_MB: Final = 1024
"""Largest fine-tune upload (GPT .ckpt and SoVITS .pth together); a v2 pair is about 260 MB."""
DEFAULT_JOB_PRECISION: Final = "int8"
"""Graphs a model install or import keeps: the engine speaks with INT8; fp32 copies would add about 0.5 GB."""
DEFAULT_SHUTDOWN_GRACE_S: Final = 5.0
"""On SIGTERM, seconds a reply in progress may take to finish (Docker and the add-on kill after 10)."""

BYTES_PER_MB: Final = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds that keep one client (or a hostile one) from starving the others."""

    max_concurrent: int = DEFAULT_MAX_CONCURRENT
    """Syntheses running at once (the engine's worker threads)."""
    max_queued: int = DEFAULT_MAX_QUEUED
    """Requests waiting for a slot; one more is refused with `busy`."""
    request_timeout_s: float = DEFAULT_REQUEST_TIMEOUT_S
    """Seconds a request may wait for its first audio (queue wait included), and for each next sentence."""
    max_text_chars: int = DEFAULT_MAX_TEXT_CHARS
    """Longest text of one `synthesize` (or of one whole stream)."""
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_MB * BYTES_PER_MB
    """Largest HTTP request body (enrollment uploads)."""
    http_body_timeout_s: float = DEFAULT_HTTP_BODY_TIMEOUT_S
    """Seconds an HTTP client may take to send its request body."""
    error_linger_s: float = DEFAULT_ERROR_LINGER_S
    """After an `error` that ends a request, close the connection if the client stays silent this long.

    Home Assistant up to 2026.3 ignores `error` and waits for `audio-stop` or end of stream;
    closing releases it (it then reports "No TTS"), while a client that understands `error` and
    sends its next request at once keeps its connection.
    """
    max_event_header_bytes: int = DEFAULT_MAX_EVENT_HEADER_BYTES
    """Longest JSON header line of a Wyoming event."""
    max_event_data_bytes: int = DEFAULT_MAX_EVENT_DATA_BYTES
    """Largest `data_length` of a Wyoming event."""
    max_event_payload_bytes: int = DEFAULT_MAX_EVENT_PAYLOAD_BYTES
    """Largest `payload_length` of a Wyoming event (a TTS server reads and drops payloads)."""
    max_pending_replies: int = DEFAULT_MAX_PENDING_REPLIES
    """Requests one connection may have queued behind its current reply."""
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    """Open Wyoming socket connections; a flood of idle ones must not exhaust file descriptors."""
    idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S
    """A socket connection that is owed no reply and completes no event for this long is closed
    (a client that sends half a header, or one byte a minute, included)."""
    max_http_connections: int = DEFAULT_MAX_CONNECTIONS
    """Open admin HTTP connections; more are answered 503 and closed."""
    http_header_timeout_s: float = DEFAULT_HTTP_HEADER_TIMEOUT_S
    """Seconds an HTTP client may take to send its request headers (slowloris)."""
    max_upload_audio_s: float = DEFAULT_MAX_UPLOAD_AUDIO_S
    """Longest enrollment clip, read from its header before anything decodes it."""
    max_fine_tune_bytes: int = DEFAULT_MAX_FINE_TUNE_MB * BYTES_PER_MB
    """Largest fine-tune upload (both checkpoints), streamed to disk rather than held in memory."""

    def __post_init__(self) -> None:
        if self.max_concurrent < 1:
            raise ValueError("--max-concurrent must be at least 1")
        if self.max_queued < 0:
            raise ValueError("--max-queued must not be negative")
        if self.request_timeout_s <= 0:
            raise ValueError("--request-timeout must be positive")
        if self.max_text_chars < 1:
            raise ValueError("--max-text-chars must be at least 1")
        if self.max_upload_bytes < 1:
            raise ValueError("--max-upload-mb must be positive")
        if self.max_pending_replies < 1:
            raise ValueError("max_pending_replies must be at least 1")
        if self.max_connections < 1 or self.max_http_connections < 1:
            raise ValueError("connection limits must be at least 1")
        if self.idle_timeout_s <= 0 or self.http_header_timeout_s <= 0:
            raise ValueError("idle and header timeouts must be positive")
        if self.max_upload_audio_s <= 0:
            raise ValueError("max_upload_audio_s must be positive")
        if self.max_fine_tune_bytes < 1:
            raise ValueError("--max-fine-tune-mb must be positive")


@dataclass(frozen=True, slots=True)
class CacheSettings:
    """The on-disk cache of synthesized audio."""

    directory: Path
    max_bytes: int = DEFAULT_CACHE_SIZE_MB * BYTES_PER_MB
    """0 disables the cache."""

    @property
    def enabled(self) -> bool:
        """True unless the size bound is zero."""
        return self.max_bytes > 0


@dataclass(frozen=True, slots=True)
class EngineSettings:
    """What `open_library` needs to load models."""

    threads: int
    """onnxruntime intra-op threads per session."""
    max_loaded_models: int = DEFAULT_MAX_LOADED_MODELS
    """Models kept in memory at once (least recently used one is unloaded)."""
    precision: str | None = None
    """GPT-SoVITS graphs to load ("int8", "fp32"); None: INT8 when the model has them."""


@dataclass(frozen=True, slots=True)
class ModelJobSettings:
    """Installing and importing GPT-SoVITS models from the web page, the admin API and Home Assistant."""

    base_url: str | None = None
    """Where the official files are downloaded from; None: the official repository (`models/catalogue.py`)."""
    install_at_start: str | None = None
    """A catalogue model (e.g. "v2pro") to install in the background when the server starts without it."""
    precision: str = DEFAULT_JOB_PRECISION
    """Graphs each conversion keeps: "int8", "fp32" or "both"."""

    def __post_init__(self) -> None:
        if self.precision not in ("int8", "fp32", "both"):
            raise ValueError(f"precision must be int8, fp32 or both, not {self.precision!r}")


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """Everything the running server needs."""

    data_dir: Path
    uri: str = DEFAULT_URI
    """Wyoming endpoint: tcp://host:port, unix://path or stdio://."""
    http_host: str = DEFAULT_HTTP_HOST
    http_port: int | None = DEFAULT_HTTP_PORT
    """Admin API + web page port; None disables it, 0 picks a free port (tests)."""
    samples_per_chunk: int = DEFAULT_SAMPLES_PER_CHUNK
    streaming: bool = True
    """Advertise and accept streaming input (synthesize-start/chunk/stop)."""
    zeroconf_name: str | None = None
    """None disables the mDNS announcement; otherwise the instance-name suffix ("" = host name)."""
    limits: Limits = field(default_factory=Limits)
    cache: CacheSettings | None = None
    """None disables the cache (same as max_bytes 0)."""
    engine: EngineSettings = field(default_factory=lambda: EngineSettings(threads=1))
    models: ModelJobSettings = field(default_factory=ModelJobSettings)
    shutdown_grace_s: float = DEFAULT_SHUTDOWN_GRACE_S
    """On SIGTERM: seconds replies in progress may take to finish before they are cut short."""
    pronunciations: Path | None = None
    """The pronunciation dictionary; None is `<data_dir>/pronunciations.json`."""

    @property
    def pronunciations_path(self) -> Path:
        """Where the pronunciation dictionary is read from (it need not exist)."""
        return self.pronunciations or pronunciations_path(self.data_dir)

    def __post_init__(self) -> None:
        if self.shutdown_grace_s < 0:
            raise ValueError("--shutdown-grace must not be negative")
        if self.samples_per_chunk < 1:
            raise ValueError("--samples-per-chunk must be at least 1")
        if self.http_port is not None and not 0 <= self.http_port <= 65535:
            raise ValueError("--http-port must be between 0 and 65535")


def pronunciations_path(data_dir: Path, given: Path | None = None) -> Path:
    """The pronunciation dictionary of a data folder, unless a path is given (server and CLI alike)."""
    return given or data_dir / PRONUNCIATIONS_FILE
