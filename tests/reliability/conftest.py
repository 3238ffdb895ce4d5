"""Fixtures shared with the server tests: a real server on 127.0.0.1 around the FakeLibrary."""

from tests.support.servers import library, start_server

__all__ = ["library", "start_server"]
