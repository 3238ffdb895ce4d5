"""Tiny T2S fixtures: an upstream-format GPT checkpoint, converted once per session by the real converter."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from tests.support.tiny_models.t2s import ConvertedT2S, Inputs, convert_t2s, eos_forcing_weights
from wyoming_server.convert.random_weights.gpt import write_tiny_gpt


@pytest.fixture(scope="session")
def tiny_t2s(tmp_path_factory: pytest.TempPathFactory) -> ConvertedT2S:
    """The default tiny model (2 layers, width 64, 2 heads), converted."""
    root = tmp_path_factory.mktemp("tiny_t2s")
    return convert_t2s(write_tiny_gpt(root / "gpt.ckpt"), root / "model")


@pytest.fixture(scope="session")
def eos_t2s(tmp_path_factory: pytest.TempPathFactory) -> ConvertedT2S:
    """A tiny model edited so that EOS always has the top logit."""
    root = tmp_path_factory.mktemp("eos_t2s")
    return convert_t2s(write_tiny_gpt(root / "gpt.ckpt", weights=eos_forcing_weights()), root / "model")


@pytest.fixture
def make_inputs() -> Callable[..., Inputs]:
    """Seeded random phones (N,), bert (1024, N) and prompt (Tp,)."""

    def make(n_phones: int = 12, n_prompt: int = 7, seed: int = 0) -> Inputs:
        rng = np.random.default_rng(seed)
        phones = rng.integers(0, 732, n_phones).astype(np.int64)
        bert = rng.standard_normal((1024, n_phones)).astype(np.float32)
        prompt = rng.integers(0, 1024, n_prompt).astype(np.int64)
        return phones, bert, prompt

    return make
