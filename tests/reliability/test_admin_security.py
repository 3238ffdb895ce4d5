"""Admin API security: the token, uploads, slugs and traversal, hostile multipart, CORS.

Slow and idle clients are in test_admin_slow_clients.py; the page under stored XSS in test_web_xss.py.
"""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import AsyncIterator, Callable
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from wyoming.tts import Synthesize, SynthesizeVoice
from yarl import URL

from tests.support.admin_client import (
    TRAVERSALS,
    auth,
    concrete,
    encoded,
    enrollment_form,
    flac_claiming,
    json_of,
    multipart_raw,
    part,
    raw_request,
    routes,
    status_of,
    wav_claiming_data_bytes,
)
from tests.support.fakes import wav_bytes
from tests.support.servers import RunningServer, StartServer
from tests.support.wire import read_reply
from wyoming_server.server.admin import PUBLIC_WRITES, WRITE_METHODS, errors
from wyoming_server.server.admin.context import CONTEXT_KEY

SLUG = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


def _fill(template: str, value: str) -> str:
    """Every `{parameter}` of a route template replaced by `value`, verbatim."""
    return re.sub(r"\{[a-z_]+\}", lambda _: value, template)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP client with a short timeout."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as session:
        yield session


def _spy_on_library(server: RunningServer) -> list[str]:
    """Record every id the library is asked about (they must all be slugs)."""
    seen: list[str] = []
    library = server.library

    def wrap(name: str, pick: Callable[..., list[Any]]) -> None:
        original = getattr(library, name)

        def spy(*args: Any, **kwargs: Any) -> Any:
            seen.extend(str(value) for value in pick(*args, **kwargs) if value is not None)
            return original(*args, **kwargs)

        setattr(library, name, spy)

    wrap("resolve", lambda voice_id, language=None: [voice_id])
    wrap("rename", lambda voice_id, name: [voice_id])
    wrap("remove", lambda voice_id: [voice_id])
    wrap("enroll", lambda request: [request.voice_id, request.style])
    wrap("synthesize", lambda pack, style, *rest: [pack.id, style])
    return seen


# ----- the token ---------------------------------------------------------------------------


