"""quality_scale.yaml: hassfest's schema for it, and evidence in the code for each rule marked done.

The schema and rule names follow home-assistant/core `script/hassfest/quality_scale.py`; hassfest
checks the file only for core integrations, so the checks here are ours. For rules hassfest
verifies in code (`script/hassfest/quality_scale_validation/`) the same facts are looked up here,
plus a few more, so a rule claimed done is a rule the code shows.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable

import pytest
import voluptuous as vol

from .integration_files import INTEGRATION, MANIFEST, QUALITY_SCALE, REPO, STRINGS, all_sources, source

BRONZE = [
    "action-setup", "appropriate-polling", "brands", "common-modules", "config-flow",
    "config-flow-test-coverage", "dependency-transparency", "docs-actions", "docs-conditions",
    "docs-high-level-description", "docs-installation-instructions", "docs-removal-instructions",
    "docs-triggers", "entity-event-setup", "entity-unique-id", "has-entity-name", "runtime-data",
    "test-before-configure", "test-before-setup", "unique-config-entry",
]  # fmt: skip
SILVER = [
    "action-exceptions", "config-entry-unloading", "docs-configuration-parameters",
    "docs-installation-parameters", "entity-unavailable", "integration-owner", "log-when-unavailable",
    "parallel-updates", "reauthentication-flow", "test-coverage",
]  # fmt: skip
GOLD = [
    "devices", "diagnostics", "discovery", "discovery-update-info", "docs-data-update", "docs-examples",
    "docs-known-limitations", "docs-supported-devices", "docs-supported-functions", "docs-troubleshooting",
    "docs-use-cases", "dynamic-devices", "entity-category", "entity-device-class",
    "entity-disabled-by-default", "entity-translations", "exception-translations", "icon-translations",
    "reconfiguration-flow", "repair-issues", "stale-devices",
]  # fmt: skip
PLATINUM = ["async-dependency", "inject-websession", "strict-typing"]
# docs-conditions and docs-triggers are newer than some Home Assistant releases: optional here.
OPTIONAL_RULES = {"docs-conditions", "docs-triggers"}

SCHEMA = vol.Schema(
    {
        vol.Required("rules"): vol.Schema(
            {
                vol.Optional(rule): vol.Any(
                    vol.In(["todo", "done"]),
                    {vol.Required("status"): vol.In(["todo", "done"]), vol.Required("comment"): str},
                    {vol.Required("status"): "exempt", vol.Required("comment"): str},
                )
                for rule in BRONZE + SILVER + GOLD + PLATINUM
            }
        )
    }
)
HA_ERRORS = {
    "HomeAssistantError",
    "ServiceValidationError",
    "ConfigEntryNotReady",
    "ConfigEntryAuthFailed",
    "UpdateFailed",
}
DOCS = REPO / "docs" / "home-assistant.md"


def _status(rule: str) -> str:
    value = QUALITY_SCALE["rules"][rule]
    return str(value["status"] if isinstance(value, dict) else value)


def _raised_without_translation() -> list[str]:
    """`HomeAssistantError("...")`-style constructions that skip the translations."""
    found = []
    for name, text in all_sources().items():
        for node in ast.walk(ast.parse(text)):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in HA_ERRORS
                and "translation_key" not in {keyword.arg for keyword in node.keywords}
            ):
                found.append(f"{name}:{node.lineno}")
    return found


def _docs_sections() -> set[str]:
    return {line.lstrip("#").strip() for line in DOCS.read_text().splitlines() if line.startswith("#")}


EVIDENCE: dict[str, Callable[[], bool]] = {
    "action-setup": lambda: (
        "async_setup_services(hass)" in source("__init__.py").split("async def async_setup_entry")[0]
    ),
    "config-flow": lambda: (
        MANIFEST["config_flow"] is True
        and all(
            set(step.get("data", {})) <= set(step.get("data_description", {}))
            for flow in (STRINGS["config"], STRINGS["options"])
            for step in flow["step"].values()
        )
    ),
    "config-entry-unloading": lambda: "async def async_unload_entry" in source("__init__.py"),
    "devices": lambda: "DeviceInfo(" in source("tts.py"),
    "diagnostics": lambda: "async def async_get_config_entry_diagnostics" in source("diagnostics.py"),
    "discovery": lambda: "zeroconf" in MANIFEST and "async_step_zeroconf(" in source("config_flow.py"),
    "discovery-update-info": lambda: "_abort_if_unique_id_configured(updates=" in source("config_flow.py"),
    "entity-translations": lambda: "_attr_translation_key" in source("tts.py") and "entity" in STRINGS,
    "entity-unique-id": lambda: "_attr_unique_id" in source("tts.py"),
    "exception-translations": lambda: not _raised_without_translation(),
    "has-entity-name": lambda: "_attr_has_entity_name = True" in source("tts.py"),
    "icon-translations": lambda: (INTEGRATION / "icons.json").is_file(),
    "integration-owner": lambda: bool(MANIFEST["codeowners"]),
    "log-when-unavailable": lambda: "DataUpdateCoordinator" in source("coordinator.py"),
    "parallel-updates": lambda: re.search(r"^PARALLEL_UPDATES = \d+", source("tts.py"), re.MULTILINE) is not None,
    "reauthentication-flow": lambda: "async def async_step_reauth(" in source("config_flow.py"),
    "reconfiguration-flow": lambda: "async def async_step_reconfigure(" in source("config_flow.py"),
    "repair-issues": lambda: "ir.async_create_issue(" in source("coordinator.py") and bool(STRINGS["issues"]),
    "runtime-data": lambda: "entry.runtime_data = " in source("__init__.py"),
    "strict-typing": lambda: (
        re.search(
            r"mypy.*--strict.*custom_components/edge_tts_clone",
            (REPO / "tests" / "run_all.sh").read_text().replace("\\\n", ""),
        )
        is not None
    ),
    "test-before-configure": lambda: "await _async_validate(" in source("config_flow.py"),
    "test-before-setup": lambda: "async_config_entry_first_refresh()" in source("__init__.py"),
    "unique-config-entry": lambda: "async_set_unique_id(" in source("config_flow.py"),
    "inject-websession": lambda: "async_get_clientsession(hass)" in source("__init__.py"),
}
DOCS_RULES = [rule for rule in BRONZE + SILVER + GOLD if rule.startswith("docs-")]


def test_quality_scale_like_hassfest() -> None:
    """The file passes hassfest's schema; every rule is listed; exempt ones say why."""
    SCHEMA(QUALITY_SCALE)
    listed = set(QUALITY_SCALE["rules"])
    assert set(BRONZE + SILVER + GOLD + PLATINUM) - OPTIONAL_RULES <= listed


