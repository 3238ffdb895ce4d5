"""The admin HTTP API over a real socket: auth, validation, traversal, uploads, speech, metrics, OpenAPI."""

from __future__ import annotations

import asyncio
import io
import logging
import stat
import threading
import uuid
import wave
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from wyoming.info import Describe, Info
from yarl import URL

from tests.support.fakes import GPT_SOVITS_RATE_HZ, REJECT_MARKER, expected_pcm, make_pack, wav_bytes
from tests.support.servers import RunningServer, StartServer
from tests.support.wire import read_some
from wyoming_server.engine import SynthesisOptions


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP client with a short timeout."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as session:
        yield session


def _auth(server: RunningServer) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.token}"}


def _enrollment(**fields: Any) -> aiohttp.FormData:
    form = aiohttp.FormData(default_to_multipart=True)
    audio = fields.pop("audio", wav_bytes(2.0))
    defaults = {
        "name": "Grandma",
        "text": "今天天气很好",
        "language": "zh",
        "consent": "Grandma agrees to her voice being cloned",
    }
    for key, value in {**defaults, **fields}.items():
        if value is not None:
            form.add_field(key, value)
    if audio is not None:
        form.add_field("audio", audio, filename="clip.wav", content_type="audio/wav")
    return form


async def test_health_reports_identity_and_counts(
    start_server: StartServer, http: aiohttp.ClientSession
) -> None:
    server = await start_server()
    async with http.get(f"{server.http_url}/api/health") as response:
        assert response.status == 200
        body = await response.json()
    server_id = (server.app.settings.data_dir / "server_id").read_text().strip()
    assert body == {
        "status": "ok",
        "version": "0.1.0",
        "server_id": server_id,
        "voices": 2,
        "models_loaded": 1,
        "wyoming_port": server.port,
    }
    assert uuid.UUID(server_id)


async def test_token_file_is_private_and_the_token_never_leaks(
    start_server: StartServer, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server = await start_server()
    token_path = server.app.settings.data_dir / "admin_token"
    assert stat.S_IMODE(token_path.stat().st_mode) == 0o600
    token = server.token
    assert len(token) >= 32
    seen: list[str] = []
    for path in ("/api/health", "/api/voices", "/api/openapi.json", "/metrics", "/", "/static/app.js"):
        async with http.get(server.http_url + path, headers=_auth(server)) as response:
            seen.append(await response.text())
            seen.extend(f"{k}: {v}" for k, v in response.headers.items())
    assert not any(token in text for text in seen)
    assert token not in caplog.text


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/voices"),
        ("PATCH", "/api/voices/mum"),
        ("DELETE", "/api/voices/mum"),
        ("GET", "/api/auth"),
    ],
)
@pytest.mark.parametrize("header", [None, "Bearer wrong-token", "Basic abc", "Bearer ", "bearer"])
async def test_writes_need_the_token(
    start_server: StartServer, http: aiohttp.ClientSession, method: str, path: str, header: str | None
) -> None:
    server = await start_server()
    headers = {"Authorization": header} if header is not None else {}
    async with http.request(method, server.http_url + path, headers=headers, json={"name": "x"}) as response:
        assert response.status == 401
        body = await response.json()
    assert body["code"] == "unauthorized"
    assert "mum" in {voice.id for voice in server.library.voices()}


async def test_the_right_token_is_accepted_in_any_case_of_bearer(
    start_server: StartServer, http: aiohttp.ClientSession
) -> None:
    server = await start_server()
    async with http.get(
        f"{server.http_url}/api/auth", headers={"Authorization": f"bearer {server.token}"}
    ) as r:
        assert r.status == 200 and await r.json() == {"ok": True}


