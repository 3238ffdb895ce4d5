"""Runs the real server on stdin/stdout around the fake library (the stdio subprocess test starts it).

Usage: python tests/support/stdio_fake_server.py DATA_DIR
"""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

from tests.support.fakes import FakeLibrary
from wyoming_server.cli.serve import serve
from wyoming_server.settings import ServerSettings


def main() -> None:
    """Serve until stdin ends."""
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    data_dir = Path(sys.argv[1])
    settings = ServerSettings(data_dir=data_dir, uri="stdio://", http_port=None)
    asyncio.run(serve(settings, FakeLibrary(data_dir)))


if __name__ == "__main__":
    main()