async def test_the_token_is_compared_in_constant_time(
    start_server: StartServer, http: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = await start_server()
    compared: list[tuple[bytes, bytes]] = []

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return hmac.compare_digest(a, b)

    monkeypatch.setattr(errors, "hmac", SimpleNamespace(compare_digest=spy))  # what errors.py calls
    for header, status in ((f"Bearer {server.token}x", 401), (f"Bearer {server.token}", 200)):
        async with http.get(f"{server.http_url}/api/auth", headers={"Authorization": header}) as response:
            assert response.status == status
    assert [pair[1] for pair in compared] == [server.token.encode()] * 2, "every check goes through compare_digest"


@pytest.mark.parametrize(
    "header",
    [b"Bearer \xff\xfe\xc3", b"Bearer \xc3\xa9t\xc3\xa9", b"Bearer " + b"a" * 8000, b"Bearer\ttoken", b"Bearer"],
)
async def test_odd_authorization_headers_are_401_not_500(start_server: StartServer, header: bytes) -> None:
    server = await start_server()
    head = b"DELETE /api/voices/mum HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: "
    response = await raw_request(server, head + header + b"\r\n\r\n")
    assert status_of(response) == 401 and json_of(response)["code"] == "unauthorized"
    assert "mum" in [pack.id for pack in server.library.voices()]


async def test_no_write_route_works_without_the_token(start_server: StartServer, http: aiohttp.ClientSession) -> None:
    server = await start_server()
    token = server.token
    protected = [(m, p) for m, p in routes(server) if m in WRITE_METHODS and (m, p) not in PUBLIC_WRITES]
    assert {("POST", "/api/voices"), ("PATCH", "/api/voices/{voice_id}"), ("DELETE", "/api/voices/{voice_id}")} <= set(
        protected
    )
    wrong = [
        {},
        {"Authorization": f"Bearer {token[:-1]}"},
        {"Authorization": f"Bearer {token}{token}"},
        {"Authorization": f"Basic {token}"},
        {"Authorization": token},
        {"X-Admin-Token": token},
        {"Cookie": f"token={token}"},
    ]
    for method, path in protected:
        for headers in wrong:
            url = f"{server.http_url}{concrete(path)}?token={token}&access_token={token}"
            async with http.request(method, url, headers=headers, data=enrollment_form()) as response:
                assert response.status == 401, (method, path, headers)
    assert [pack.id for pack in server.library.voices()] == ["joe", "mum"]
    assert server.library.enrolled_audio == []


async def test_the_token_is_never_logged_nor_returned(
    start_server: StartServer, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server = await start_server()
    token = server.token
    seen: list[str] = []

    async def call(method: str, path: str, headers: dict[str, str] | None = None, **kwargs: Any) -> None:
        headers = {**auth(server), **(headers or {})}
        async with http.request(method, server.http_url + path, headers=headers, **kwargs) as response:
            seen.append(await response.text(errors="replace"))
            seen.extend(f"{key}: {value}" for key, value in response.headers.items())

    for method, path in routes(server):
        await call(method, concrete(path), json={"name": "Renamed", "text": "Hello."})
    await call("POST", "/api/voices", data=enrollment_form())
    await call("POST", "/api/voices", data=enrollment_form(audio=b"<html>not audio</html>"))
    await call("POST", "/api/voices", data=b"--broken", headers={"Content-Type": "multipart/form-data; boundary=x"})
    await call("PATCH", "/api/voices/mum", data=b"{not json")
    await call("GET", "/api/nothing")
    await call("PUT", "/api/voices/mum")
    await call("DELETE", "/api/voices/..%2Fadmin_token")
    server.library.voices = lambda: (_ for _ in ()).throw(RuntimeError("disk on fire"))  # type: ignore[method-assign]
    await call("GET", "/api/voices")  # an internal error, logged with its traceback
    assert "disk on fire" in caplog.text, "the capture did see the server's log"
    assert not [text for text in seen if token in text]
    assert token not in caplog.text
    assert server.app.admin is not None
    assert token not in repr(server.app.admin._app[CONTEXT_KEY]), "a logged context must not show it"


# ----- uploads ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("audio", "status", "words"),
    [
        (wav_bytes(61.0, rate_hz=8000), 413, "61.0 s long"),
        (flac_claiming(10 * 3600), 413, "36000.0 s long"),
        (encoded(10.0, "FLAC", rate_hz=192_000, channels=8), 413, "too many samples"),
        (b"<html><script>alert(1)</script></html>", 415, "WAV, FLAC, OGG or MP3"),
        (b"PK\x03\x04" + bytes(200), 415, "WAV, FLAC, OGG or MP3"),
        (b"\x89PNG\r\n\x1a\n" + bytes(200), 415, "WAV, FLAC, OGG or MP3"),
        (b"RIFF\x00\x00\x00\x00WAVE" + b"this is text, not audio" * 10, 415, "damaged"),
        (b"fLaC" + bytes(100), 415, "damaged"),
        (b"OggS" + bytes(100), 415, "damaged"),
        (b"ID3" + bytes(100), 415, "damaged"),
        (wav_bytes(0.0), 415, "no audio"),
    ],
)
async def test_uploads_are_sniffed_and_capped_before_any_heavy_work(
    start_server: StartServer, http: aiohttp.ClientSession, audio: bytes, status: int, words: str
) -> None:
    server = await start_server()
    url = f"{server.http_url}/api/voices"
    async with http.post(url, data=enrollment_form(audio), headers=auth(server)) as response:
        body = await response.json()
        assert response.status == status, body
    assert words in body["error"]
    assert server.library.enrolled_audio == [], "the library never saw the clip"


@pytest.mark.parametrize("audio_format", ["WAV", "FLAC", "OGG", "MP3"])
async def test_real_clips_in_every_accepted_format_pass_the_checks(
    start_server: StartServer, http: aiohttp.ClientSession, audio_format: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = await start_server()
    clip = encoded(2.0, audio_format)
    async with http.post(f"{server.http_url}/api/voices", data=enrollment_form(clip), headers=auth(server)) as response:
        # The fake library reads WAV only: other formats reach it and are rejected there (422), not before.
        assert response.status == (201 if audio_format == "WAV" else 422), await response.text()


async def test_a_wav_claiming_a_huge_data_chunk_is_measured_by_its_real_size(
    start_server: StartServer, http: aiohttp.ClientSession
) -> None:
    """The header claims hours of audio; libsndfile measures the 2 s really there, so the clip passes
    the size checks (not 413) and reaches the library unchanged."""
    server = await start_server()
    clip = wav_claiming_data_bytes(0xFFFFFF00)
    async with http.post(f"{server.http_url}/api/voices", data=enrollment_form(clip), headers=auth(server)) as response:
        assert response.status == 201, await response.text()
    assert server.library.enrolled_audio == [clip]


async def test_the_part_content_type_is_not_trusted_the_bytes_are(
    start_server: StartServer, http: aiohttp.ClientSession
) -> None:
    server = await start_server()
    for audio, declared, status in ((wav_bytes(2.0), "text/html", 201), (b"<html></html>", "audio/wav", 415)):
        form = aiohttp.FormData(default_to_multipart=True)
        for key, value in {"name": f"Test {status}", "language": "en", "consent": "yes, agreed"}.items():
            form.add_field(key, value)
        form.add_field("audio", audio, filename="clip.wav", content_type=declared)
        async with http.post(f"{server.http_url}/api/voices", data=form, headers=auth(server)) as response:
            assert response.status == status


@pytest.mark.parametrize(
    ("content_type", "status"),
    [
        ("multipart/mixed; boundary=b", 415),
        ("application/x-www-form-urlencoded", 415),
        ("application/json", 415),
        ("text/plain", 415),
        ("audio/wav", 415),
        ("multipart/form-data", 400),
        ("multipart/form-data; boundary=", 400),
    ],
)
async def test_only_a_multipart_form_is_accepted(start_server: StartServer, content_type: str, status: int) -> None:
    server = await start_server()
    body = part("name", b"Grandma") + part("audio", wav_bytes(0.5)) + b"--b--\r\n"
    response = await multipart_raw(server, body, content_type)
    assert status_of(response) == status, response[:300]
    assert server.library.enrolled_audio == []


async def test_a_chunked_upload_larger_than_the_cap_is_cut_off(
    start_server: StartServer, http: aiohttp.ClientSession
) -> None:
    server = await start_server(max_upload_bytes=100_000)

    async def chunks() -> AsyncIterator[bytes]:
        """No Content-Length: the server can only count."""
        yield part("name", b"Grandma")
        for index in range(30):
            yield part(f"junk{index}", b"j" * 16_000)
        yield b"--b--\r\n"

    async with http.post(
        f"{server.http_url}/api/voices",
        data=chunks(),
        headers={**auth(server), "Content-Type": "multipart/form-data; boundary=b"},
    ) as response:
        assert response.status == 413 and (await response.json())["code"] == "too-large"


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        (b"".join(part(f"f{i}", b"x") for i in range(40)) + b"--b--\r\n", 413, "more than 32 parts"),
        (part("text", b"t" * 20_000) + b"--b--\r\n", 413, "field 'text' is larger"),
        (part(None, b"value") + b"--b--\r\n", 400, "has no name"),
        (part("name", b"x", extra_headers="X-Long: " + "h" * 20_000 + "\r\n") + b"--b--\r\n", 400, "malformed"),
        (part("name", b"\xff\xfe") + b"--b--\r\n", 400, "not UTF-8"),
        (b"--b\r\nContent-Disposition: form-data; name=\"audio\"\r\nContent-Type: multipart/mixed; boundary=c\r\n\r\n"
         b"--c\r\n\r\nx\r\n--c--\r\n--b--\r\n", 400, "nested"),
        (b"garbage without any boundary", 400, ""),
    ],
)
async def test_hostile_multipart_bodies_get_clear_errors(
    start_server: StartServer, body: bytes, status: int, words: str
) -> None:
    server = await start_server()
    response = await multipart_raw(server, body)
    assert status_of(response) == status, response[:400]
    assert words in json_of(response)["error"]


