"""Client for one edge-tts-clone server: Wyoming for speech, the admin HTTP API for voices.

Knows nothing of Home Assistant entities; it only needs an aiohttp session (HA's shared
one). Every failure becomes one of the errors in `errors.py`. The wire contract is
`docs/http-api.md` in the repository.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from typing import IO, Any
from urllib.parse import quote

import aiohttp
from yarl import URL

from .const import ENROLL_TIMEOUT_S, HTTP_TIMEOUT_S, JOB_POLL_S, JOB_WAIT_LIMIT_S, UPLOAD_IDLE_TIMEOUT_S
from .errors import CannotConnect, InvalidAuth, NotEdgeTtsClone, ProtocolError, ServerError
from .wire import (
    AudioFormat,
    EnrollRequest,
    EnrollResult,
    FineTuneRequest,
    ServerHealth,
    ServerJob,
    ServerVoice,
    SynthesizedAudio,
    WyomingInfo,
)
from .wyoming_link import WyomingLink

_LOGGER = logging.getLogger(__name__)


class EdgeTtsCloneClient:
    """Talks to one server; cheap to create, holds no connection open."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        host: str,
        wyoming_port: int,
        http_port: int,
        token: str,
    ) -> None:
        """`token` is the admin token from the server's data folder."""
        self._session = session
        self._token = token
        self.host = host
        self.http_port = http_port
        self.wyoming = WyomingLink(host, wyoming_port)
        self.base_url = URL.build(scheme="http", host=host, port=http_port)

    # ---- Wyoming ----------------------------------------------------------------------

    async def async_describe(self) -> WyomingInfo:
        """The server's TTS program as Wyoming describes it."""
        return await self.wyoming.describe()

    async def async_synthesize(
        self, text: str, voice: str | None, style: str | None = None, extras: Mapping[str, Any] | None = None
    ) -> SynthesizedAudio:
        """Synthesize `text` in one request; `extras` are speed/seed (namespaced on the wire)."""
        return await self.wyoming.synthesize(text, voice, style, extras or {})

    def async_stream_synthesize(
        self,
        text_chunks: AsyncIterable[str],
        voice: str | None,
        style: str | None = None,
        extras: Mapping[str, Any] | None = None,
    ) -> AsyncIterator[tuple[AudioFormat, bytes]]:
        """Streaming synthesis: text in as it comes, (format, PCM) out sentence by sentence."""
        return self.wyoming.stream_synthesize(text_chunks, voice, style, extras or {})

    # ---- admin HTTP API ---------------------------------------------------------------

    async def async_health(self) -> ServerHealth:
        """`GET /api/health`; `NotEdgeTtsClone` if the answer is not ours."""
        body = await self._request("GET", "/api/health", auth=False)
        try:
            return ServerHealth.from_api(body)
        except ValueError as err:
            raise NotEdgeTtsClone(f"{self.base_url} is not an edge-tts-clone server: {err}") from err

    async def async_check_auth(self) -> None:
        """`GET /api/auth`; `InvalidAuth` if the token is rejected."""
        await self._request("GET", "/api/auth")

    async def async_list_voices(self) -> tuple[tuple[ServerVoice, ...], tuple[Mapping[str, Any], ...]]:
        """`GET /api/voices`: the voices and the packs the server skipped."""
        body = await self._request("GET", "/api/voices")
        if not isinstance(body, Mapping) or not isinstance(body.get("voices"), list):
            raise ProtocolError("voice list answer has no 'voices' list")
        voices: list[ServerVoice] = []
        for item in body["voices"]:
            try:
                voices.append(ServerVoice.from_api(item))
            except ValueError as err:
                _LOGGER.debug("ignoring a malformed voice entry: %s", err)
        skipped = body.get("skipped")
        skipped_list = (
            tuple(item for item in skipped if isinstance(item, Mapping)) if isinstance(skipped, list) else ()
        )
        return tuple(voices), skipped_list

    async def async_enroll_voice(self, request: EnrollRequest) -> EnrollResult:
        """`POST /api/voices` (multipart); `ServerError` with the report if the clip is refused."""
        body = await self._request("POST", "/api/voices", data=_enroll_form(request), timeout_s=ENROLL_TIMEOUT_S)
        voice, report = (body.get("voice"), body.get("report")) if isinstance(body, Mapping) else (None, None)
        if not isinstance(voice, Mapping) or not isinstance(report, Mapping):
            raise ProtocolError("enrollment answer lacks 'voice' or 'report'")
        return EnrollResult(voice=voice, report=report)

    async def async_install_model(self, model: str, replace: bool) -> ServerJob:
        """`POST /api/models/install`: the job that downloads and converts `model` (or the one already doing it)."""
        return _job(await self._request("POST", "/api/models/install", json={"model": model, "replace": replace}))

    async def async_import_fine_tune(self, request: FineTuneRequest) -> ServerJob:
        """`POST /api/models/import`: stream both checkpoints (read in the executor) and the clip to enroll."""
        loop = asyncio.get_running_loop()
        files: list[IO[bytes]] = []
        try:
            form = _enroll_form(request.enroll)
            for field, path in (("gpt", request.gpt), ("sovits", request.sovits)):
                files.append(await loop.run_in_executor(None, path.open, "rb"))
                form.add_field(field, files[-1], filename=path.name, content_type="application/octet-stream")
            timeout = aiohttp.ClientTimeout(total=None, sock_connect=HTTP_TIMEOUT_S, sock_read=UPLOAD_IDLE_TIMEOUT_S)
            return _job(await self._request("POST", "/api/models/import", data=form, timeout=timeout))
        finally:
            for handle in files:  # aiohttp closes what it sent; a refused request sent nothing
                await loop.run_in_executor(None, handle.close)

    async def async_wait_for_job(self, job: ServerJob, limit_s: float = JOB_WAIT_LIMIT_S) -> ServerJob:
        """The job once it has ended, following it with `?wait=` (the server answers at each change)."""
        deadline = time.monotonic() + limit_s
        while not job.finished and time.monotonic() < deadline:
            _LOGGER.debug("job %s: %s (%.0f %%)", job.job_id, job.message, 100 * job.progress)
            body = await self._request(
                "GET",
                f"/api/jobs/{quote(job.job_id, safe='')}",
                auth=False,
                params={"wait": f"{JOB_POLL_S:g}", "after": str(job.revision)},
                timeout_s=JOB_POLL_S + HTTP_TIMEOUT_S,
            )
            job = _job(body)
        return job

    async def async_delete_voice(self, voice_id: str) -> None:
        """`DELETE /api/voices/{id}`: 204 No Content; any other success is not our server's answer."""
        body = await self._request("DELETE", f"/api/voices/{quote(voice_id, safe='')}")
        if body is not None:  # e.g. a proxy answering 200 for a server that is not there
            raise ProtocolError("the server answered the deletion with content instead of 204 No Content")

    async def _request(
        self,
        method: str,
        path: str,
        *,
        auth: bool = True,
        data: aiohttp.FormData | None = None,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        timeout_s: float = HTTP_TIMEOUT_S,
        timeout: aiohttp.ClientTimeout | None = None,
    ) -> Any:
        """One admin API call; returns the JSON body (None for 204)."""
        headers = {"Authorization": f"Bearer {self._token}"} if auth else {}
        url = self.base_url.with_path(path, encoded=True)
        try:
            async with self._session.request(
                method,
                url,
                headers=headers,
                params=params,
                data=data,
                json=json,
                timeout=timeout or aiohttp.ClientTimeout(total=timeout_s),
            ) as response:
                if response.status == 204:
                    return None
                try:
                    body = await response.json(content_type=None)
                except ValueError:
                    body = None
                if response.status == 401:
                    raise InvalidAuth("the server rejected the admin token")
                if response.status >= 400:
                    raise _server_error(response.status, body)
                if body is None:
                    raise ProtocolError(f"{method} {path} answered something that is not JSON")
                return body
        except (aiohttp.ClientError, TimeoutError, OSError) as err:
            raise CannotConnect(f"cannot reach {self.base_url}: {err or type(err).__name__}") from err


