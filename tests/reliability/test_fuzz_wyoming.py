"""The Wyoming fuzzer, reduced for CI (the full run is `python -m tests.reliability.fuzz_wyoming`)."""

from __future__ import annotations

import pytest

from tests.reliability.fuzz_wyoming import FuzzConfig, run_fuzz

pytestmark = pytest.mark.slow

CI_FRAMES = 1500


def test_the_server_survives_fuzzed_frames_and_keeps_serving_a_good_client() -> None:
    report = run_fuzz(
        FuzzConfig(
            frames=CI_FRAMES,
            seed=2026,
            abandoned=60,
            max_connections=12,
            flood_extra=12,
            dribblers=2,
            idle_timeout_s=1.0,
        )
    )
    print(report.summary())  # the figures, with `pytest -s`
    assert report.failures == []
    assert report.frames >= CI_FRAMES
    assert report.bystander_ok > 0
    assert report.errors_returned > 0 and report.closed_by_server > 0 and report.pongs > 0
    assert report.flood_closed + report.flood_refused == 24
    assert report.dribblers_closed == 2
