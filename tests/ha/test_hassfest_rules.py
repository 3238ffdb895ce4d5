"""The checks Home Assistant's hassfest makes on a custom integration, run here without GitHub.

hassfest is not published on PyPI (the homeassistant sdist leaves `script/` out), and CI can
reach only package registries, so its rules are written out here from its source at
home-assistant/core `script/hassfest/` (manifest.py, config_flow.py, translations.py,
services.py, icons.py, quality_scale.py), using Home Assistant's own validators (selectors,
slugs, no-HTML strings) where hassfest uses them. Where a rule is stricter here, it says so.
"""

from __future__ import annotations

import ast
import re
import string
from fnmatch import fnmatch
from importlib.metadata import version as installed_version
from typing import Any

import pytest
import voluptuous as vol
from awesomeversion import AwesomeVersion, AwesomeVersionStrategy
from homeassistant.core import HomeAssistant
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers import selector
from homeassistant.loader import async_get_zeroconf
from packaging.requirements import Requirement
from pytest_homeassistant_custom_component.common import MockConfigEntry

from .integration_files import (
    ICONS,
    INTEGRATION,
    MANIFEST,
    SERVICES,
    STRINGS,
    TRANSLATIONS,
    all_sources,
    source,
)

# manifest.py: the keys its schema knows for a custom integration.
MANIFEST_KEYS = {
    "domain", "name", "after_dependencies", "bluetooth", "codeowners", "config_flow", "dependencies",
    "dhcp", "disabled", "documentation", "homekit", "import_executor", "integration_type", "iot_class",
    "issue_tracker", "loggers", "mqtt", "quality_scale", "requirements", "single_config_entry", "ssdp",
    "usb", "version", "zeroconf",
}  # fmt: skip
IOT_CLASSES = {"assumed_state", "calculated", "cloud_polling", "cloud_push", "local_polling", "local_push"}
INTEGRATION_TYPES = {"device", "entity", "hardware", "helper", "hub", "service", "system", "virtual"}
VERSION_STRATEGIES = {
    AwesomeVersionStrategy.CALVER, AwesomeVersionStrategy.SEMVER, AwesomeVersionStrategy.SIMPLEVER,
    AwesomeVersionStrategy.BUILDVER, AwesomeVersionStrategy.PEP440,
}  # fmt: skip
TARGET_FIELDS = {"entity_id", "device_id", "area_id", "floor_id", "label_id"}


def test_manifest_like_hassfest() -> None:
    """manifest.py: key order, known keys, required keys and their values."""
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
    for matcher in MANIFEST["zeroconf"]:
        assert set(matcher) <= {"type", "name", "properties"}
        assert matcher["name"] == matcher["name"].lower()


def test_config_flow_like_hassfest() -> None:
    """config_flow.py: `config_flow: true` needs config_flow.py; each discovery source needs its step."""
    assert MANIFEST["config_flow"] is True and (INTEGRATION / "config_flow.py").is_file()
    for discovery in ("zeroconf", "dhcp", "ssdp", "usb", "bluetooth", "homekit", "mqtt"):
        if discovery in MANIFEST:
            assert f"async_step_{discovery}(" in source("config_flow.py"), discovery


def test_requirements_never_fight_home_assistant() -> None:
    """A loose range that HA's own pinned wyoming satisfies; nothing HA does not ship."""
    requirements = [Requirement(spec) for spec in MANIFEST["requirements"]]
    assert [requirement.name for requirement in requirements] == ["wyoming"]
    for requirement in requirements:
        assert not any(spec.operator == "==" for spec in requirement.specifier)
        assert requirement.specifier.contains(installed_version(requirement.name))


def test_imported_components_are_declared() -> None:
    """dependencies.py: every `homeassistant.components.X` we import is a (after_)dependency."""
    declared = set(MANIFEST.get("dependencies", [])) | set(MANIFEST.get("after_dependencies", []))
    allowed = declared | {"diagnostics"}
    code = "".join(all_sources().values())
    used = set(re.findall(r"homeassistant\.components(?:\.|\s+import\s+)(\w+)", code))
    assert used <= allowed, used - allowed
    assert "wyoming_server" not in code


# ---- translations.py ----------------------------------------------------------------------

_KEY = re.compile(r"^(?!.+[_-]{2})(?![_-])[a-z0-9-_]+(?<![_-])$")
_SINGLE_QUOTED_PLACEHOLDER = re.compile(r"'{\w+}'")
_COMBINED_REFERENCE = re.compile(r"(.+\[%)|(%\].+)")
# hassfest looks for a scheme:// or www. followed by a host name; any scheme:// or www. is refused here.
_URL = re.compile(r"[a-z][a-z0-9+.-]*://|\bwww\.", re.IGNORECASE)