async def test_list_and_show_voices(start_server: StartServer, http: aiohttp.ClientSession) -> None:
    server = await start_server()
    async with http.get(f"{server.http_url}/api/voices") as response:
        body = await response.json()
    assert [voice["id"] for voice in body["voices"]] == ["joe", "mum"]
    assert body["skipped"] == []
    async with http.get(f"{server.http_url}/api/voices/mum") as response:
        mum = await response.json()
    assert mum["name"] == "Mum" and mum["kind"] == "gpt-sovits" and not mum["builtin"]
    assert [style["name"] for style in mum["styles"]] == ["default", "calm"]
    assert mum["styles"][0]["quality"]["snr_db"] == 31.5
    assert mum["consent"]["statement"] == "I agree"
    async with http.get(f"{server.http_url}/api/voices/nobody") as response:
        assert response.status == 404 and (await response.json())["code"] == "unknown-voice"


@pytest.mark.parametrize(
    "path",
    [
        "/api/voices/..%2F..%2Fadmin_token",
        "/api/voices/..%2Fadmin_token",
        "/api/voices/%2E%2E",
        "/api/voices/.hidden",
        "/api/voices/a%00b",
        "/api/voices/" + "a" * 65,
        "/static/..%2F..%2Fadmin_token",
        "/static/%2E%2E%2Findex.html",
        "/static/../../admin_token",
    ],
)
async def test_path_traversal_is_refused(
    start_server: StartServer, http: aiohttp.ClientSession, path: str
) -> None:
    server = await start_server()
    token = server.token
    for method in ("GET", "DELETE", "PATCH"):
        # The id's slug check; a page name not in the file list, a method the page lacks, or no such route.
        expected = 400 if path.startswith("/api/") else 404 if method == "GET" or path.count("/") > 2 else 405
        url = URL(server.http_url + path, encoded=True)
        async with http.request(method, url, headers=_auth(server), json={"name": "x"}) as response:
            text = await response.text()
            assert response.status == expected, (method, path, response.status)
            assert token not in text
            assert response.content_type == "application/json"
    assert (server.app.settings.data_dir / "admin_token").exists()
    assert len(server.library.voices()) == 2


async def test_enroll_by_upload_creates_a_voice_that_wyoming_lists(
    start_server: StartServer, http: aiohttp.ClientSession
) -> None:
    server = await start_server()
    async with http.post(
        f"{server.http_url}/api/voices", data=_enrollment(), headers=_auth(server)
    ) as response:
        assert response.status == 201, await response.text()
        body = await response.json()
    assert body["voice"]["name"] == "Grandma" and body["report"]["accepted"]
    assert body["voice"]["consent"]["recorded_by"] == "admin-api"
    voice_id = body["voice"]["id"]
    async with server.client() as client:
        await client.write_event(Describe().event())
        info = Info.from_event(await read_some(client))
    assert voice_id in {voice.name for voice in info.tts[0].voices}
    assert server.library.enrolled_audio == [wav_bytes(2.0)]


@pytest.mark.parametrize(
    ("fields", "status", "code"),
    [
        ({"consent": None}, 400, "bad-request"),
        ({"consent": "false"}, 400, "bad-request"),
        ({"name": None}, 400, "bad-request"),
        ({"name": "bad\x07name"}, 400, "bad-request"),
        ({"name": "x" * 81}, 400, "bad-request"),
        ({"language": "../etc"}, 400, "bad-request"),
        ({"style": "../../evil"}, 400, "bad-request"),
        ({"voice_id": "../mum"}, 400, "bad-request"),
        ({"start_s": "nan"}, 400, "bad-request"),
        ({"start_s": "3", "end_s": "2"}, 400, "bad-request"),
        ({"audio": None}, 400, "bad-request"),
        ({"audio": b"<html>not audio</html>"}, 415, "unsupported-media"),
        ({"voice_id": "nobody"}, 404, "unknown-voice"),
        ({"text": f"{REJECT_MARKER} please"}, 422, "rejected"),
    ],
)
async def test_enrollment_validation(
    start_server: StartServer, http: aiohttp.ClientSession, fields: dict[str, Any], status: int, code: str
) -> None:
    server = await start_server()
    form = _enrollment(**fields)
    async with http.post(f"{server.http_url}/api/voices", data=form, headers=_auth(server)) as response:
        body = await response.json()
        assert (response.status, body["code"]) == (status, code), body
    assert body["error"]
    if code == "rejected":
        assert body["report"]["accepted"] is False and body["report"]["reasons"]
    assert len(server.library.voices()) == 2


