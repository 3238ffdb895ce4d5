"""The stand-in for upstream GPT-SoVITS's `utils.HParams`, the config object inside fine-tuned SoVITS files."""

from __future__ import annotations

from typing import Any


class HParams:
    """A bag of attributes, nested, as upstream's class is; unpickling only fills `__dict__`."""

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict."""
        return {k: v.to_dict() if isinstance(v, HParams) else v for k, v in vars(self).items()}


def config_dict(config: Any) -> dict[str, Any]:
    """A checkpoint's `config` entry as a plain nested dict (HParams or dict; anything else: empty)."""
    if isinstance(config, HParams):
        return config.to_dict()
    if isinstance(config, dict):
        return {str(k): config_dict(v) if isinstance(v, HParams | dict) else v for k, v in config.items()}
    return {}
