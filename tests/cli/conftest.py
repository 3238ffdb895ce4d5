"""Fixtures: generated clips, a data folder with one fake model, a local model server."""

from tests.support.model_server import server
from tests.support.voices import data_dir, good_wav, speech, store

__all__ = ["data_dir", "good_wav", "server", "speech", "store"]
