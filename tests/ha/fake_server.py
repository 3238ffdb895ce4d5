"""An in-process edge-tts-clone server for the HA tests: a Wyoming handler + the admin API.

It speaks the wire contract of docs/http-api.md on 127.0.0.1 and records what it received,
so tests assert on what really crossed the socket. Audio is a deterministic marker: every
sample of a reply in voice V is `marker(V)`, and a sentence of N characters is N * 8 samples.
"""

from __future__ import annotations

import asyncio
import json
import struct
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from aiohttp import BodyPartReader, web
from wyoming.event import Event
from wyoming.server import AsyncEventHandler, AsyncTcpServer

from .fake_jobs import FakeJobs

RATE_HZ = 22050
TOKEN = "fake-admin-token"
SERVER_ID = "3f8a1c2e-0000-4000-8000-fa4e5e7e0001"
SAMPLES_PER_CHAR = 8
SENTENCE_ENDS = ".!?。！？"


def marker(voice: str | None) -> int:
    """The sample value the fake server uses for a voice (distinct per voice)."""
    return 1000 + sum((voice or "default").encode()) % 20000


def fake_pcm(text: str, voice: str | None) -> bytes:
    """What the fake server sends for `text` in `voice`."""
    return struct.pack("<h", marker(voice)) * (len(text.strip()) * SAMPLES_PER_CHAR)


def voice_json(
    voice_id: str, name: str, languages: list[str], styles: list[str], builtin: bool = False
) -> dict[str, Any]:
    """A `Voice` object as the admin API returns it."""
    return {
        "id": voice_id,
        "name": name,
        "languages": languages,
        "kind": "piper" if builtin else "gpt-sovits",
        "model_id": "stock" if builtin else "v2-base",
        "styles": [
            {"name": style, "reference_text": "hello", "reference_language": languages[0]} for style in styles
        ],
        "default_style": styles[0],
        "revision": "r1",
        "created": "2026-11-23T10:00:00Z",
        "builtin": builtin,
    }


REPORT_OK = {
    "accepted": True,
    "duration_s": 5.2,
    "snr_db": 31.0,
    "clipping_ratio": 0.0,
    "loudness_lufs": -21.3,
    "speech_ratio": 0.82,
    "ref_free": False,
    "warnings": [],
    "reasons": [],
}


@dataclass
class SynthRequest:
    """One synthesis the server received."""

    streaming: bool
    voice: dict[str, Any] | None
    extras: dict[str, Any] | None
    chunks: list[str] = field(default_factory=list)
    text: str = ""


