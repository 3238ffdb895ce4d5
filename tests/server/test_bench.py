"""The benchmark command runs against an in-process server (figures are printed, never asserted)."""

from __future__ import annotations

import argparse

from wyoming_server.bench.server import _in_process


async def test_bench_in_process_reports_every_request() -> None:
    args = argparse.Namespace(
        clients=3, requests=2, text="Short test. Two sentences.", rtf=0.0, max_concurrent=2
    )
    report = await _in_process(args)
    print(report)
    assert "total=6 ok=6 errors=0" in report
    assert "time to first audio: median" in report and "requests/s" in report
