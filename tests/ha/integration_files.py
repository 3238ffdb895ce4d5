"""The integration's files as the validators read them (paths and parsed contents)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

import yaml

REPO: Final = Path(__file__).resolve().parents[2]
INTEGRATION: Final = REPO / "custom_components" / "edge_tts_clone"
MANIFEST: Final[dict[str, Any]] = json.loads((INTEGRATION / "manifest.json").read_text())
STRINGS: Final[dict[str, Any]] = json.loads((INTEGRATION / "strings.json").read_text())
SERVICES: Final[dict[str, Any]] = yaml.safe_load((INTEGRATION / "services.yaml").read_text())
ICONS: Final[dict[str, Any]] = json.loads((INTEGRATION / "icons.json").read_text())
QUALITY_SCALE: Final[dict[str, Any]] = yaml.safe_load((INTEGRATION / "quality_scale.yaml").read_text())
TRANSLATIONS: Final[dict[str, dict[str, Any]]] = {
    path.stem: json.loads(path.read_text()) for path in sorted((INTEGRATION / "translations").glob("*.json"))
}


def source(name: str) -> str:
    """The text of one of the integration's Python modules."""
    return (INTEGRATION / name).read_text()


def all_sources() -> dict[str, str]:
    """Every Python module of the integration, by file name."""
    return {path.name: path.read_text() for path in sorted(INTEGRATION.glob("*.py"))}
