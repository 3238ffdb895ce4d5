"""The soak's verdict: growth is judged after the warm-up, by slope and by last minus first."""

from __future__ import annotations

import pytest

from wyoming_server.bench.server import Outcome
from wyoming_server.bench.soak import MB, SoakRun, format_soak

HOUR = 3600.0


def _run(samples_mb: list[tuple[float, float]], warm_up_s: float) -> SoakRun:
    run = SoakRun(duration_s=samples_mb[-1][0], warm_up_s=warm_up_s, clients=8)
    run.samples = [(t, int(mb * MB)) for t, mb in samples_mb]
    run.outcomes = [Outcome(0.2, 5.0, 60.0), Outcome(None, 1.0, 0.0, "busy")]
    run.peak_bytes = int(max(mb for _, mb in samples_mb) * MB)
    return run


def test_a_jump_during_warm_up_is_not_growth() -> None:
    samples = [(0.0, 300.0), (300.0, 500.0), (600.0, 520.0)] + [(600.0 + k * 60, 520.0) for k in range(1, 100)]
    run = _run(samples, warm_up_s=600.0)
    assert run.slope_mb_per_hour() == pytest.approx(0.0, abs=1e-6)
    assert run.growth_mb() == pytest.approx(0.0, abs=1e-3)
    assert "+0.0 MB/h" in format_soak(run, "m") and "PASS" in format_soak(run, "m")


def test_steady_growth_after_warm_up_fails_the_target() -> None:
    samples = [(0.0, 400.0)] + [(600.0 + k * 60, 450.0 + 30.0 * k * 60 / HOUR) for k in range(0, 121)]
    run = _run(samples, warm_up_s=600.0)
    slope = run.slope_mb_per_hour()
    assert slope == pytest.approx(30.0, rel=1e-3)
    growth = run.growth_mb()
    assert growth == pytest.approx(60.0, abs=0.01)
    report = format_soak(run, "m")
    assert "+30.0 MB/h" in report and "FAIL" in report
    assert "1 served, 1 failed {'busy': 1}" in report


def test_too_few_samples_after_warm_up_give_no_verdict() -> None:
    run = _run([(0.0, 300.0), (50.0, 310.0), (100.0, 320.0)], warm_up_s=90.0)
    assert run.slope_mb_per_hour() is None
    report = format_soak(run, "m")
    assert "too few samples" in report and "PASS" not in report and "FAIL" not in report