@pytest.mark.parametrize("rule", sorted(EVIDENCE))
def test_rules_marked_done_show_in_the_code(rule: str) -> None:
    """A rule marked done has the code hassfest (or a reader) would look for."""
    assert _status(rule) == "done", f"{rule} has evidence listed here but is not marked done: drop one of them"
    assert EVIDENCE[rule](), f"{rule} is marked done, but the code does not show it"


def test_docs_rules_point_at_real_sections() -> None:
    """Each docs-* rule marked done names documents that exist, and the sections of docs/home-assistant.md
    it names exist too."""
    sections = _docs_sections()
    checked = 0
    for rule in DOCS_RULES:
        value = QUALITY_SCALE["rules"].get(rule)
        if not isinstance(value, dict) or value["status"] != "done":
            continue
        documents = re.findall(r"(?:docs/)?[\w-]+\.md", value["comment"])
        assert documents and all((REPO / document).is_file() for document in documents), (rule, documents)
        named = re.findall(r"docs/home-assistant\.md, ([^.;]+)", value["comment"])
        assert all(name in sections for name in named), (rule, named, sections)
        checked += 1
    assert checked, "no docs rule is marked done: the loop checked nothing"


def test_exception_translations_are_complete() -> None:
    """Every Home Assistant error the integration raises is a translated one."""
    assert _raised_without_translation() == []