async def test_an_oversized_upload_is_refused(start_server: StartServer, http: aiohttp.ClientSession) -> None:
    server = await start_server(max_upload_bytes=100_000)
    form = _enrollment(audio=wav_bytes(5.0))  # 160 kB
    async with http.post(f"{server.http_url}/api/voices", data=form, headers=_auth(server)) as response:
        assert response.status == 413
        assert (await response.json())["code"] == "too-large"


async def test_a_body_sent_too_slowly_times_out(start_server: StartServer) -> None:
    server = await start_server(http_body_timeout_s=0.3)
    reader, writer = await asyncio.open_connection("127.0.0.1", server.app.http_port)
    writer.write(
        b"PATCH /api/voices/mum HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Authorization: Bearer {server.token}\r\nContent-Length: 100\r\n\r\n".encode()
        + b'{"name": '
    )
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), 10)
    writer.close()
    assert status_line.startswith(b"HTTP/1.1 408"), status_line


async def test_rename_and_delete(start_server: StartServer, http: aiohttp.ClientSession) -> None:
    server = await start_server()
    url = f"{server.http_url}/api/voices/mum"
    async with http.patch(url, json={"name": "Mama 妈妈"}, headers=_auth(server)) as response:
        assert response.status == 200 and (await response.json())["name"] == "Mama 妈妈"
    async with http.patch(url, json={"name": ""}, headers=_auth(server)) as response:
        assert response.status == 400
    async with http.patch(url, data=b"{not json", headers=_auth(server)) as response:
        assert response.status == 400 and (await response.json())["code"] == "bad-request"
    async with http.delete(url, headers=_auth(server)) as response:
        assert response.status == 204
    async with http.delete(url, headers=_auth(server)) as response:
        assert response.status == 404
    async with http.delete(f"{server.http_url}/api/voices/joe", headers=_auth(server)) as response:
        assert response.status == 409 and (await response.json())["code"] == "builtin"
    assert [voice.id for voice in server.library.voices()] == ["joe"]


async def test_tts_returns_the_engine_audio_as_wav(
    start_server: StartServer, http: aiohttp.ClientSession
) -> None:
    server = await start_server()
    request = {"text": "Dinner is ready.", "voice": "mum", "style": "calm", "speed": 1.5, "seed": 3}
    async with http.post(f"{server.http_url}/api/tts", json=request) as response:
        assert response.status == 200 and response.content_type == "audio/wav"
        body = await response.read()
    with wave.open(io.BytesIO(body)) as wav:
        assert (wav.getframerate(), wav.getsampwidth(), wav.getnchannels()) == (GPT_SOVITS_RATE_HZ, 2, 1)
        pcm = wav.readframes(wav.getnframes())
    assert pcm == expected_pcm("mum", "calm", "Dinner is ready.", SynthesisOptions(seed=3, speed=1.5))


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"text": "Hi.", "voice": "nobody"}, 404, "unknown-voice"),
        ({"text": "Hi.", "voice": "mum", "style": "nope"}, 404, "unknown-voice"),
        ({"text": "  "}, 400, "empty-text"),
        ({"text": "x" * 3000}, 400, "text-too-long"),
        ({"text": "Hi.", "speed": 0.1}, 400, "bad-request"),
        ({"voice": "mum"}, 400, "bad-request"),
        (["not", "an", "object"], 400, "bad-request"),
    ],
)
async def test_tts_errors_are_json(
    start_server: StartServer, http: aiohttp.ClientSession, body: Any, status: int, code: str
) -> None:
    server = await start_server()
    async with http.post(f"{server.http_url}/api/tts", json=body) as response:
        assert response.status == status
        assert (await response.json())["code"] == code


