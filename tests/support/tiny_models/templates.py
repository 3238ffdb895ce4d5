"""Graph templates for the tiny test checkpoints, made once per session by the same maker as the
shipped ones (`edge-tts-clone templates`), and the template converter run with them."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from tests.support.tiny_models.checkpoints import TinyCheckpoints
from wyoming_server.engine.gpt_sovits.manifest import Manifest
from wyoming_server.importer.pipeline import Progress, convert_model
from wyoming_server.importer.template_sources import TemplateSources


def _quiet(message: str) -> None:
    """The maker's progress lines are not needed in tests."""


def make_test_templates(gpt: Path, sovits: Path, hubert: Path, sv: Path | None, out: Path, check: bool = False) -> Path:
    """Templates for the sizes of these files into `out` (the maker's own check when `check`)."""
    from wyoming_server.convert.template_maker import make_templates
    from wyoming_server.convert.template_weights import CheckpointPaths

    make_templates(CheckpointPaths(gpt, sovits, hubert, sv), out, _quiet, check=check)
    return out


@pytest.fixture(scope="session")
def tiny_templates(tiny_checkpoints: TinyCheckpoints, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Templates of the tiny v2, v2Pro and v2ProPlus sizes (the v2Pro ones checked by the maker)."""
    out = tmp_path_factory.mktemp("templates")
    c = tiny_checkpoints
    make_test_templates(c.gpt, c.sovits_v2, c.hubert, None, out)
    make_test_templates(c.gpt, c.sovits_v2pro, c.hubert, c.sv, out, check=True)
    make_test_templates(c.gpt, c.sovits_v2proplus, c.hubert, c.sv, out)
    return out


def convert_with_templates(
    gpt: Path, sovits: Path, hubert: Path, out: Path, templates: Path, *, sv: Path | None = None,
    precision: str = "both", progress: Progress | None = None,
) -> Manifest:
    """The template converter (no torch in its path) with these templates."""
    sources = functools.partial(TemplateSources, template_dirs=[templates])
    return convert_model(gpt, sovits, hubert, out, open_sources=sources, sv=sv, precision=precision, progress=progress)
