"""The deprecation guard itself: it sees HA's reports that blame this integration, and only those."""

from __future__ import annotations

import logging

import pytest

from .deprecation_guard import names_our_deprecation

HELPER_REPORT = (
    "The deprecated function async_extract_referenced_entity_ids was called from edge_tts_clone. "
    "It will be removed in HA Core 2026.8. Use homeassistant.helpers.target.async_extract_referenced_entity_ids "
    "instead, please create a bug report at https://github.com/edge-tts-clone/edge-tts-clone/issues"
)
FRAME_REPORT = (
    "Detected that custom integration 'edge_tts_clone' calls hass.async_create_task from a thread at "
    "custom_components/edge_tts_clone/tts.py, line 1: x. This will stop working in Home Assistant 2025.12"
)


@pytest.mark.parametrize(
    ("message", "ours"),
    [
        (HELPER_REPORT, True),
        (FRAME_REPORT, True),
        (HELPER_REPORT.replace("edge_tts_clone", "other_integration"), False),
        ("Error fetching edge_tts_clone 127.0.0.1 data: cannot reach", False),
    ],
)
def test_names_our_deprecation(message: str, ours: bool) -> None:
    """HA's two report formats are recognised; other integrations' reports and plain errors are not."""
    assert names_our_deprecation(message) is ours


def test_guard_collects_a_logged_report(no_deprecated_calls: list[str]) -> None:
    """A report logged anywhere reaches the test's guard (which would then fail the test)."""
    logging.getLogger("homeassistant.helpers.service").warning(HELPER_REPORT)
    assert no_deprecated_calls == [HELPER_REPORT]
    no_deprecated_calls.clear()  # this report was on purpose