def translation_text(value: Any) -> str:
    """A translated string as hassfest allows it: no HTML, URLs, quoted or odd placeholders, edge spaces."""
    text: str = cv.string_with_no_html(value)
    if _SINGLE_QUOTED_PLACEHOLDER.search(text):
        raise vol.Invalid("placeholders must not be inside single quotes")
    for _, field, _, _ in string.Formatter().parse(text):
        if field and not field.isidentifier():
            raise vol.Invalid(f"placeholder {{{field}}} is not an identifier")
    if _COMBINED_REFERENCE.search(text):
        raise vol.Invalid("combined translations are not allowed")
    if text != text.strip():
        raise vol.Invalid("leading or trailing spaces")
    if _URL.search(text):
        raise vol.Invalid("URLs belong in description placeholders")
    return text


def translation_key(value: Any) -> str:
    """translations.py `translation_key_validator`."""
    if not isinstance(value, str) or not _KEY.match(value):
        raise vol.Invalid(f"invalid translation key {value!r}")
    return value


def _data_description_in_data(flow: dict[str, Any]) -> dict[str, Any]:
    for step_id, step in flow["step"].items():
        if not set(step.get("data_description", {})) <= set(step.get("data", {})):
            raise vol.Invalid(f"step {step_id}: data_description keys must be in data")
    return flow


_TEXTS = {str: translation_text}
_FLOW = vol.All(
    vol.Schema(
        {
            vol.Optional("flow_title"): translation_text,
            vol.Required("step"): {
                str: {
                    vol.Optional("title"): translation_text,
                    vol.Optional("description"): translation_text,
                    vol.Optional("data"): _TEXTS,
                    vol.Optional("data_description"): _TEXTS,
                    vol.Optional("menu_options"): _TEXTS,
                    vol.Optional("submit"): translation_text,
                }
            },
            vol.Optional("error"): _TEXTS,
            vol.Optional("abort"): _TEXTS,
            vol.Optional("progress"): _TEXTS,
            vol.Optional("create_entry"): _TEXTS,
        }
    ),
    _data_description_in_data,
)
STRINGS_SCHEMA = vol.Schema(
    {
        vol.Optional("config"): _FLOW,
        vol.Optional("options"): _FLOW,
        vol.Optional("entity"): cv.schema_with_slug_keys(
            cv.schema_with_slug_keys({vol.Optional("name"): translation_text}, slug_validator=translation_key),
            slug_validator=cv.slug,
        ),
        vol.Optional("exceptions"): cv.schema_with_slug_keys(
            {vol.Optional("message"): translation_text}, slug_validator=cv.slug
        ),
        vol.Optional("issues"): {
            str: vol.All(
                cv.has_at_least_one_key("description", "fix_flow"),
                {vol.Required("title"): translation_text, vol.Exclusive("description", "fixable"): translation_text},
            )
        },
        vol.Optional("services"): cv.schema_with_slug_keys(
            {
                vol.Required("name"): translation_text,
                vol.Required("description"): translation_text,
                vol.Optional("fields"): cv.schema_with_slug_keys(
                    {
                        vol.Required("name"): str,
                        vol.Required("description"): translation_text,
                        vol.Optional("example"): translation_text,
                    },
                    slug_validator=translation_key,
                ),
            },
            slug_validator=translation_key,
        ),
    }
)


@pytest.mark.parametrize("language", ["strings", *TRANSLATIONS])
def test_translations_like_hassfest(language: str) -> None:
    """translations.py: the schema and string rules (hassfest checks strings.json and en.json; here all)."""
    STRINGS_SCHEMA(STRINGS if language == "strings" else TRANSLATIONS[language])


@pytest.mark.parametrize(
    "text",
    [
        "it is on the server's web page (http://{host}:{http_port})",  # the string hassfest flagged
        "see https://example.com/help",
        "go to www.example.com",
        "<b>bold</b>",
        "quoted '{host}'",
        "bad {0} placeholder",
        " leading space",
    ],
)
def test_translation_rules_refuse(text: str) -> None:
    """The string rules above do refuse what hassfest refuses."""
    with pytest.raises(vol.Invalid):
        translation_text(text)


def _shape(node: Any) -> Any:
    """The key structure of a translation tree (leaves replaced by their {placeholders})."""
    if isinstance(node, dict):
        return {key: _shape(value) for key, value in node.items()}
    return sorted(set(re.findall(r"\{(\w+)\}", node)))


def test_translations_match_strings() -> None:
    """en.json is strings.json (HA loads only translations/); every language has the same keys and placeholders."""
    assert TRANSLATIONS["en"] == STRINGS
    assert sorted(TRANSLATIONS) == ["en", "zh-Hans"]
    for language, translation in TRANSLATIONS.items():
        assert _shape(translation) == _shape(STRINGS), language


def _used_keys() -> dict[str, set[str]]:
    """Translation keys the code raises or shows, by the strings.json section they must be in."""
    used: dict[str, set[str]] = {"exceptions": set(), "issues": set(), "error": set(), "abort": set(), "step": set()}
    for text in all_sources().values():
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Dict):
                for key, value in zip(node.keys, node.values, strict=True):
                    if isinstance(key, ast.Constant) and key.value == "base" and isinstance(value, ast.Constant):
                        used["error"].add(str(value.value))
            if not isinstance(node, ast.Call):
                continue
            called = ast.unparse(node.func)
            for keyword in node.keywords:
                if not isinstance(keyword.value, ast.Constant):
                    continue
                if keyword.arg == "translation_key":
                    section = "issues" if called.endswith("async_create_issue") else "exceptions"
                    used[section].add(str(keyword.value.value))
                elif keyword.arg == "reason":
                    used["abort"].add(str(keyword.value.value))
                elif keyword.arg == "step_id":
                    used["step"].add(str(keyword.value.value))
            if called in ("_error", "_refuse") and isinstance(node.args[0], ast.Constant):
                used["exceptions"].add(str(node.args[0].value))
    return used


