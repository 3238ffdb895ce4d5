"""`edge-tts-clone health`: exit 0 when the server answers `describe` with its TTS program (a HEALTHCHECK).

A port that accepts connections is not enough: the event loop must be alive to answer.
`python -m wyoming_server.cli.health` runs it without loading the other commands (numpy,
onnxruntime), so the check every 30 s stays cheap on a Pi.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import Any, Final

from ..settings import DEFAULT_URI
from .environment import apply_environment_defaults

DEFAULT_TIMEOUT_S: Final = 5.0
_ANY_ADDRESS: Final = ("0.0.0.0", "[::]")


def register(subparsers: Any) -> None:
    """Add the `health` sub-command."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "health",
        help="check that a running server answers (for container health checks)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    _add_arguments(parser)


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--uri", default=DEFAULT_URI, help="the server's Wyoming endpoint (an any-address host means this machine)"
    )
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, help="seconds to wait for the answer")
    apply_environment_defaults(parser, os.environ)  # EDGE_TTS_CLONE_URI: the same endpoint `serve` listens on
    parser.set_defaults(func=run)


def local_uri(uri: str) -> str:
    """`tcp://0.0.0.0:10210` (where a server listens) -> `tcp://127.0.0.1:10210` (where to reach it)."""
    for address in _ANY_ADDRESS:
        uri = uri.replace(f"://{address}:", "://127.0.0.1:")
    return uri


async def check(uri: str, timeout_s: float) -> str:
    """The server's program name and voice count; raises OSError/TimeoutError/ValueError when it fails."""
    from wyoming.client import AsyncClient
    from wyoming.info import Describe, Info

    async with asyncio.timeout(timeout_s), AsyncClient.from_uri(uri) as client:
        await client.write_event(Describe().event())
        while True:
            event = await client.read_event()
            if event is None:
                raise ConnectionError("the server closed the connection without answering")
            if Info.is_type(event.type):
                break
    programs = Info.from_event(event).tts
    if not programs:
        raise ValueError("the server lists no TTS program")
    return f"{programs[0].name}: {len(programs[0].voices)} voices"


def run(args: argparse.Namespace) -> int:
    """0 when healthy, 1 (with the reason on stderr) when not."""
    uri = local_uri(args.uri)
    try:
        print(f"healthy ({asyncio.run(check(uri, args.timeout))})")
    except (OSError, TimeoutError, ValueError) as err:
        print(f"unhealthy: {uri}: {err or type(err).__name__}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m wyoming_server.cli.health [--uri URI] [--timeout S]`."""
    parser = argparse.ArgumentParser(
        prog="edge-tts-clone health",
        description="Exit 0 when the server answers describe.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    _add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
