"""The benchmarks end to end: every figure is there (timings are never asserted).

`edge-tts-clone bench --tiny --json` for the engine, and the server benchmark in-process.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.tiny_models.checkpoints import REPO_ROOT
from wyoming_server.bench.server import in_process_report

IMPLEMENTATIONS = ("int8", "fp32", "torch")


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    """One tiny benchmark run through the command line, and its cache folder."""
    cache = tmp_path_factory.mktemp("bench-cache")
    done = subprocess.run(
        [sys.executable, "-m", "wyoming_server", "bench", "--tiny", "--json", "--threads", "1",
         "--out-dir", str(cache)],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout), cache


def test_every_figure_is_reported(bench_run: tuple[dict[str, Any], Path]) -> None:
    figures, _ = bench_run
    t2s = figures["t2s"]
    for impl in IMPLEMENTATIONS:
        for key in ("prefill_ms", "step_ms_100", "step_ms_500", "step_ms_1000"):
            assert _finite(t2s[impl][key]) and t2s[impl][key] > 0, (impl, key)
        assert _finite(figures["decoder"][impl]["rtf"])
        for length in ("100", "500", "1000"):
            assert _finite(t2s["vs_floor"][impl][length])
    for precision in ("int8", "fp32"):
        assert t2s["bytes_per_token"][precision] > 0
        for key in ("first_audio_ms", "pipeline_rtf", "pipeline_audio_s"):
            assert _finite(figures["pipeline"][precision][key]), (precision, key)
        assert all(_finite(v) for v in t2s["floor_ms"][precision].values())
    assert t2s["bytes_per_token"]["int8"] < t2s["bytes_per_token"]["fp32"]
    assert t2s["kv_value_bytes"] == {"int8": 1, "fp32": 4}  # INT8 steps run on t2s_step's int8 cache
    assert set(figures["decoder"]["gmac"]) == {"int8", "upsampling", "other"}
    assert all(v > 0 for v in figures["decoder"]["gmac"].values())
    assert _finite(figures["pipeline"]["torch_sum_of_parts_rtf"])
    assert -1.0 <= t2s["quality"]["logits_cosine_min"] <= 1.0
    assert 0.0 <= t2s["quality"]["greedy_agreement"] <= 1.0
    assert _finite(figures["decoder"]["int8_snr_db"])
    for pair in ("int8_vs_torch", "fp32_vs_torch", "int8_vs_fp32"):
        assert _finite(figures["speedups"][pair]["sentence"])
    assert figures["bandwidth"]["read_gb_s"] > 0 and figures["bandwidth"]["copy_gb_s"] > 0
    assert set(figures["sizes_mb"]) >= {"t2s_encoder", "t2s_decoder", "vits_decoder"}
    assert figures["sizes_mb"]["t2s_decoder"]["int8"] > 0


def test_pipeline_audio_has_the_forced_length(bench_run: tuple[dict[str, Any], Path]) -> None:
    """The benchmark's GPT cannot emit EOS, so the sentence runs to exactly the forced token count."""
    figures, _ = bench_run
    for precision in ("int8", "fp32"):
        assert figures["pipeline"][precision]["pipeline_audio_s"] == figures["pipeline"][precision]["expected_audio_s"]


def test_memory_probe_runs_without_torch(bench_run: tuple[dict[str, Any], Path]) -> None:
    memory = bench_run[0]["memory"]
    assert memory["torch_imported"] is False
    assert memory["precision"] == "int8"
    assert memory["audio_s"] > 0
    assert memory["peak_mb"] >= memory["phases"]["model_loaded"]["VmRSS"] > 0


def test_switching_loads_each_person_through_a_pool_of_two(bench_run: tuple[dict[str, Any], Path]) -> None:
    """Issue 17: four people and a pool of two; every switch to a person not in the pool loads their graphs."""
    figures, cache = bench_run
    switching = figures["switching"]
    assert switching["torch_imported"] is False
    people = [s["person"] for s in switching["switches"]]
    assert people == [1, 2, 3, 4, 1, 2]
    assert [s["loaded"] for s in switching["switches"]] == [True] * 6  # 3 and 4 evicted 1 and 2
    assert [s["first_load"] for s in switching["switches"]] == [True] * 4 + [False] * 2
    for switch in switching["switches"]:
        assert switch["models_loaded"] <= switching["pool"]
        assert {"t2s_encoder", "t2s_decoder", "vits_decoder"} <= set(switch["graphs_s"])
        assert not {"prompt_extractor", "ref_embedder", "sv_embedder"} & set(switch["graphs_s"])  # never to speak
        assert 0 < switch["first_audio_s"] <= switch["sentence_s"]
    assert switching["round_peak_mb"] >= switching["two_models_peak_mb"] > 0
    assert _finite(switching["switch_first_audio_s"]) and _finite(switching["reload_first_audio_s"])
    assert not (cache / "people").exists()  # the people's folders are removed after the probe


def test_long_text_bench_reports_each_sentence_at_both_speeds(bench_run: tuple[dict[str, Any], Path]) -> None:
    _, cache = bench_run  # the tiny model converted there
    done = subprocess.run(
        [sys.executable, "-m", "wyoming_server", "bench", "long-text", "--tiny", "--json", "--threads", "1",
         "--chars", "100", "--speed", "1.3", "--out-dir", str(cache)],
        capture_output=True, text=True, cwd=REPO_ROOT, timeout=600, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    reports = json.loads(done.stdout)
    assert [r["speed"] for r in reports] == [1.0, 1.3]
    for report in reports:
        assert report["torch_imported"] is False
        assert len(report["sentences"]) >= 2  # no punctuation: the frontend breaks it at 80 syllables
        assert report["audio_s"] > 0 and report["peak_mb"] >= report["first_sentence_peak_mb"] > 0


def test_every_target_has_a_verdict(bench_run: tuple[dict[str, Any], Path]) -> None:
    figures, _ = bench_run
    names = {t["name"] for t in figures["targets"]}
    assert names == {
        "t2s_step_100", "t2s_step_growth", "decoder_rtf", "pipeline_rtf", "first_audio",
        "peak_rss", "two_models_rss", "round_rss", "switch_first_audio",
        "torch_speedup", "logits_cosine", "greedy_agreement", "waveform_snr",
    }
    for verdict in figures["targets"]:
        assert _finite(verdict["value"]), verdict
        assert isinstance(verdict["passed"], bool)
    assert figures["config"]["tiny"] is True and figures["config"]["cached"] is False


def test_a_rerun_uses_the_cached_conversion(bench_run: tuple[dict[str, Any], Path]) -> None:
    from wyoming_server.bench.random_models import TINY_V2, prepare_models

    figures, cache = bench_run
    again = prepare_models(cache, TINY_V2)
    assert again.cached and again.conversion_s == 0.0
    assert str(again.model_dir) == figures["config"]["model_dir"]


async def test_server_bench_in_process_reports_every_request() -> None:
    report = await in_process_report(
        clients=3, requests=2, text="Short test. Two sentences.", rtf=0.0, max_concurrent=2
    )
    print(report)
    assert "total=6 ok=6 errors=0" in report
    assert "time to first audio: median" in report and "requests/s" in report
