"""Checks hassfest and the HACS action make, run here so CI catches them without GitHub.

Written from their documented rules (reference section D), not copied from their code:
manifest key order and keys, hacs.json keys, translations matching strings.json, every
translation key the code raises existing, services.yaml matching the registered schemas.
"""

from __future__ import annotations

import json
import re
import struct
from fnmatch import fnmatch
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import Any

import voluptuous as vol
import yaml
from awesomeversion import AwesomeVersion, AwesomeVersionStrategy
from homeassistant.const import __version__ as HA_VERSION
from homeassistant.core import HomeAssistant
from homeassistant.loader import async_get_zeroconf
from packaging.requirements import Requirement
from pytest_homeassistant_custom_component.common import MockConfigEntry

REPO = Path(__file__).resolve().parents[2]
INTEGRATION = REPO / "custom_components" / "edge_tts_clone"
MANIFEST: dict[str, Any] = json.loads((INTEGRATION / "manifest.json").read_text())
STRINGS: dict[str, Any] = json.loads((INTEGRATION / "strings.json").read_text())
SERVICES: dict[str, Any] = yaml.safe_load((INTEGRATION / "services.yaml").read_text())

# Keys hassfest's manifest schema knows for a custom integration.
MANIFEST_KEYS = {
    "domain", "name", "after_dependencies", "bluetooth", "codeowners", "config_flow", "dependencies",
    "dhcp", "disabled", "documentation", "homekit", "import_executor", "integration_type", "iot_class",
    "issue_tracker", "loggers", "mqtt", "quality_scale", "requirements", "single_config_entry", "ssdp",
    "usb", "version", "zeroconf",
}  # fmt: skip
IOT_CLASSES = {"assumed_state", "calculated", "cloud_polling", "cloud_push", "local_polling", "local_push"}
INTEGRATION_TYPES = {"device", "entity", "hardware", "helper", "hub", "service", "system", "virtual"}
HACS_KEYS = {
    "name", "content_in_root", "zip_release", "filename", "hide_default_branch", "country", "homeassistant",
    "hacs", "persistent_directory", "render_readme",
}  # fmt: skip
HACS_REQUIRED_MANIFEST_KEYS = {"codeowners", "documentation", "domain", "issue_tracker", "name", "version"}
TARGET_FIELDS = {"entity_id", "device_id", "area_id", "floor_id", "label_id"}
VERSION_STRATEGIES = {
    AwesomeVersionStrategy.CALVER, AwesomeVersionStrategy.SEMVER, AwesomeVersionStrategy.SIMPLEVER,
    AwesomeVersionStrategy.BUILDVER, AwesomeVersionStrategy.PEP440,
}  # fmt: skip


def test_manifest_like_hassfest() -> None:
    """Key order, known keys, required keys and values hassfest checks."""
    keys = list(MANIFEST)
    assert keys[:2] == ["domain", "name"]
    assert keys[2:] == sorted(keys[2:]), "keys after domain and name must be alphabetical"
    assert set(keys) <= MANIFEST_KEYS
    assert MANIFEST["domain"] == INTEGRATION.name
    assert AwesomeVersion(MANIFEST["version"]).strategy in VERSION_STRATEGIES
    assert MANIFEST["documentation"].startswith("https://")
    assert all(owner.startswith("@") for owner in MANIFEST["codeowners"]) and MANIFEST["codeowners"]
    assert MANIFEST["iot_class"] in IOT_CLASSES
    assert MANIFEST["integration_type"] in INTEGRATION_TYPES
    assert MANIFEST["config_flow"] is True and (INTEGRATION / "config_flow.py").is_file()
    for matcher in MANIFEST["zeroconf"]:
        assert set(matcher) <= {"type", "name", "properties"}
        assert matcher["name"] == matcher["name"].lower()


def test_manifest_and_hacs_json_like_hacs() -> None:
    """HACS: required manifest keys, hacs.json with known keys only, one integration, brand icon."""
    assert set(MANIFEST) >= HACS_REQUIRED_MANIFEST_KEYS
    assert MANIFEST["issue_tracker"].startswith("https://")
    hacs = json.loads((REPO / "hacs.json").read_text())
    assert set(hacs) <= HACS_KEYS
    assert isinstance(hacs["name"], str) and hacs["name"]
    assert AwesomeVersion(hacs["homeassistant"]).strategy is AwesomeVersionStrategy.CALVER
    assert AwesomeVersion(HA_VERSION) >= AwesomeVersion(hacs["homeassistant"]), (
        "tested HA is older than declared"
    )
    integrations = [path.name for path in (REPO / "custom_components").iterdir() if path.is_dir()]
    assert [name for name in integrations if name != "__pycache__"] == ["edge_tts_clone"]
    png = (INTEGRATION / "brand" / "icon.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", png[16:24]) == (256, 256)


