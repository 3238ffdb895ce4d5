"""Fixtures: the tiny release on a local HTTP server (and the catalogue that expects it)."""

from tests.support.jobs import model_files

__all__ = ["model_files"]
