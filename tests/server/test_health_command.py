"""`edge-tts-clone health`, the container's HEALTHCHECK: healthy only when the server answers `describe`."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys

import pytest

from tests.support.servers import StartServer
from wyoming_server.cli.health import check, local_uri


def test_an_any_address_uri_is_checked_on_this_machine() -> None:
    assert local_uri("tcp://0.0.0.0:10210") == "tcp://127.0.0.1:10210"
    assert local_uri("tcp://[::]:10300") == "tcp://127.0.0.1:10300"
    assert local_uri("tcp://192.0.2.7:10210") == "tcp://192.0.2.7:10210"


async def test_a_running_server_is_healthy(start_server: StartServer) -> None:
    server = await start_server()
    assert await check(f"tcp://127.0.0.1:{server.port}", 5.0) == "edge-tts-clone: 2 voices"


async def test_nothing_listening_is_unhealthy() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(OSError):
        await check(f"tcp://127.0.0.1:{port}", 5.0)


async def test_a_server_that_accepts_but_never_answers_is_unhealthy() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # holds the connection, answers nothing

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        with pytest.raises(TimeoutError):
            await check(f"tcp://127.0.0.1:{port}", 0.5)


def test_the_health_module_loads_neither_numpy_nor_onnxruntime() -> None:
    # It runs every 30 s in the container; and under qemu-user importing onnxruntime crashes.
    probe = "import sys, wyoming_server.cli.health; print('numpy' in sys.modules, 'onnxruntime' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False"]
