"""The checks HACS makes on an integration repository, run here without GitHub.

Written out from hacs/integration `custom_components/hacs/utils/validate.py` (the hacs.json and
integration-manifest schemas) and `custom_components/hacs/validate/` (one integration under
custom_components/, brand icon, README). The checks that need GitHub itself (repository
description, topics, issues enabled, releases) cannot run here.
"""

from __future__ import annotations

import json
import struct

import voluptuous as vol
from awesomeversion import AwesomeVersion, AwesomeVersionStrategy
from homeassistant.const import __version__ as HA_VERSION
from homeassistant.helpers import config_validation as cv

from .integration_files import INTEGRATION, MANIFEST, REPO

HACS_JSON_SCHEMA = vol.Schema(
    {
        vol.Optional("content_in_root"): bool,
        vol.Optional("country"): vol.Any(str, [str]),
        vol.Optional("filename"): str,
        vol.Optional("hacs"): str,
        vol.Optional("hide_default_branch"): bool,
        vol.Optional("homeassistant"): str,
        vol.Optional("persistent_directory"): str,
        vol.Optional("render_readme"): bool,
        vol.Optional("zip_release"): bool,
        vol.Required("name"): str,
    },
    extra=vol.PREVENT_EXTRA,
)
INTEGRATION_MANIFEST_SCHEMA = vol.Schema(
    {
        vol.Required("codeowners"): list,
        vol.Required("documentation"): cv.url,
        vol.Required("domain"): str,
        vol.Required("issue_tracker"): cv.url,
        vol.Required("name"): str,
        vol.Required("version"): vol.Coerce(AwesomeVersion),
    },
    extra=vol.ALLOW_EXTRA,
)


def test_hacs_json() -> None:
    """hacs.json: known keys of the right types only; the minimum HA is a version we test or older."""
    hacs = json.loads((REPO / "hacs.json").read_text())
    HACS_JSON_SCHEMA(hacs)
    assert AwesomeVersion(hacs["homeassistant"]).strategy is AwesomeVersionStrategy.CALVER
    assert AwesomeVersion(HA_VERSION) >= AwesomeVersion(hacs["homeassistant"]), "tested HA is older than declared"


def test_integration_manifest() -> None:
    """The manifest keys HACS requires, with URLs that are URLs."""
    INTEGRATION_MANIFEST_SCHEMA(MANIFEST)


def test_repository_layout() -> None:
    """Exactly one integration under custom_components/, a README, a brand icon (validate/brands.py)."""
    integrations = [path.name for path in (REPO / "custom_components").iterdir() if path.is_dir()]
    assert [name for name in integrations if name != "__pycache__"] == [INTEGRATION.name]
    assert (REPO / "README.md").is_file()
    png = (INTEGRATION / "brand" / "icon.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", png[16:24]) == (256, 256)
