"""Load (CI size): concurrent clients against `edge-tts-clone serve` each get exactly their own audio.

The full run and the soak are `python -m tests.reliability.load_soak` (see docs/reliability.md).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .load_plan import EXACT_VOICES, LOOSE_VOICES, PlanSettings, make_plan
from .load_soak import run_load
from .tiny_fixtures import data_dir, tiny_data_template

pytestmark = pytest.mark.slow
__all__ = ["data_dir", "tiny_data_template"]

CLIENTS = 8
REQUESTS = 6
SETTINGS = PlanSettings(seed=7, texts_per_voice=3, seeds_per_voice=2, disconnect_share=0.12)


def test_the_plan_mixes_voices_streaming_and_disconnects() -> None:
    requests = [r for client in make_plan(CLIENTS, REQUESTS, SETTINGS) for r in client]
    assert {r.voice for r in requests} == {*EXACT_VOICES, *LOOSE_VOICES}
    assert any(r.streaming for r in requests) and any(not r.streaming for r in requests)
    assert any(r.disconnect and r.streaming for r in requests)
    assert any(r.disconnect and not r.streaming for r in requests)
    assert any(len(r.units()) > 1 for r in requests if r.streaming)


async def test_concurrent_clients_each_get_their_own_audio(data_dir: Path) -> None:
    report = await run_load(data_dir, clients=CLIENTS, requests=REQUESTS, cache_mb=4.0, settings=SETTINGS)
    print(report.summary())
    assert report.failures == []
    assert report.mismatches == []
    assert report.requests == CLIENTS * REQUESTS
    assert report.served + report.abandoned == report.requests and report.abandoned > 0
    assert report.cache_hits > 0 and report.cache_misses > 0
    assert len(report.queue_waits_s) > 0
