"""Fixtures: generated clips and a voice library over a data folder with one fake model."""

from tests.support.voices import data_dir, good_wav, speech, store

__all__ = ["data_dir", "good_wav", "speech", "store"]
