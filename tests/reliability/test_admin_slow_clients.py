"""Slow and idle HTTP clients (slowloris): slow headers, slow bodies, idle connections, a connection flood.

aiohttp has no timeout for a request's headers; the admin site uses its keep-alive timer as one
(see AdminSite.start), and caps the connections it holds.
"""

from __future__ import annotations

import asyncio
from typing import Final

import aiohttp

from tests.support.admin_client import CONSENT, part, status_of
from tests.support.fakes import wav_bytes
from tests.support.servers import RunningServer, StartServer

WAIT_S: Final = 10.0
DRIBBLE_PAUSE_S: Final = 0.02


async def _open(server: RunningServer) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", server.app.http_port)


async def _answer(reader: asyncio.StreamReader) -> bytes:
    """The first bytes the server sends, or b"" once it has closed the connection.

    A server that closes while a byte we sent is still unread in its socket makes its kernel answer
    with RST instead of FIN, and our read fails with ConnectionResetError instead of returning b"".
    Whether a dribbled byte is in flight at that instant is timing (under load, the byte written and
    the server's timer often run in the same turn of the event loop), so both mean "closed".
    """
    try:
        return await reader.read(65536)
    except ConnectionResetError:
        return b""


async def _dribble(writer: asyncio.StreamWriter, reader: asyncio.StreamReader, data: bytes) -> tuple[int, bytes]:
    """Send `data` a byte at a time until the server answers or closes; (bytes sent, first bytes of the answer)."""
    answer = asyncio.ensure_future(_answer(reader))
    sent = 0
    async with asyncio.timeout(WAIT_S):
        while not answer.done() and sent < len(data):
            try:
                writer.write(data[sent : sent + 1])
                await writer.drain()
            except ConnectionError:
                break
            sent += 1
            await asyncio.wait({answer}, timeout=DRIBBLE_PAUSE_S)  # pace, but wake at once on an answer
        return sent, await answer


async def test_headers_dribbled_byte_by_byte_are_cut_off(start_server: StartServer) -> None:
    server = await start_server(http_header_timeout_s=0.5)
    reader, writer = await _open(server)
    request = b"GET /api/health HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"p" * 5000 + b"\r\n\r\n"
    sent, answer = await _dribble(writer, reader, request)
    writer.close()
    assert sent < len(request), "the server waited for the whole dribbled header"
    assert answer == b"" or status_of(answer) >= 400
    async with aiohttp.ClientSession() as http, http.get(f"{server.http_url}/api/health") as response:
        assert response.status == 200  # only that connection was cut


async def test_a_connection_that_never_sends_a_request_is_closed(start_server: StartServer) -> None:
    server = await start_server(http_header_timeout_s=0.3)
    reader, writer = await _open(server)
    assert await asyncio.wait_for(reader.read(), WAIT_S) == b""
    writer.close()


async def test_an_idle_kept_alive_connection_is_closed(start_server: StartServer) -> None:
    server = await start_server(http_header_timeout_s=0.3)
    reader, writer = await _open(server)
    writer.write(b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n")
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), WAIT_S)
    assert status_of(head) == 200
    rest = await asyncio.wait_for(reader.read(), WAIT_S)  # the body, then the close
    assert rest.endswith(b"}")
    writer.close()


async def test_a_multipart_upload_sent_too_slowly_times_out(start_server: StartServer) -> None:
    server = await start_server(http_body_timeout_s=0.5)
    body = (
        part("name", b"Grandma") + part("language", b"zh") + part("consent", CONSENT.encode())
        + part("audio", wav_bytes(3.0)) + b"--b--\r\n"
    )
    head = (
        f"POST /api/voices HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {server.token}\r\n"
        f"Content-Type: multipart/form-data; boundary=b\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    reader, writer = await _open(server)
    writer.write(head)
    sent, answer = await _dribble(writer, reader, body)
    writer.close()
    assert sent < len(body)
    assert status_of(answer) == 408
    assert server.library.enrolled_audio == []


async def test_connections_past_the_cap_are_turned_away_and_the_rest_still_serve(start_server: StartServer) -> None:
    server = await start_server(max_http_connections=3, http_header_timeout_s=30.0)
    held = [await _open(server) for _ in range(3)]
    reader, writer = await _open(server)
    answer = await asyncio.wait_for(reader.read(), WAIT_S)
    writer.close()
    assert status_of(answer) == 503 and b'"busy"' in answer
    for _reader, held_writer in held:
        held_writer.close()
    async with aiohttp.ClientSession() as http:
        for _attempt in range(50):  # the server notices the closes as it reads them
            async with http.get(f"{server.http_url}/api/health") as response:
                if response.status == 200:
                    break
        assert response.status == 200
