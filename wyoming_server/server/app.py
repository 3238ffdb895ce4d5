"""Assembles the running server from settings and a voice library: Wyoming, admin HTTP, zeroconf.

`cli/serve.py` builds the settings and opens the library, then runs `ServerApp`; tests and the
benchmark build a `ServerApp` around a fake library the same way.
"""

from __future__ import annotations

import asyncio
import logging
import time
from functools import partial

from .. import __version__
from ..jobs.manager import JobManager
from ..settings import ServerSettings
from ..voices.library import VoiceLibrary
from ..voices.pronunciation_file import PronunciationFile
from .admin import AdminContext, AdminSite, create_admin_app
from .admin.context import Gauges
from .cache import AudioCache
from .discovery import ZeroconfAnnouncer, detect_host_ip, txt_properties
from .handler import HandlerContext, TtsEventHandler
from .identity import ADMIN_TOKEN_FILE, load_or_create_admin_token, load_or_create_server_id
from .metrics import ServerMetrics
from .runner import SynthesisRunner
from .transport import WyomingListener, parse_uri

_LOGGER = logging.getLogger(__name__)


class ServerApp:
    """The whole server: `await start()`, then `await wait()` or `await stop()`."""

    def __init__(self, settings: ServerSettings, library: VoiceLibrary, jobs: JobManager | None = None) -> None:
        """`jobs` defaults to the real job manager of the data folder (tests pass one with a fake converter)."""
        self.settings = settings
        self.library = library
        self.jobs = jobs or JobManager(settings.data_dir, settings.models)
        self.jobs.enroll = self.jobs.enroll or library.enroll
        self.endpoint = parse_uri(settings.uri)
        self.metrics = ServerMetrics()
        self.cache: AudioCache | None = None
        self.runner: SynthesisRunner | None = None
        self.listener: WyomingListener | None = None
        self.admin: AdminSite | None = None
        self.server_id = ""
        self._announcer: ZeroconfAnnouncer | None = None
        self._stopped = asyncio.Event()
        self.warm_up_done: asyncio.Future[None] | None = None

    @property
    def wyoming_port(self) -> int:
        """The bound Wyoming TCP port (0 for unix/stdio or before start)."""
        return self.listener.port if self.listener is not None else 0

    @property
    def http_port(self) -> int:
        """The bound admin port (0 when disabled or before start)."""
        return self.admin.port if self.admin is not None else 0

    def _gauges(self) -> Gauges:
        gauges: Gauges = {
            "wyoming_connections": (
                "Open Wyoming connections.",
                float(self.listener.connections if self.listener else 0),
            ),
        }
        if self.cache is not None:
            gauges["cache_bytes"] = ("Bytes in the audio cache.", float(self.cache.total_bytes))
            gauges["cache_entries"] = ("Entries in the audio cache.", float(len(self.cache)))
        return gauges

    async def start(self) -> None:
        """Start every part; raises (after cleaning up) if one cannot start."""
        loop = asyncio.get_running_loop()
        settings = self.settings
        if settings.cache is not None and settings.cache.enabled:
            cache_settings = settings.cache
            self.cache = await loop.run_in_executor(
                None, lambda: AudioCache(cache_settings.directory, cache_settings.max_bytes)
            )
        self.server_id = await loop.run_in_executor(None, load_or_create_server_id, settings.data_dir)
        self.runner = SynthesisRunner(
            self.library,
            limits=settings.limits,
            metrics=self.metrics,
            cache=self.cache,
            pronunciations=PronunciationFile(settings.pronunciations_path),
        )
        context = HandlerContext(runner=self.runner, settings=settings, metrics=self.metrics)
        self.listener = WyomingListener(
            self.endpoint,
            partial(TtsEventHandler, context),
            stream_limit=settings.limits.max_event_header_bytes,
            max_connections=settings.limits.max_connections,
            idle_timeout_s=settings.limits.idle_timeout_s,
        )
        try:
            await self.listener.start()
            await self.jobs.start()
            if settings.http_port is not None:
                await self._start_admin(self.runner)
            if settings.zeroconf_name is not None:
                await self._start_zeroconf()
        except BaseException:
            await self.stop()
            raise
        _LOGGER.info("edge-tts-clone %s ready", __version__)
        self.warm_up_done = loop.run_in_executor(None, self._warm_up)

    def _warm_up(self) -> None:
        """Load the default voice's model in the background: requests are served meanwhile."""
        started = time.perf_counter()
        try:
            self.library.warm_up()
        except Exception as err:  # the request that needs it will get the error; the server goes on
            _LOGGER.warning("Could not load the default voice ahead of the first request: %s", err)
            return
        _LOGGER.info("Default voice loaded in %.1f s", time.perf_counter() - started)

    async def _start_admin(self, runner: SynthesisRunner) -> None:
        loop = asyncio.get_running_loop()
        token = await loop.run_in_executor(None, load_or_create_admin_token, self.settings.data_dir)
        context = AdminContext(
            library=self.library,
            runner=runner,
            metrics=self.metrics,
            limits=self.settings.limits,
            token=token,
            server_id=self.server_id,
            version=__version__,
            wyoming_port=lambda: self.wyoming_port,
            extra_gauges=self._gauges,
            jobs=self.jobs,
        )
        limits = self.settings.limits
        self.admin = AdminSite(
            create_admin_app(context),
            self.settings.http_host,
            self.settings.http_port or 0,
            header_timeout_s=limits.http_header_timeout_s,
            max_connections=limits.max_http_connections,
        )
        await self.admin.start()
        _LOGGER.info("Admin token: in %s (writes need it)", self.settings.data_dir / ADMIN_TOKEN_FILE)

    async def _start_zeroconf(self) -> None:
        if self.endpoint.scheme != "tcp":
            _LOGGER.warning("--zeroconf needs a tcp:// --uri; not announcing %s", self.settings.uri)
            return
        host = self.endpoint.host
        any_address = host in ("0.0.0.0", "", "::")
        host_ip = detect_host_ip() if any_address else host
        self._announcer = ZeroconfAnnouncer(
            name=self.settings.zeroconf_name or "",
            host_ip=host_ip,
            interfaces=None if any_address else [host_ip],  # announce where we listen
            port=self.wyoming_port,
            properties=txt_properties(
                http_port=self.http_port or None, server_id=self.server_id, version=__version__
            ),
        )
        try:
            await self._announcer.start()
        except OSError as err:
            _LOGGER.warning("Zeroconf announcement failed (%s); Home Assistant must be set up by hand", err)
            self._announcer = None

    async def wait(self) -> None:
        """Until `stop()` is called, or (stdio) until the input has ended."""
        if self.listener is None:
            return
        waiters = [
            asyncio.ensure_future(self._stopped.wait()),
            asyncio.ensure_future(self.listener.wait_finished()),
        ]
        _done, pending = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()

    async def stop(self, grace_s: float = 0.0) -> None:
        """Stop accepting work, let replies in progress finish for `grace_s`, end connections (their
        syntheses stop), then shut everything down."""
        self._stopped.set()
        if self._announcer is not None:
            await self._announcer.stop()
            self._announcer = None
        if self.listener is not None:
            await self.listener.stop(grace_s)
        if self.admin is not None:
            await self.admin.stop()
            self.admin = None
        await self.jobs.stop()
        if self.runner is not None:
            await self.runner.close()
