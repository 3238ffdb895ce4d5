"""Fixtures for Home Assistant's harness against the container: custom integrations on, TTS cache in tmp."""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from unittest.mock import patch

import pytest

# HA's loader imports the top-level package `custom_components`; importing ours before the
# `hass` fixture puts the repository's package there (not phcc's testing_config one).
import custom_components.edge_tts_clone  # noqa: F401


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let HA load integrations from custom_components/."""


@pytest.fixture(autouse=True)
def mock_tts_cache_dir(tmp_path: Path) -> Generator[Path]:
    """Keep HA's TTS file cache in the test's temp folder."""
    cache_dir = tmp_path / "tts"
    with (
        patch("homeassistant.components.tts._init_tts_cache_dir", return_value=str(cache_dir)),
        patch("homeassistant.components.tts._get_cache_files", return_value={}),
    ):
        yield cache_dir