# ----- ids and paths ------------------------------------------------------------------------


def _refusal(path: str, spelling: str) -> int:
    """The one status a hostile path parameter gets, by who refuses it."""
    if not spelling.isascii():
        return 400  # aiohttp's request parser: "Invalid char in url path"
    if "/" in spelling:
        return 404  # no route has that many segments
    return 404 if path.startswith("/static/") else 400  # not a page file; an API id's own check (voice, job)


@pytest.mark.parametrize("hostile", TRAVERSALS)
async def test_traversal_in_every_path_parameter_is_refused(
    start_server: StartServer, http: aiohttp.ClientSession, hostile: str
) -> None:
    server = await start_server()
    seen = _spy_on_library(server)
    templated = [(m, p) for m, p in routes(server) if "{" in p]
    assert templated, "no route with a parameter?"
    for method, path in templated:
        spellings = [URL.build(path="/" + hostile).raw_path[1:]]
        if hostile.isprintable():  # a client cannot put a raw NUL or newline in a request line
            spellings.append(hostile)
        for spelling in spellings:
            raw = _fill(path, spelling)
            url = URL(server.http_url + raw, encoded=True)
            async with http.request(method, url, headers=auth(server), json={"name": "x"}) as response:
                text = await response.text()
                assert response.status == _refusal(path, spelling), (method, raw, response.status)
                assert server.token not in text and "root:" not in text
    assert all(SLUG.fullmatch(value) for value in seen), seen
    assert [pack.id for pack in server.library.voices()] == ["joe", "mum"]
    assert (server.app.settings.data_dir / "admin_token").read_text().strip() == server.token


