"""pytest fixtures of the reliability tests (imported by the test modules that use them).

A module of its own rather than a conftest.py: the protocol fuzzing tests share this folder.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from .tiny_data import build_data_dir


@pytest.fixture(scope="session")
def tiny_data_template(tiny_model_v2: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder built once per session: model `v2`, voices `mum`, `dad`, `joe-steady` (copy, never change)."""
    return build_data_dir(tmp_path_factory.mktemp("reliability") / "data", model_dir=tiny_model_v2)


@pytest.fixture
def data_dir(tiny_data_template: Path, tmp_path: Path) -> Path:
    """A private copy of the template data folder."""
    copy = tmp_path / "data"
    shutil.copytree(tiny_data_template, copy, symlinks=True)
    return copy
