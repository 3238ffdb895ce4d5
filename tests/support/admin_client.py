"""Helpers for the admin API security tests: the route table, hostile uploads, raw HTTP over a socket."""

from __future__ import annotations

import asyncio
import io
from typing import Any, Final

import aiohttp
import numpy as np
import soundfile

from tests.support.fakes import wav_bytes
from tests.support.servers import RunningServer

READ_TIMEOUT_S: Final = 10.0
SAMPLE_RATE_HZ: Final = 16000
CONSENT: Final = "Grandma agrees to her voice being cloned"

TRAVERSALS: Final = (
    "../admin_token",
    "../../admin_token",
    "..%2Fadmin_token",
    "%2e%2e%2f%2e%2e%2fadmin_token",
    "%252e%252e%252fadmin_token",
    "..%c0%afadmin_token",
    "/etc/passwd",
    "..\\..\\admin_token",
    "C:\\Windows\\win.ini",
    "mum\x00",
    "mum%00.json",
    "\uff0e\uff0e\uff0fadmin_token",
    "\u2024\u2024/admin_token",
    "mum/../joe",
    "voices/mum",
    ".",
    "..",
    "~",
    "m" * 65,
)
"""Path-traversal spellings: plain, percent-encoded once and twice, overlong UTF-8, absolute,
backslashes, NUL bytes, full-width and one-dot-leader 'dots', plus plain non-slugs."""


def auth(server: RunningServer) -> dict[str, str]:
    """The Authorization header with the server's token."""
    return {"Authorization": f"Bearer {server.token}"}


def routes(server: RunningServer) -> list[tuple[str, str]]:
    """(method, path template) of every registered route, from aiohttp's own table."""
    assert server.app.admin is not None
    found: list[tuple[str, str]] = []
    for route in server.app.admin._app.router.routes():  # the real table, so new routes are covered
        if route.method == "HEAD" or route.resource is None:
            continue
        info = route.resource.get_info()
        found.append((route.method, str(info.get("path") or info.get("formatter"))))
    return sorted(found)


PATH_PARAMETERS: Final = {"voice_id": "mum", "name": "app.js", "model_id": "v2pro", "job_id": "20261123-100000-abcdef"}
"""A valid value of each route parameter (a job id need not exist: its routes answer 404)."""


def concrete(path: str) -> str:
    """A template with its parameters filled in with valid names."""
    for parameter, value in PATH_PARAMETERS.items():
        path = path.replace("{" + parameter + "}", value)
    assert "{" not in path, f"add the parameter of {path} to PATH_PARAMETERS"
    return path


def enrollment_form(audio: bytes | None = None, **fields: str | None) -> aiohttp.FormData:
    """A valid enrollment form (with a 2 s WAV) unless fields say otherwise; None drops a field."""
    form = aiohttp.FormData(default_to_multipart=True)
    values: dict[str, str | None] = {"name": "Grandma", "text": "今天天气很好", "language": "zh", "consent": CONSENT}
    for key, value in {**values, **fields}.items():
        if value is not None:
            form.add_field(key, value)
    form.add_field("audio", wav_bytes(2.0) if audio is None else audio, filename="clip.wav", content_type="audio/wav")
    return form


def encoded(seconds: float, audio_format: str, rate_hz: int = SAMPLE_RATE_HZ, channels: int = 1) -> bytes:
    """Silence of `seconds` in a container libsndfile writes."""
    buffer = io.BytesIO()
    silence = np.zeros((int(seconds * rate_hz), channels), dtype=np.float32)
    soundfile.write(buffer, silence, rate_hz, format=audio_format)
    return buffer.getvalue()


def flac_claiming(seconds: float) -> bytes:
    """A 1 s FLAC whose STREAMINFO says it lasts `seconds` (a decompression bomb's header)."""
    data = bytearray(encoded(1.0, "FLAC"))
    # STREAMINFO follows "fLaC" and a 4-byte block header; its bytes 10..17 hold
    # rate (20 bits), channels-1 (3), bits-1 (5) and the total sample count (36).
    packed = int.from_bytes(data[18:26], "big")
    packed = (packed & ~((1 << 36) - 1)) | int(seconds * SAMPLE_RATE_HZ)
    data[18:26] = packed.to_bytes(8, "big")
    return bytes(data)


def wav_claiming_data_bytes(declared: int) -> bytes:
    """A 2 s WAV whose data chunk header says `declared` bytes follow."""
    data = bytearray(wav_bytes(2.0))
    index = data.index(b"data") + 4
    data[index : index + 4] = declared.to_bytes(4, "little")
    return bytes(data)


async def raw_request(server: RunningServer, request: bytes) -> bytes:
    """Send raw bytes to the admin port; everything the server answers until it closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.app.http_port)
    writer.write(request)
    await writer.drain()
    try:
        return await asyncio.wait_for(reader.read(), READ_TIMEOUT_S)
    finally:
        writer.close()


def status_of(response: bytes) -> int:
    """The status code of a raw HTTP response."""
    return int(response.split(b" ", 2)[1])


async def multipart_raw(
    server: RunningServer, body: bytes, content_type: str = "multipart/form-data; boundary=b"
) -> bytes:
    """POST /api/voices with a hand-written multipart body."""
    head = (
        f"POST /api/voices HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {server.token}\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    return await raw_request(server, head + body)


def part(name: str | None, value: bytes, extra_headers: str = "") -> bytes:
    """One multipart part (name None: a part without a name)."""
    disposition = "form-data" if name is None else f'form-data; name="{name}"'
    return f"--b\r\nContent-Disposition: {disposition}\r\n{extra_headers}\r\n".encode() + value + b"\r\n"


def json_of(response: bytes) -> Any:
    """The JSON body of a raw response."""
    import json

    return json.loads(response.split(b"\r\n\r\n", 1)[1])