@pytest.mark.parametrize("hostile", TRAVERSALS)
async def test_traversal_in_every_body_field_is_refused(
    start_server: StartServer, http: aiohttp.ClientSession, hostile: str
) -> None:
    server = await start_server()
    seen = _spy_on_library(server)
    for field in ("voice_id", "style", "language"):
        async with http.post(
            f"{server.http_url}/api/voices", data=enrollment_form(None, **{field: hostile}), headers=auth(server)
        ) as response:
            assert response.status == 400, (field, await response.text())
    for field in ("voice", "style"):
        async with http.post(f"{server.http_url}/api/tts", json={"text": "Hello.", field: hostile}) as response:
            assert response.status == 404, (field, response.status)
            assert (await response.json())["code"] == "unknown-voice"
    # A language only picks a voice: one that no voice speaks falls back to the default voice, like "xx".
    async with http.post(f"{server.http_url}/api/tts", json={"text": "Hello.", "language": "xx"}) as response:
        default_voice = response.headers["X-Voice-Id"]
    async with http.post(f"{server.http_url}/api/tts", json={"text": "Hello.", "language": hostile}) as response:
        assert response.status == 200
        assert response.headers["X-Voice-Id"] == default_voice
    async with server.client() as client:
        for voice in (SynthesizeVoice(name=hostile), SynthesizeVoice(name="mum", speaker=hostile)):
            await client.write_event(Synthesize("Hello.", voice=voice).event())
            reply = await read_reply(client)
            assert reply.error is not None and reply.error.code == "unknown-voice", reply
        event = Synthesize("Hello.", voice=SynthesizeVoice(name="mum")).event()
        event.data["edge_tts_clone"] = {"style": hostile}
        await client.write_event(event)
        reply = await read_reply(client)
        assert reply.error is not None and reply.error.code == "unknown-voice", reply
    assert all(SLUG.fullmatch(value) for value in seen), seen
    assert server.library.enrolled_audio == []


# ----- CORS -----------------------------------------------------------------------------------


async def test_no_route_answers_cross_origin_requests_or_preflights(
    start_server: StartServer, http: aiohttp.ClientSession
) -> None:
    server = await start_server()
    origin = {"Origin": "http://evil.example"}
    assert routes(server), "the route table came back empty"
    for method, path in routes(server):
        url = server.http_url + concrete(path)
        body = {"name": "x", "text": "Hi."}
        async with http.request(method, url, headers={**origin, **auth(server)}, json=body) as response:
            assert not [h for h in response.headers if h.lower().startswith("access-control-")], (method, path)
        preflight = {
            **origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "authorization",
        }
        async with http.options(url, headers=preflight) as response:
            assert response.status == 405, (path, response.status)
            assert not [h for h in response.headers if h.lower().startswith("access-control-")], path
