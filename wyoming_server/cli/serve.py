"""`edge-tts-clone serve` (also `python -m wyoming_server`): run the Wyoming server and the admin API.

Flags follow wyoming-piper's. This is the only place that turns argv into `ServerSettings`;
it opens the voice library, then hands both to `server.app.ServerApp`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
from pathlib import Path
from typing import Any

from .. import __version__
from ..models.catalogue import CATALOGUE, DEFAULT_BASE_URL
from ..settings import (
    BYTES_PER_MB,
    DEFAULT_CACHE_SIZE_MB,
    DEFAULT_DATA_DIR,
    DEFAULT_HTTP_HOST,
    DEFAULT_HTTP_PORT,
    DEFAULT_MAX_CONCURRENT,
    DEFAULT_MAX_FINE_TUNE_MB,
    DEFAULT_MAX_LOADED_MODELS,
    DEFAULT_MAX_QUEUED,
    DEFAULT_MAX_TEXT_CHARS,
    DEFAULT_MAX_UPLOAD_MB,
    DEFAULT_REQUEST_TIMEOUT_S,
    DEFAULT_SAMPLES_PER_CHUNK,
    DEFAULT_SHUTDOWN_GRACE_S,
    DEFAULT_URI,
    PRONUNCIATIONS_FILE,
    CacheSettings,
    EngineSettings,
    Limits,
    ModelJobSettings,
    ServerSettings,
)
from ..storage.layout import CACHE_SUBDIR
from ..voices.library import VoiceLibrary
from .environment import ENVIRONMENT_PREFIX, apply_environment_defaults

_LOGGER = logging.getLogger(__name__)

AUTO_PRECISION = "auto"
PRECISIONS = (AUTO_PRECISION, "int8", "fp32")


def register(subparsers: Any) -> None:
    """Add the `serve` sub-command."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "serve",
        help="run the Wyoming TTS server and the admin web page",
        description="Serve cloned voices to Home Assistant over Wyoming, with an admin API and web page.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--uri", default=DEFAULT_URI, help="Wyoming endpoint: tcp://HOST:PORT, unix://PATH or stdio://"
    )
    parser.add_argument(
        "--http-host", default=DEFAULT_HTTP_HOST, help="address of the admin API and web page"
    )
    parser.add_argument(
        "--http-port",
        type=int,
        default=DEFAULT_HTTP_PORT,
        help="port of the admin API and web page; 0 disables them",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=DEFAULT_DATA_DIR,
        help="data folder: models/, voices/, cache/, admin_token",
    )
    parser.add_argument(
        "--pronunciations",
        type=Path,
        help=f"pronunciation dictionary (JSON; default: <data-dir>/{PRONUNCIATIONS_FILE}, read again when edited)",
    )
    parser.add_argument(
        "--max-concurrent", type=int, default=DEFAULT_MAX_CONCURRENT, help="syntheses running at once"
    )
    parser.add_argument(
        "--max-queued",
        type=int,
        default=DEFAULT_MAX_QUEUED,
        help="requests waiting for a free slot before new ones are refused as busy",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="onnxruntime threads per synthesis; 0 = CPU cores / --max-concurrent",
    )
    parser.add_argument(
        "--max-loaded-models",
        type=int,
        default=DEFAULT_MAX_LOADED_MODELS,
        help="models kept in memory at once (least recently used is unloaded)",
    )
    parser.add_argument(
        "--samples-per-chunk",
        type=int,
        default=DEFAULT_SAMPLES_PER_CHUNK,
        help="audio samples per audio-chunk event",
    )
    parser.add_argument(
        "--no-streaming",
        action="store_true",
        help="do not advertise or accept streaming input (synthesize-start/chunk/stop)",
    )
    parser.add_argument(
        "--cache-size-mb",
        type=float,
        default=DEFAULT_CACHE_SIZE_MB,
        help="size bound of the synthesized-audio cache in <data>/cache; 0 disables it",
    )
    parser.add_argument(
        "--request-timeout",
        type=float,
        default=DEFAULT_REQUEST_TIMEOUT_S,
        help="seconds a request may wait for its first audio (queue included) and for each next sentence",
    )
    parser.add_argument(
        "--max-text-chars",
        type=int,
        default=DEFAULT_MAX_TEXT_CHARS,
        help="longest text of one request (or one stream)",
    )
    parser.add_argument(
        "--max-upload-mb", type=float, default=DEFAULT_MAX_UPLOAD_MB, help="largest enrollment upload"
    )
    parser.add_argument(
        "--max-fine-tune-mb",
        type=float,
        default=DEFAULT_MAX_FINE_TUNE_MB,
        help="largest fine-tune upload (GPT .ckpt and SoVITS .pth together)",
    )
    parser.add_argument(
        "--install-model",
        choices=sorted(CATALOGUE),
        default=None,
        help="install this GPT-SoVITS model in the background at start if it is missing (download + convert)",
    )
    parser.add_argument(
        "--models-base-url",
        default=None,
        metavar="URL",
        help=f"download models from this mirror of {DEFAULT_BASE_URL}",
    )
    parser.add_argument(
        "--zeroconf",
        nargs="?",
        const="",
        default=None,
        metavar="NAME",
        help="announce the server over mDNS as edge-tts-clone-NAME (default NAME: host name)",
    )
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default=AUTO_PRECISION,
        help="GPT-SoVITS graphs to load: auto = INT8 when the model has them, else fp32",
    )
    parser.add_argument(
        "--shutdown-grace",
        type=float,
        default=DEFAULT_SHUTDOWN_GRACE_S,
        help="on SIGTERM, seconds replies in progress may take to finish before they are cut short",
    )
    parser.add_argument("--debug", action="store_true", help="log DEBUG messages")
    parser.add_argument("--log-format", default=logging.BASIC_FORMAT, help="format of log lines")
    parser.add_argument("--version", action="version", version=__version__)
    parser.epilog = (
        f"Every flag can also be set in the environment: {ENVIRONMENT_PREFIX}THREADS=2 for --threads 2, "
        f"{ENVIRONMENT_PREFIX}DEBUG=1 for --debug; a flag on the command line wins."
    )
    apply_environment_defaults(parser, os.environ)
    parser.set_defaults(func=run)