def _job(body: Any) -> ServerJob:
    try:
        return ServerJob.from_api(body)
    except ValueError as err:
        raise ProtocolError(f"the job answer is not a job: {err}") from err


def _enroll_form(request: EnrollRequest) -> aiohttp.FormData:
    """The enrollment fields of `POST /api/voices`, also sent with a fine-tune to enroll with it."""
    form = aiohttp.FormData()
    if request.name:
        form.add_field("name", request.name)
    form.add_field("text", request.transcript)
    form.add_field("language", request.language)
    form.add_field("consent", request.consent_statement)
    if request.style:
        form.add_field("style", request.style)
    if request.voice_id:
        form.add_field("voice_id", request.voice_id)
    if request.force:
        form.add_field("force", "true")
    form.add_field("audio", request.audio, filename=request.filename, content_type="application/octet-stream")
    return form


def _server_error(status: int, body: Any) -> ServerError:
    """The admin API's `{"error", "code", "report"?}` as a ServerError."""
    if isinstance(body, Mapping):
        message = body.get("error")
        code = body.get("code")
        report = body.get("report")
        return ServerError(
            message if isinstance(message, str) and message else f"HTTP {status}",
            code=code if isinstance(code, str) else None,
            status=status,
            report=report if isinstance(report, Mapping) else None,
        )
    return ServerError(f"HTTP {status}", status=status)
