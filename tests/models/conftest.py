"""Fixtures: a local HTTP server that serves model files."""

from tests.support.model_server import server

__all__ = ["server"]
