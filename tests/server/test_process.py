"""The server as a process: stdio transport, the command line, and end-to-end runs with the real library."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Final

import pytest
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.event import Event, async_read_event, async_write_event
from wyoming.info import Describe, Info
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeStopped,
    SynthesizeVoice,
)

from tests.support.fakes import GPT_SOVITS_RATE_HZ, expected_pcm
from wyoming_server.cli import build_parser
from wyoming_server.cli.serve import settings_from_args

REPO: Final = Path(__file__).resolve().parents[2]
TIMEOUT_S: Final = 60.0


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}


@asynccontextmanager
async def _process(*args: str) -> AsyncIterator[asyncio.subprocess.Process]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *args,
        cwd=REPO,
        env=_env(),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def _send(proc: asyncio.subprocess.Process, event: Event) -> None:
    assert proc.stdin is not None
    await async_write_event(event, proc.stdin)


async def _next(proc: asyncio.subprocess.Process) -> Event:
    assert proc.stdout is not None
    event = await asyncio.wait_for(async_read_event(proc.stdout), TIMEOUT_S)
    if event is None:
        assert proc.stderr is not None
        raise AssertionError(
            "the server ended: " + (await proc.stderr.read()).decode(errors="replace")[-2000:]
        )
    return event


async def _audio(proc: asyncio.subprocess.Process) -> tuple[AudioStart, bytes]:
    start_event = await _next(proc)
    assert AudioStart.is_type(start_event.type), start_event
    start = AudioStart.from_event(start_event)
    pcm = b""
    while True:
        event = await _next(proc)
        if AudioStop.is_type(event.type):
            return start, pcm
        assert AudioChunk.is_type(event.type), event
        chunk = AudioChunk.from_event(event)
        assert (chunk.rate, chunk.width, chunk.channels) == (start.rate, start.width, start.channels)
        pcm += chunk.audio


async def test_stdio_server_answers_and_finishes_its_replies_at_end_of_input(tmp_path: Path) -> None:
    async with _process("tests/support/stdio_fake_server.py", str(tmp_path)) as proc:
        await _send(proc, Describe().event())
        info = Info.from_event(await _next(proc))
        assert [voice.name for voice in info.tts[0].voices] == ["joe", "mum"]

        await _send(proc, SynthesizeStart(voice=SynthesizeVoice(name="mum")).event())
        await _send(proc, SynthesizeChunk("Streamed on std").event())
        await _send(proc, SynthesizeChunk("io. Yes.").event())
        await _send(proc, SynthesizeStop().event())
        for sentence in ("Streamed on stdio.", "Yes."):
            start, pcm = await _audio(proc)
            assert start.rate == GPT_SOVITS_RATE_HZ and pcm == expected_pcm("mum", "default", sentence)
        assert SynthesizeStopped.is_type((await _next(proc)).type)

        # A request followed at once by the end of input is still answered in full.
        await _send(proc, Synthesize("Last words.", voice=SynthesizeVoice(name="mum")).event())
        assert proc.stdin is not None
        proc.stdin.close()
        _start, pcm = await _audio(proc)
        assert pcm == expected_pcm("mum", "default", "Last words.")
        assert await asyncio.wait_for(proc.wait(), TIMEOUT_S) == 0


def test_flags_become_settings(tmp_path: Path) -> None:
    parser, names = build_parser()
    assert "serve" in names
    args = parser.parse_args(
        [
            "serve",
            "--uri",
            "tcp://127.0.0.1:4000",
            "--http-port",
            "0",
            "--data-dir",
            str(tmp_path),
            "--max-concurrent",
            "2",
            "--threads",
            "3",
            "--no-streaming",
            "--cache-size-mb",
            "0",
            "--request-timeout",
            "5",
            "--max-text-chars",
            "10",
            "--zeroconf",
            "--samples-per-chunk",
            "512",
        ]
    )
    settings = settings_from_args(args)
    assert settings.uri == "tcp://127.0.0.1:4000" and settings.http_port is None
    assert settings.data_dir == tmp_path and settings.cache is None and not settings.streaming
    assert settings.limits.max_concurrent == 2 and settings.engine.threads == 3
    assert settings.limits.request_timeout_s == 5 and settings.limits.max_text_chars == 10
    assert settings.zeroconf_name == "" and settings.samples_per_chunk == 512
    defaults = settings_from_args(parser.parse_args(["serve"]))
    assert defaults.uri == "tcp://0.0.0.0:10210" and defaults.http_port == 10211
    assert defaults.cache is not None and defaults.cache.directory == Path("voices") / "cache"
    assert defaults.zeroconf_name is None and defaults.engine.threads >= 1


@pytest.mark.parametrize(
    "flags",
    [
        ["--uri", "http://x:1"],
        ["--uri", "tcp://nohost"],
        ["--max-concurrent", "0"],
        ["--cache-size-mb", "-1"],
    ],
)
def test_bad_flags_are_refused_with_the_flag_named(flags: list[str]) -> None:
    parser, _names = build_parser()
    with pytest.raises(ValueError, match=r"--|tcp|uri"):
        settings_from_args(parser.parse_args(["serve", *flags]))


async def test_stdio_run_of_the_module_speaks_with_the_stock_voice(tmp_path: Path) -> None:
    async with _process(
        "-m", "wyoming_server", "--uri", "stdio://", "--http-port", "0", "--data-dir", str(tmp_path)
    ) as proc:
        await _send(proc, Describe().event())
        info = Info.from_event(await _next(proc))
        voices = info.tts[0].voices
        assert voices, "a fresh install lists the stock voice"
        await _send(
            proc,
            Synthesize("Hello from the stock voice.", voice=SynthesizeVoice(name=voices[0].name)).event(),
        )
        start, pcm = await _audio(proc)
        assert start.width == 2 and start.channels == 1 and len(pcm) > 2 * start.rate // 2


async def test_serve_end_to_end_over_tcp_with_the_stock_voice(tmp_path: Path) -> None:
    async with _process(
        "-m",
        "wyoming_server",
        "serve",
        "--uri",
        "tcp://127.0.0.1:0",
        "--http-port",
        "0",
        "--data-dir",
        str(tmp_path),
    ) as proc:
        assert proc.stderr is not None
        port = None
        while port is None:
            line = (await asyncio.wait_for(proc.stderr.readline(), TIMEOUT_S)).decode(errors="replace")
            assert line, "the server exited before listening"
            if match := re.search(r"listening on tcp://127\.0\.0\.1:(\d+)", line):
                port = int(match.group(1))
        async with AsyncTcpClient("127.0.0.1", port) as client:
            await client.write_event(Synthesize("Dinner is ready.").event())
            start_event = await asyncio.wait_for(client.read_event(), TIMEOUT_S)
            assert start_event is not None and AudioStart.is_type(start_event.type), start_event
            audio = b""
            while True:
                event = await asyncio.wait_for(client.read_event(), TIMEOUT_S)
                assert event is not None
                if AudioStop.is_type(event.type):
                    break
                audio += AudioChunk.from_event(event).audio
        assert len(audio) > 0
        proc.terminate()
        assert await asyncio.wait_for(proc.wait(), TIMEOUT_S) == 0, "SIGTERM stops the server gracefully"


async def test_sigterm_stops_the_server_gracefully(tmp_path: Path) -> None:
    async with _process("tests/support/stdio_fake_server.py", str(tmp_path)) as proc:
        await _send(proc, Describe().event())
        assert Info.is_type((await _next(proc)).type)  # it is up and serving
        proc.terminate()
        assert await asyncio.wait_for(proc.wait(), TIMEOUT_S) == 0


def test_version_flag(capsys: pytest.CaptureFixture[str]) -> None:
    parser, _names = build_parser()
    for argv in (["--version"], ["serve", "--version"]):
        with pytest.raises(SystemExit) as exit_info:
            parser.parse_args(argv)
        assert exit_info.value.code == 0
        assert capsys.readouterr().out.strip() == "0.1.0"