def test_every_translation_key_the_code_uses_exists() -> None:
    """Exceptions, repair issues, form errors, aborts and steps the code names are all translated."""
    used = _used_keys()
    assert used["exceptions"] <= set(STRINGS["exceptions"]), used["exceptions"] - set(STRINGS["exceptions"])
    assert used["issues"] == set(STRINGS["issues"])
    assert used["error"] <= set(STRINGS["config"]["error"])
    aborts = used["abort"] | {
        "already_configured",
        "already_in_progress",
        "reauth_successful",
        "reconfigure_successful",
    }
    assert aborts <= set(STRINGS["config"]["abort"]), aborts - set(STRINGS["config"]["abort"])
    steps = used["step"] - {"init"}
    assert steps <= set(STRINGS["config"]["step"]) and "init" in STRINGS["options"]["step"]
    assert {"discovered", "manual"} <= set(STRINGS["config"]["step"]["choose"]["menu_options"])


# ---- services.py and icons.py ---------------------------------------------------------------

_FIELD = vol.Schema(
    {
        vol.Optional("example"): vol.NotIn([None]),
        vol.Optional("default"): vol.NotIn([None]),
        vol.Optional("required"): bool,
        vol.Optional("advanced"): bool,
        vol.Optional("selector"): selector.validate_selector,
        vol.Optional("name"): str,
        vol.Optional("description"): str,
    }
)
SERVICES_SCHEMA = vol.Schema(
    {
        cv.slug: vol.Any(
            None,
            vol.Schema(
                {
                    vol.Optional("target"): vol.Any(selector.TargetSelector.CONFIG_SCHEMA, None),
                    vol.Optional("fields"): {str: _FIELD},
                    vol.Optional("name"): str,
                    vol.Optional("description"): str,
                }
            ),
        )
    }
)


def _icon(value: Any) -> str:
    text: str = cv.string_with_no_html(value)
    if not text.startswith("mdi:"):
        raise vol.Invalid("icons come from Material Design Icons: mdi:<name>")
    return text


ICONS_SCHEMA = vol.Schema(
    {
        vol.Optional("services"): cv.schema_with_slug_keys(
            {vol.Required("service"): _icon}, slug_validator=translation_key
        ),
        vol.Required("entity"): cv.schema_with_slug_keys(
            cv.schema_with_slug_keys(
                {vol.Optional("default"): _icon, vol.Optional("state"): {str: _icon}}, slug_validator=translation_key
            ),
            slug_validator=cv.slug,
        ),
    }
)


def test_services_and_icons_like_hassfest() -> None:
    """services.py and icons.py: schemas (selectors checked by HA itself); names and icons for each action."""
    SERVICES_SCHEMA(SERVICES)
    ICONS_SCHEMA(ICONS)
    assert set(ICONS["services"]) == set(SERVICES) == set(STRINGS["services"])
    for name, service in SERVICES.items():
        assert set(STRINGS["services"][name]["fields"]) == set(service.get("fields", {})), name
    assert set(ICONS["entity"]["tts"]) == set(STRINGS["entity"]["tts"])


async def test_services_yaml_matches_registered_schemas(hass: HomeAssistant, loaded_entry: MockConfigEntry) -> None:
    """Fields, required flags and targets of services.yaml are what the handlers accept."""
    registered = hass.services.async_services_for_domain("edge_tts_clone")
    assert set(registered) == set(SERVICES)
    for name, service in registered.items():
        schema = service.schema
        assert isinstance(schema, vol.Schema)
        schema_keys = {str(key): isinstance(key, vol.Required) for key in schema.schema}
        yaml_fields = SERVICES[name].get("fields", {})
        assert {key: required for key, required in schema_keys.items() if key not in TARGET_FIELDS} == {
            field: bool(spec.get("required", False)) for field, spec in yaml_fields.items()
        }, name
        assert ("target" in SERVICES[name]) == ("entity_id" in schema_keys), name


async def test_zeroconf_matcher_finds_our_server_only(hass: HomeAssistant) -> None:
    """HA's loader sees our matcher; it matches our instance names and not plain Wyoming servers."""
    matchers = (await async_get_zeroconf(hass))["_wyoming._tcp.local."]
    ours = [matcher for matcher in matchers if matcher["domain"] == "edge_tts_clone"]
    assert len(ours) == 1
    pattern = ours[0]["name"]
    assert fnmatch("edge-tts-clone-kitchen._wyoming._tcp.local.", pattern)
    assert not fnmatch("piper._wyoming._tcp.local.", pattern)