def settings_from_args(args: argparse.Namespace) -> ServerSettings:
    """The frozen settings for these arguments (ValueError with the flag's name when one is wrong)."""
    from ..server.transport import parse_uri

    parse_uri(args.uri)
    if args.max_concurrent < 1:
        raise ValueError("--max-concurrent must be at least 1")
    threads = args.threads or max(1, (os.cpu_count() or 1) // args.max_concurrent)
    if threads < 1:
        raise ValueError("--threads must not be negative")
    if args.max_loaded_models < 1:
        raise ValueError("--max-loaded-models must be at least 1")
    if args.cache_size_mb < 0:
        raise ValueError("--cache-size-mb must not be negative")
    data_dir: Path = args.data_dir
    cache_bytes = int(args.cache_size_mb * BYTES_PER_MB)
    return ServerSettings(
        data_dir=data_dir,
        uri=args.uri,
        http_host=args.http_host,
        http_port=None if args.http_port == 0 else args.http_port,
        samples_per_chunk=args.samples_per_chunk,
        streaming=not args.no_streaming,
        zeroconf_name=args.zeroconf,
        limits=Limits(
            max_concurrent=args.max_concurrent,
            max_queued=args.max_queued,
            request_timeout_s=args.request_timeout,
            max_text_chars=args.max_text_chars,
            max_upload_bytes=int(args.max_upload_mb * BYTES_PER_MB),
            max_fine_tune_bytes=int(args.max_fine_tune_mb * BYTES_PER_MB),
        ),
        cache=CacheSettings(directory=data_dir / CACHE_SUBDIR, max_bytes=cache_bytes)
        if cache_bytes > 0
        else None,
        engine=EngineSettings(
            threads=threads,
            max_loaded_models=args.max_loaded_models,
            precision=None if args.precision == AUTO_PRECISION else args.precision,
        ),
        pronunciations=args.pronunciations,
        shutdown_grace_s=args.shutdown_grace,
        models=ModelJobSettings(base_url=args.models_base_url, install_at_start=args.install_model),
    )


def open_voice_library(settings: ServerSettings) -> VoiceLibrary:
    """The real voice library (imported here: it pulls in onnxruntime and the stock Piper voice)."""
    from ..voices.folder_library import open_library

    library: VoiceLibrary = open_library(
        settings.data_dir,
        max_loaded_models=settings.engine.max_loaded_models,
        threads=settings.engine.threads,
        precision=settings.engine.precision,
    )
    return library


async def serve(settings: ServerSettings, library: VoiceLibrary) -> None:
    """Run until SIGTERM/SIGINT (or, on stdio, the end of input), then stop gracefully."""
    from ..server.app import ServerApp

    loop = asyncio.get_running_loop()
    stop_requested = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop_requested.set)
    app = ServerApp(settings, library)
    await app.start()
    waiters = [asyncio.ensure_future(app.wait()), asyncio.ensure_future(stop_requested.wait())]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
        if stop_requested.is_set():
            _LOGGER.info("Stopping (replies in progress get %.0f s to finish)", settings.shutdown_grace_s)
        await app.stop(settings.shutdown_grace_s)
        _LOGGER.info("Stopped")


def run(args: argparse.Namespace) -> int:
    """`func` of the sub-command: returns the exit code."""
    try:
        settings = settings_from_args(args)
        library = open_voice_library(settings)
    except (ValueError, RuntimeError, OSError) as err:
        _LOGGER.error("%s", err)
        return 2 if isinstance(err, ValueError) else 1
    try:
        asyncio.run(serve(settings, library))
    except OSError as err:  # e.g. the port is taken
        _LOGGER.error("Cannot serve: %s", err)
        return 1
    return 0