def test_requirements_never_fight_home_assistant() -> None:
    """A loose range that HA's own pinned wyoming satisfies; nothing HA does not ship."""
    requirements = [Requirement(spec) for spec in MANIFEST["requirements"]]
    assert [requirement.name for requirement in requirements] == ["wyoming"]
    for requirement in requirements:
        assert not any(spec.operator == "==" for spec in requirement.specifier)
        assert requirement.specifier.contains(installed_version(requirement.name))


def test_imported_components_are_declared() -> None:
    """hassfest: every `homeassistant.components.X` we import is a (after_)dependency."""
    declared = set(MANIFEST.get("dependencies", [])) | set(MANIFEST.get("after_dependencies", []))
    allowed = declared | {"diagnostics"}
    used: set[str] = set()
    for source in INTEGRATION.glob("*.py"):
        used |= set(re.findall(r"homeassistant\.components(?:\.|\s+import\s+)(\w+)", source.read_text()))
    assert used <= allowed, used - allowed
    assert "wyoming_server" not in "".join(path.read_text() for path in INTEGRATION.glob("*.py"))


def _shape(node: Any) -> Any:
    """The key structure of a translation tree (leaves replaced by their {placeholders})."""
    if isinstance(node, dict):
        return {key: _shape(value) for key, value in node.items()}
    return sorted(set(re.findall(r"\{(\w+)\}", node)))


def test_translations_match_strings() -> None:
    """en.json is strings.json; every other language has the same keys and placeholders."""
    translations = INTEGRATION / "translations"
    assert json.loads((translations / "en.json").read_text()) == STRINGS
    languages = sorted(path.name for path in translations.glob("*.json"))
    assert languages == ["en.json", "zh-Hans.json"]
    for path in translations.glob("*.json"):
        assert _shape(json.loads(path.read_text())) == _shape(STRINGS), path.name


def test_every_raised_translation_key_exists() -> None:
    """Keys in exceptions, config-flow errors and aborts used by the code are all translated."""
    code = "".join(path.read_text() for path in INTEGRATION.glob("*.py"))
    exception_keys = set(re.findall(r'translation_key="(\w+)"', code))
    exception_keys |= set(re.findall(r'_(?:error|refuse)\(\s*"(\w+)"', code))
    assert exception_keys <= set(STRINGS["exceptions"]), exception_keys - set(STRINGS["exceptions"])
    form_errors = set(re.findall(r'\{"base": "(\w+)"\}', code))
    assert form_errors <= set(STRINGS["config"]["error"])
    aborts = set(re.findall(r'reason="(\w+)"', code)) | {
        "already_configured",
        "reauth_successful",
        "reconfigure_successful",
    }
    assert aborts <= set(STRINGS["config"]["abort"])
    steps = set(re.findall(r'step_id="(\w+)"', code))
    assert steps - {"init"} <= set(STRINGS["config"]["step"])
    assert "init" in STRINGS["options"]["step"]


async def test_services_yaml_matches_registered_schemas(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    """Fields, required flags and targets of services.yaml are what the handlers accept."""
    registered = hass.services.async_services_for_domain("edge_tts_clone")
    assert set(registered) == set(SERVICES) == set(STRINGS["services"])
    icons = json.loads((INTEGRATION / "icons.json").read_text())
    assert set(icons["services"]) == set(SERVICES)
    for name, service in registered.items():
        schema = service.schema
        assert isinstance(schema, vol.Schema)
        schema_keys = {str(key): isinstance(key, vol.Required) for key in schema.schema}
        yaml_fields = SERVICES[name].get("fields", {})
        assert {key: required for key, required in schema_keys.items() if key not in TARGET_FIELDS} == {
            field: bool(spec.get("required", False)) for field, spec in yaml_fields.items()
        }, name
        assert ("target" in SERVICES[name]) == ("entity_id" in schema_keys), name
        assert set(STRINGS["services"][name]["fields"]) == set(yaml_fields), name


async def test_zeroconf_matcher_finds_our_server_only(hass: HomeAssistant) -> None:
    """HA's loader sees our matcher; it matches our instance names and not plain Wyoming servers."""
    matchers = (await async_get_zeroconf(hass))["_wyoming._tcp.local."]
    ours = [matcher for matcher in matchers if matcher["domain"] == "edge_tts_clone"]
    assert len(ours) == 1
    pattern = ours[0]["name"]
    assert fnmatch("edge-tts-clone-kitchen._wyoming._tcp.local.", pattern)
    assert not fnmatch("piper._wyoming._tcp.local.", pattern)
