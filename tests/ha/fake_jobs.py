"""The fake server's model jobs: `POST /api/models/install`, `POST /api/models/import`, `GET /api/jobs/{id}`.

Each job follows a script: every status request with `after=<revision>` gets the next step (so a
client that waits sees progress, then the end, without any clock). Switches make the server
refuse to start a job, fail it, reject the enrollment at its end, or answer enrollments as a
server with no model installed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import BodyPartReader, web

if TYPE_CHECKING:
    from .fake_server import FakeServer

STEPS = (("downloading", 0.4, "downloading s1v3.ckpt: 60.0 of 155.3 MB"), ("converting", 0.8, "quantizing t2s_decoder"))
NO_MODEL = "no GPT-SoVITS model is installed yet, so there is nothing to clone a voice with"


class FakeJobs:
    """Jobs of one FakeServer, and what its clients sent."""

    def __init__(self, server: FakeServer) -> None:
        """Nothing runs until a client starts a job."""
        self.server = server
        self.scripts: dict[str, list[dict[str, Any]]] = {}
        self.installs: list[dict[str, Any]] = []
        self.imports: list[dict[str, Any]] = []
        self.status_queries: list[dict[str, str]] = []
        self.refuse: tuple[int, str, str] | None = None
        """(status, code, message) to answer a job start with."""
        self.fail: tuple[str, str] | None = None
        """(code, error) the next jobs end with."""
        self.reject_enrollment = False
        self.no_model = False

    def add_routes(self, app: web.Application) -> None:
        """Register the routes (and the no-model answer for enrollments)."""
        app.router.add_post("/api/models/install", self._install)
        app.router.add_post("/api/models/import", self._import)
        app.router.add_get("/api/jobs/{job_id}", self._status)
        app.middlewares.append(self._no_model)

    @web.middleware
    async def _no_model(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if self.no_model and request.method == "POST" and request.path == "/api/voices":
            return web.json_response({"error": NO_MODEL, "code": "no-model"}, status=409)
        response: web.StreamResponse = await handler(request)
        return response

    def _start(self, kind: str, model_id: str, final: dict[str, Any]) -> web.Response:
        if self.refuse is not None:
            status, code, message = self.refuse
            return web.json_response({"error": message, "code": code}, status=status)
        job_id = f"20261123-100000-{len(self.scripts):06x}"
        base = {"id": job_id, "kind": kind, "model_id": model_id, "error": None, "code": None, "voice_id": None}
        script = [{**base, "state": "running", "phase": "waiting", "progress": 0.0, "message": "starting"}]
        script += [{**base, "state": "running", "phase": p, "progress": f, "message": m} for p, f, m in STEPS]
        if self.fail is not None:
            final = {"state": "failed", "code": self.fail[0], "error": self.fail[1], "message": self.fail[1]}
        script.append({**base, "phase": "done", "progress": 1.0, **final})
        self.scripts[job_id] = [{**step, "revision": revision} for revision, step in enumerate(script)]
        return web.json_response(self.scripts[job_id][0], status=202)

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.server.token}"

    async def _install(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response({"error": "admin token", "code": "unauthorized"}, status=401)
        body = await request.json()
        self.installs.append(body)
        return self._start("install-model", body["model"], {"state": "succeeded", "message": "installed"})

    async def _import(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response({"error": "admin token", "code": "unauthorized"}, status=401)
        fields: dict[str, Any] = {}
        async for part in await request.multipart():
            assert isinstance(part, BodyPartReader) and part.name
            if part.filename:
                size = 0
                while chunk := await part.read_chunk():
                    size += len(chunk)
                fields[part.name] = {"filename": part.filename, "bytes": size}
            else:
                fields[part.name] = await part.text()
        self.imports.append(fields)
        model_id = f"{str(fields['name']).lower()}-ft"
        if self.reject_enrollment:
            reasons = {"accepted": False, "reasons": ["too noisy (SNR 4 dB < 15 dB)"]}
            final = {"state": "failed", "code": "rejected", "report": reasons, "error": "not enrolled"}
            return self._start("import-fine-tune", model_id, final)
        from .fake_server import REPORT_OK, voice_json

        voice_id = str(fields["name"]).lower()
        self.server.voices[voice_id] = voice_json(voice_id, fields["name"], [fields["language"]], ["default"])
        final = {"state": "succeeded", "voice_id": voice_id, "report": REPORT_OK, "message": "installed"}
        return self._start("import-fine-tune", model_id, final)

    async def _status(self, request: web.Request) -> web.Response:
        script = self.scripts.get(request.match_info["job_id"])
        if script is None:
            return web.json_response({"error": "no such job", "code": "unknown-job"}, status=404)
        self.status_queries.append(dict(request.query))
        after = int(request.query.get("after", "-1"))
        return web.json_response(script[min(after + 1, len(script) - 1)])
