"""Fixtures shared with the server tests: a real server on 127.0.0.1 around the FakeLibrary."""

from tests.server.conftest import library, start_server

__all__ = ["library", "start_server"]