class FakeServer:
    """Both ports of a fake server, with switches for failure modes."""

    def __init__(self, wyoming_port: int, http_port: int) -> None:
        """Nothing listens until `start()`."""
        self.wyoming_port = wyoming_port
        self.http_port = http_port
        self.token = TOKEN
        self.server_id = SERVER_ID
        self.streaming = True
        self.program_name = "edge-tts-clone"
        self.voices: dict[str, dict[str, Any]] = {
            "joe": voice_json("joe", "Joe (stock)", ["en_US"], ["default"], builtin=True),
            "mum": voice_json("mum", "Mum", ["en", "zh"], ["default", "calm"]),
            "dad": voice_json("dad", "Dad", ["zh"], ["default"]),
        }
        self.requests: list[SynthRequest] = []
        self.uploads: list[dict[str, Any]] = []
        self.reject_enrollment = False
        self.weak_objections: list[str] = []
        """Refusals `force` overrides, as the real quality gate's noise or clipping ones."""
        self.wyoming_mode = "ok"
        """`ok`, `garbage` (junk bytes), `huge` (absurd payload_length), `drop` (close mid-audio),
        `hang` (audio-start, then silence with the connection left open)."""
        self.http_mode = "ok"
        """Every admin API answer: `ok`, `html` (a 200 HTML page), `wrong-json` (JSON of the wrong shape),
        `truncated` (half a JSON body), `error-html` (a 502 HTML page), `hang` (never answers)."""
        self._release_hangs = asyncio.Event()
        self.audio_sent = asyncio.Event()
        self.jobs = FakeJobs(self)
        self._wyoming: AsyncTcpServer | None = None
        self._runner: web.AppRunner | None = None
        self._handlers: set[_Handler] = set()

    # ---- lifecycle ----

    async def start(self) -> None:
        """Listen on both ports of 127.0.0.1."""
        self._wyoming = AsyncTcpServer("127.0.0.1", self.wyoming_port)
        await self._wyoming.start(partial(_Handler, self))
        self._release_hangs = asyncio.Event()
        app = web.Application(middlewares=[self._http_fault])
        app.router.add_get("/api/health", self._health)
        app.router.add_get("/api/auth", self._auth)
        app.router.add_get("/api/voices", self._list_voices)
        app.router.add_post("/api/voices", self._enroll)
        app.router.add_delete("/api/voices/{voice_id}", self._delete)
        self.jobs.add_routes(app)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.http_port, reuse_address=True).start()

    async def stop(self) -> None:
        """Close both ports and every open connection."""
        self._release_hangs.set()
        if self._wyoming is not None:
            await self._wyoming.stop()
            self._wyoming = None
        handlers = list(self._handlers)
        await asyncio.gather(*(handler.finished.wait() for handler in handlers))
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ---- Wyoming info ----

    def info_data(self) -> dict[str, Any]:
        """`info` event data as our server sends it."""
        attribution = {"name": "test", "url": "https://example.invalid"}
        return {
            "asr": [],
            "tts": [
                {
                    "name": self.program_name,
                    "attribution": attribution,
                    "installed": True,
                    "description": "fake",
                    "version": "0.1.0",
                    "supports_synthesize_streaming": self.streaming,
                    "voices": [
                        {
                            "name": voice["id"],
                            "description": voice["name"],
                            "attribution": attribution,
                            "installed": True,
                            "version": voice["revision"],
                            "languages": voice["languages"],
                            "speakers": [{"name": style["name"]} for style in voice["styles"]],
                        }
                        for voice in self.voices.values()
                    ],
                }
            ],
            "handle": [],
            "intent": [],
            "wake": [],
            "mic": [],
            "snd": [],
        }

    # ---- admin API ----

    @web.middleware
    async def _http_fault(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """Answer with the garbage `http_mode` asks for instead of the real answer."""
        mode = self.http_mode
        if mode == "html":
            return web.Response(text="<html><body>Router login</body></html>", content_type="text/html")
        if mode == "wrong-json":
            return web.json_response({"status": 7, "voices": "none", "server_id": ["x"], "ok": "maybe"})
        if mode == "truncated":
            return web.Response(text='{"status": "ok", "voices": [{"id": "mu', content_type="application/json")
        if mode == "error-html":
            return web.Response(status=502, text="<html>Bad Gateway</html>", content_type="text/html")
        if mode == "hang":
            await self._release_hangs.wait()
        response: web.StreamResponse = await handler(request)
        return response

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.token}"

    @staticmethod
    def _unauthorized() -> web.Response:
        return web.json_response({"error": "missing or wrong admin token", "code": "unauthorized"}, status=401)

    async def _health(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "status": "ok",
                "version": "0.1.0",
                "server_id": self.server_id,
                "voices": len(self.voices),
                "models_loaded": 1,
                "wyoming_port": self.wyoming_port,
            }
        )

    async def _auth(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": True}) if self._authorized(request) else self._unauthorized()

    async def _list_voices(self, request: web.Request) -> web.Response:
        return web.json_response({"voices": list(self.voices.values()), "skipped": []})

    async def _enroll(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._unauthorized()
        fields: dict[str, Any] = {}
        async for part in await request.multipart():
            if not isinstance(part, BodyPartReader):
                return web.json_response({"error": "nested multipart", "code": "bad-request"}, status=400)
            name = part.name or ""
            if part.filename:
                fields[name] = {"filename": part.filename, "data": bytes(await part.read())}
            else:
                fields[name] = await part.text()
        self.uploads.append(fields)
        if self.reject_enrollment:
            report = {
                **REPORT_OK,
                "accepted": False,
                "snr_db": 4.0,
                "reasons": ["too noisy (SNR 4 dB < 15 dB)"],
            }
            return web.json_response(
                {"error": "the recording was refused", "code": "rejected", "report": report}, status=422
            )
        report = REPORT_OK
        if self.weak_objections:
            if fields.get("force") != "true":
                refused = {**REPORT_OK, "accepted": False, "reasons": list(self.weak_objections)}
                return web.json_response(
                    {"error": "the recording was refused", "code": "rejected", "report": refused}, status=422
                )
            report = {**REPORT_OK, "warnings": [f"accepted with --force: {why}" for why in self.weak_objections]}
        style = fields.get("style") or "default"
        existing = self.voices.get(fields.get("voice_id", ""))
        if existing is not None:  # a further style of an existing voice
            existing["styles"].append({"name": style, "reference_text": fields["text"]})
            voice = existing
        else:
            voice_id = str(fields["name"]).lower().replace(" ", "-")
            voice = voice_json(voice_id, fields["name"], [fields["language"]], [style])
            self.voices[voice_id] = voice
        return web.json_response({"voice": voice, "report": report}, status=201)

    async def _delete(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._unauthorized()
        voice_id = request.match_info["voice_id"]
        voice = self.voices.get(voice_id)
        if voice is None:
            return web.json_response({"error": f"no voice '{voice_id}'", "code": "unknown-voice"}, status=404)
        if voice["builtin"]:
            return web.json_response({"error": "the stock voice stays", "code": "builtin"}, status=409)
        del self.voices[voice_id]
        return web.Response(status=204)


class _Handler(AsyncEventHandler):
    """One Wyoming connection of the fake server."""

    def __init__(self, server: FakeServer, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.server = server
        self.finished = asyncio.Event()
        self.stream: SynthRequest | None = None
        self.pending = ""
        server._handlers.add(self)

    async def disconnect(self) -> None:
        self.server._handlers.discard(self)
        self.finished.set()

    async def handle_event(self, event: Event) -> bool:
        if event.type == "describe":
            await self.write_event(Event(type="info", data=self.server.info_data()))
            return True
        if event.type == "synthesize-start":
            self.stream = SynthRequest(True, event.data.get("voice"), event.data.get("edge_tts_clone"))
            self.server.requests.append(self.stream)
            return True
        if event.type == "synthesize-chunk" and self.stream is not None:
            self.stream.chunks.append(event.data["text"])
            self.pending += event.data["text"]
            return await self._speak_complete_sentences()
        if event.type == "synthesize":
            if self.stream is not None:
                self.stream.text = event.data["text"]
                return True  # a streaming server ignores it while a stream is open
            request = SynthRequest(False, event.data.get("voice"), event.data.get("edge_tts_clone"))
            request.text = event.data["text"]
            self.server.requests.append(request)
            return await self._speak(request.text, request.voice)
        if event.type == "synthesize-stop" and self.stream is not None:
            if self.server.wyoming_mode == "hang":
                return True  # stalled: synthesize-stopped never comes
            if self.pending.strip() and not await self._speak(self.pending, self.stream.voice):
                return False
            self.pending = ""
            await self.write_event(Event(type="synthesize-stopped"))
            return True
        return True

    async def _speak_complete_sentences(self) -> bool:
        assert self.stream is not None
        while (end := next((i for i, ch in enumerate(self.pending) if ch in SENTENCE_ENDS), -1)) >= 0:
            sentence, self.pending = self.pending[: end + 1], self.pending[end + 1 :]
            if not await self._speak(sentence, self.stream.voice):
                return False
        return True

    async def _speak(self, text: str, voice: dict[str, Any] | None) -> bool:
        """Audio for one sentence or reply; False closes the connection (failure modes)."""
        name = (voice or {}).get("name")
        if name is not None and name not in self.server.voices:
            await self.write_event(
                Event(type="error", data={"text": f"no voice '{name}'", "code": "unknown-voice"})
            )
            return False
        fmt = {"rate": RATE_HZ, "width": 2, "channels": 1}
        mode = self.server.wyoming_mode
        if mode == "garbage":
            self.writer.write(b"\x00\xffthis is not a wyoming event\n")
            await self.writer.drain()
            return False
        if mode == "hang":
            # A server that stalls mid-reply (wedged engine, half-open TCP): the client must give up.
            await self.write_event(Event(type="audio-start", data=fmt))
            return True
        if mode == "huge":
            header = {"type": "audio-chunk", "data": fmt, "payload_length": 1 << 40}
            self.writer.write(json.dumps(header).encode() + b"\n" + b"\x00" * 1024)
            await self.writer.drain()
            return False
        await self.write_event(Event(type="audio-start", data=fmt))
        pcm = fake_pcm(text, name)
        if mode == "drop":
            # A restart mid-announcement: half the audio, then the connection is gone.
            await self.write_event(Event(type="audio-chunk", data=fmt, payload=pcm[: len(pcm) // 2]))
            self.server.audio_sent.set()
            return False
        await self.write_event(Event(type="audio-chunk", data=fmt, payload=pcm))
        await self.write_event(Event(type="audio-stop"))
        self.server.audio_sent.set()
        return True


def split_like_fake(text: str) -> list[str]:
    """The sentences the fake's streaming handler speaks for `text` sent as one chunk."""
    sentences: list[str] = []
    current = ""
    for char in text:
        current += char
        if char in SENTENCE_ENDS:
            sentences.append(current)
            current = ""
    if current.strip():
        sentences.append(current)
    return sentences


def expected_stream_pcm(text: str, voice: str | None) -> bytes:
    """Audio the fake streams for `text`: one reply per sentence, joined."""
    return b"".join(fake_pcm(sentence, voice) for sentence in split_like_fake(text))


def parse_wav(data: bytes) -> tuple[int, int, int, int, bytes]:
    """(rate, width, channels, data-size field, PCM) of a 44-byte-header PCM WAV."""
    riff, _, wave = struct.unpack_from("<4sI4s", data, 0)
    fmt_id, fmt_size, audio_format, channels, rate, _, _, bits = struct.unpack_from("<4sIHHIIHH", data, 12)
    data_id, data_size = struct.unpack_from("<4sI", data, 36)
    if (riff, wave, fmt_id, fmt_size, audio_format, data_id) != (b"RIFF", b"WAVE", b"fmt ", 16, 1, b"data"):
        raise ValueError("not a 44-byte-header PCM WAV")
    return rate, bits // 8, channels, data_size, data[44:]
