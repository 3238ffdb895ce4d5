"""Fixtures: a real server on 127.0.0.1 (port 0) around a FakeLibrary."""

from tests.support.servers import library, start_server

__all__ = ["library", "start_server"]
