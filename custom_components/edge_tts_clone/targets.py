"""Which entities an action's target names, on every Home Assistant this integration supports.

Newer Home Assistant has `helpers.target` (a target selection, not a service call) and removes
the service-call helper in 2026.8; 2025.4, the oldest we support, has only the service-call one.
"""

from __future__ import annotations

from homeassistant.core import HomeAssistant, ServiceCall

try:
    from homeassistant.helpers.target import TargetSelection, async_extract_referenced_entity_ids

    def referenced_entity_ids(hass: HomeAssistant, call: ServiceCall) -> set[str]:
        """Entity ids the call's target names, directly or through devices, areas, floors, labels."""
        selected = async_extract_referenced_entity_ids(hass, TargetSelection(call.data))
        return selected.referenced | selected.indirectly_referenced

except ImportError:  # before the target helpers existed
    from homeassistant.helpers.service import (
        async_extract_referenced_entity_ids as _extract_from_call,
    )

    def referenced_entity_ids(hass: HomeAssistant, call: ServiceCall) -> set[str]:
        """Entity ids the call's target names, directly or through devices, areas, floors, labels."""
        selected = _extract_from_call(hass, call)
        return selected.referenced | selected.indirectly_referenced