async def test_metrics_count_requests_errors_and_cache(
    start_server: StartServer, http: aiohttp.ClientSession
) -> None:
    server = await start_server(cache_mb=1)
    for _ in range(2):
        async with http.post(
            f"{server.http_url}/api/tts", json={"text": "Hello.", "voice": "mum"}
        ) as response:
            assert response.status == 200
    async with http.post(f"{server.http_url}/api/tts", json={"text": "Hi.", "voice": "nobody"}) as response:
        assert response.status == 404
    async with http.get(f"{server.http_url}/metrics") as response:
        assert response.content_type == "text/plain"
        text = await response.text()
    lines = set(text.splitlines())
    assert 'edge_tts_clone_requests_total{channel="http",kind="synthesize"} 3' in lines
    assert 'edge_tts_clone_errors_total{code="unknown-voice"} 1' in lines
    assert "edge_tts_clone_cache_hits_total 1" in lines
    assert "edge_tts_clone_cache_misses_total 1" in lines
    assert "edge_tts_clone_time_to_first_audio_seconds_count 2" in lines
    assert "edge_tts_clone_real_time_factor_count 1" in lines
    assert "edge_tts_clone_loaded_models 1" in lines
    assert "edge_tts_clone_voices 2" in lines


async def test_openapi_describes_exactly_the_registered_routes(
    start_server: StartServer, http: aiohttp.ClientSession
) -> None:
    server = await start_server()
    async with http.get(f"{server.http_url}/api/openapi.json") as response:
        document = await response.json()
    assert document["openapi"].startswith("3.")
    documented = {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method != "parameters"
    }
    assert server.app.admin is not None
    registered = set()
    for route in server.app.admin._app.router.routes():  # the real route table
        if route.method == "HEAD":
            continue
        info = route.resource.get_info() if route.resource else {}
        registered.add((route.method, info.get("path") or info.get("formatter")))
    assert documented == registered


async def test_no_cors_headers_and_hardening_headers(
    start_server: StartServer, http: aiohttp.ClientSession
) -> None:
    server = await start_server()
    origin = {"Origin": "http://evil.example"}
    async with http.get(f"{server.http_url}/api/voices", headers=origin) as response:
        assert "Access-Control-Allow-Origin" not in response.headers
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    async with http.options(
        f"{server.http_url}/api/voices", headers={**origin, "Access-Control-Request-Method": "DELETE"}
    ) as response:
        assert "Access-Control-Allow-Origin" not in response.headers
        assert response.status == 405
    async with http.get(f"{server.http_url}/") as response:
        assert "script-src 'self'" in response.headers["Content-Security-Policy"]
        assert response.headers["X-Frame-Options"] == "DENY"


async def test_unknown_routes_are_json_errors(start_server: StartServer, http: aiohttp.ClientSession) -> None:
    server = await start_server()
    async with http.get(f"{server.http_url}/api/nothing") as response:
        assert response.status == 404 and (await response.json())["code"] == "not-found"


async def test_skipped_folders_are_reported(start_server: StartServer, http: aiohttp.ClientSession) -> None:
    from wyoming_server.voices.pack import SkippedPack

    server = await start_server()
    server.library.set_skipped([SkippedPack("voices/broken", "voice.json is not valid JSON")])
    server.library.add(make_pack("dad", "Dad"))
    async with http.get(f"{server.http_url}/api/voices") as response:
        body = await response.json()
    assert body["skipped"] == [{"path": "voices/broken", "reason": "voice.json is not valid JSON"}]
    assert "dad" in [voice["id"] for voice in body["voices"]]


async def test_an_http_client_that_hangs_up_stops_its_synthesis(start_server: StartServer) -> None:
    server = await start_server()
    behaviour = server.library.behaviour
    behaviour.gate = threading.Event()
    session = aiohttp.ClientSession()
    request = asyncio.ensure_future(session.post(f"{server.http_url}/api/tts", json={"text": "Never heard."}))
    assert await asyncio.to_thread(behaviour.started.wait, 10)
    request.cancel()
    await session.close()
    assert await asyncio.to_thread(behaviour.stop_seen.wait, 10), "the engine was not told to stop"
