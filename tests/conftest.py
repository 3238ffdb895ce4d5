"""Fixtures every suite may use: tiny checkpoints in the official formats and models converted from them."""

from tests.support.tiny_models.checkpoints import (
    reference_clip,
    tiny_checkpoints,
    tiny_model_v2,
    tiny_model_v2_eos,
    tiny_model_v2pro,
    upstream_fixtures,
)
from tests.support.tiny_models.templates import tiny_templates

__all__ = [
    "reference_clip",
    "tiny_checkpoints",
    "tiny_model_v2",
    "tiny_model_v2_eos",
    "tiny_model_v2pro",
    "tiny_templates",
    "upstream_fixtures",
]
