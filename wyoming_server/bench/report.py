"""The engine's performance targets (docs/performance.md) and the benchmark's printed report.

Each target reads one figure from the benchmark's result (a nested dict, also printed as JSON)
and says pass or fail. On `--tiny` models the figures only prove the code path runs.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

Figures = dict[str, Any]


@dataclass(frozen=True)
class Target:
    """One target: a figure, a limit, and whether the figure must stay below or above it."""

    name: str
    label: str
    unit: str
    limit: float
    at_most: bool
    read: Callable[[Figures], float]

    def check(self, figures: Figures) -> dict[str, Any]:
        """{name, label, value, limit, unit, passed}."""
        try:
            value = float(self.read(figures))
        except (KeyError, TypeError, ValueError, ZeroDivisionError):
            value = math.nan
        passed = not math.isnan(value) and (value <= self.limit if self.at_most else value >= self.limit)
        return {
            "name": self.name,
            "label": self.label,
            "value": value,
            "limit": self.limit,
            "unit": self.unit,
            "at_most": self.at_most,
            "passed": passed,
        }


TARGETS: Final = (  # issue 17's targets (performance, step 2)
    Target("t2s_step_100", "INT8 T2S step at cache length 100", "ms", 6.0, True,
           lambda f: f["t2s"]["int8"]["step_ms_100"]),
    Target("t2s_step_growth", "INT8 step at 500 / step at 100", "x", 1.5, True,
           lambda f: f["t2s"]["int8"]["step_ms_500"] / f["t2s"]["int8"]["step_ms_100"]),
    Target("decoder_rtf", "INT8 SoVITS decoder RTF", "", 0.08, True,
           lambda f: f["decoder"]["int8"]["rtf"]),
    Target("pipeline_rtf", "INT8 whole-pipeline RTF", "", 0.18, True,
           lambda f: f["pipeline"]["int8"]["pipeline_rtf"]),
    Target("first_audio", "INT8 warm time to first audio (10 characters)", "ms", 200.0, True,
           lambda f: f["pipeline"]["int8"]["first_audio_ms"]),
    Target("peak_rss", "peak RSS speaking with one voice", "MB", 400.0, True,
           lambda f: f["memory"]["peak_mb"]),
    Target("two_models_rss", "peak RSS with two fine-tuned models loaded", "MB", 650.0, True,
           lambda f: f["switching"]["two_models_peak_mb"]),
    Target("round_rss", "peak RSS, four people in turn with a pool of two", "MB", 650.0, True,
           lambda f: f["switching"]["round_peak_mb"]),
    Target("switch_first_audio", "first audio switching to a person not loaded (worst switch)", "s", 1.5, True,
           lambda f: f["switching"]["switch_first_audio_s"]),
    Target("torch_speedup", "INT8 speed-up over our torch fp32 eager (one sentence)", "x", 2.5, False,
           lambda f: f["speedups"]["int8_vs_torch"]["sentence"]),
    Target("logits_cosine", "INT8 vs fp32 T2S logits cosine (lowest step)", "", 0.999, False,
           lambda f: f["t2s"]["quality"]["logits_cosine_min"]),
    Target("greedy_agreement", "INT8 vs fp32 T2S greedy agreement, 100 teacher-forced steps", "", 0.995, False,
           lambda f: f["t2s"]["quality"]["greedy_agreement"]),
    Target("waveform_snr", "INT8 vs fp32 decoder waveform SNR", "dB", 30.0, False,
           lambda f: f["decoder"]["int8_snr_db"]),
)


def check_targets(figures: Figures) -> list[dict[str, Any]]:
    """Every target's verdict."""
    return [target.check(figures) for target in TARGETS]


def _fmt(value: Any, digits: int = 2) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "n/a"
        return f"{value:.{digits}f}"
    return str(value)


def _row(cells: list[str], widths: list[int]) -> str:
    return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return [_row(header, widths), _row(["-" * w for w in widths], widths)] + [_row(r, widths) for r in rows]


def format_report(figures: Figures) -> str:
    """The human-readable report: setup, side-by-side tables, floors, memory, targets."""
    config, machine = figures["config"], figures["machine"]
    lines = [
        f"edge-tts-clone bench: {config['size']} random weights, {config['threads']} thread(s), "
        f"{machine['cpu']} ({machine['cores']} cores), onnxruntime {machine['onnxruntime']}, {machine['date']}",
        f"model: {config['model_dir']} "
        + ("(from the cache: conversion skipped)" if config["cached"]
           else f"(converted in this run: {config['conversion_s']:.0f} s; cached for reruns)"),
    ]
    if config["tiny"]:
        lines.append("TINY MODELS: the figures only show that the code path runs; they say nothing about speed.")
    t2s, decoder, pipeline = figures["t2s"], figures["decoder"], figures["pipeline"]
    impls = ("int8", "fp32", "torch")
    rows = [
        ["T2S prefill (ms)", *(_fmt(t2s[i]["prefill_ms"], 1) for i in impls)],
        *[[f"T2S step at cache {n} (ms)", *(_fmt(t2s[i][f"step_ms_{n}"]) for i in impls)]
          for n in (100, 500, 1000)],
        [f"decoder, {decoder['audio_s']:g} s of audio (s)", *(_fmt(decoder[i]["seconds"], 3) for i in impls)],
        ["decoder RTF", *(_fmt(decoder[i]["rtf"], 3) for i in impls)],
        ["pipeline RTF", _fmt(pipeline["int8"]["pipeline_rtf"], 3), _fmt(pipeline["fp32"]["pipeline_rtf"], 3),
         _fmt(pipeline["torch_sum_of_parts_rtf"], 3) + " (sum of parts)"],
        ["first audio (ms)", _fmt(pipeline["int8"]["first_audio_ms"], 0), _fmt(pipeline["fp32"]["first_audio_ms"], 0),
         "-"],
        [f"speed-up over torch, one {decoder['audio_s']:g} s sentence",
         _fmt(figures["speedups"]["int8_vs_torch"]["sentence"]) + "x",
         _fmt(figures["speedups"]["fp32_vs_torch"]["sentence"]) + "x", "1x"],
    ]
    lines += ["", *_table(["", "INT8 ONNX", "fp32 ONNX", "torch fp32 eager"], rows)]
    lines.append(
        "CPU time of the process, all threads (with --threads 1: what an idle core takes): "
        + "; ".join(
            f"{impl} step at 100 {_fmt(t2s[impl].get('step_ms_100_cpu', math.nan))} ms, "
            f"decoder {_fmt(decoder[impl].get('seconds_cpu', math.nan), 3)} s"
            for impl in impls
        )
        + f"; INT8 pipeline {_fmt(pipeline['int8'].get('pipeline_s_cpu', math.nan), 3)} s"
    )
    floor, bandwidth = t2s["floor_ms"], figures["bandwidth"]
    lines += [
        "",
        f"memory bandwidth: read {_fmt(bandwidth['read_gb_s'])} GB/s, copy {_fmt(bandwidth['copy_gb_s'])} GB/s "
        f"({int(bandwidth['threads'])} thread(s)); T2S weights read per token: "
        f"INT8 {t2s['bytes_per_token']['int8'] / 1e6:.1f} MB, fp32 {t2s['bytes_per_token']['fp32'] / 1e6:.1f} MB",
    ]
    floor_rows = []
    for n in (100, 500, 1000):
        key = str(n)
        floor_rows.append([
            f"cache {n}", f"{t2s['kv_mb_per_token']['int8'][key]:.1f} / {t2s['kv_mb_per_token']['fp32'][key]:.1f}",
            f"{t2s['gflop_per_token'][key]:.3f}",
            *(f"{_fmt(floor[p][key])} ms ({_fmt(t2s['vs_floor'][p][key], 1)}x)" for p in ("int8", "fp32")),
        ])
    lines += _table(["step", "KV MB read (INT8 / fp32)", "GFLOP", "INT8 floor (actual/floor)",
                     "fp32 floor (actual/floor)"], floor_rows)
    gmac = decoder.get("gmac", {})
    if gmac:
        lines.append(
            f"decoder work for {decoder['audio_s']:.0f} s of audio: {sum(gmac.values()):.1f} GMAC "
            f"(INT8 residual blocks {gmac['int8']:.1f}, fp32 upsampling {gmac['upsampling']:.1f}, "
            f"other fp32 {gmac['other']:.1f})"
        )
    sizes = figures["sizes_mb"]
    lines += ["", "model files (MB): " + ", ".join(
        f"{g} {_fmt(s.get('fp32', math.nan), 1)} / {_fmt(s.get('int8', math.nan), 1)}" for g, s in sizes.items()
    ) + "  (fp32 / INT8)"]
    memory = figures["memory"]
    lines.append(
        f"peak RSS speaking with one voice (INT8, fresh process): {_fmt(memory['peak_mb'], 0)} MB "
        f"(after imports {_fmt(memory['phases']['imports'].get('VmRSS', math.nan), 0)} MB, "
        f"model loaded {_fmt(memory['phases']['model_loaded'].get('VmRSS', math.nan), 0)} MB)"
    )
    lines += _switching_lines(figures["switching"])
    quality = t2s["quality"]
    lines.append(
        f"INT8 vs fp32: logits cosine min {quality['logits_cosine_min']:.5f} / "
        f"mean {quality['logits_cosine_mean']:.5f} "
        f"over {int(quality['steps'])} steps (greedy agreement {quality['greedy_agreement']:.0%}); "
        f"decoder waveform SNR {_fmt(decoder['int8_snr_db'], 1)} dB"
    )
    if "long_steps" in quality:
        lines.append(
            f"  over {int(quality['long_steps'])} steps: greedy agreement {quality['greedy_agreement_long']:.1%}; "
            f"near-ties (fp32's top two logits < {quality['near_tie_logits']:g} apart) "
            f"{quality['near_tie_fraction_long']:.1%} of steps, agreement on the others "
            f"{_fmt(quality['greedy_agreement_decisive_long'] * 100, 1)}%; "
            f"largest logit error {_fmt(quality['logits_max_error_long'], 3)}"
        )
    lines += ["", "targets:"]
    for verdict in figures["targets"]:
        sign = "<=" if verdict["at_most"] else ">="
        unit = f" {verdict['unit']}" if verdict["unit"] else ""
        lines.append(
            f"  {'PASS' if verdict['passed'] else 'FAIL'}  {verdict['label']}: {_fmt(verdict['value'], 3)}{unit} "
            f"(target {sign} {verdict['limit']:g}{unit})"
        )
    return "\n".join(lines)


def _switching_lines(switching: Figures) -> list[str]:
    """One row per switch: which person, whether their model loaded, its parts, first audio and RSS."""
    graphs = sorted({g for s in switching["switches"] for g in s.get("graphs_s", {})})
    rows = []
    for s in switching["switches"]:
        loaded = s["loaded"]
        rows.append([
            f"person {s['person']}", ("first load" if s["first_load"] else "reload") if loaded else "in the pool",
            _fmt(s.get("check_s", math.nan)) if loaded else "-",
            *((_fmt(s["graphs_s"].get(g, math.nan)) if loaded else "-") for g in graphs),
            _fmt(s.get("warm_up_s", math.nan)) if loaded else "-",
            _fmt(s["first_audio_s"]), _fmt(s["VmRSS"], 0), _fmt(s["VmHWM"], 0),
        ])
    header = ["switch", "model", "check (s)", *(f"{g} (s)" for g in graphs), "warm-up (s)", "first audio (s)",
              "RSS (MB)", "peak (MB)"]
    return [
        "",
        f"switching ({switching['people']} people, a pool of {switching['pool']}, one sentence each, fresh process; "
        "the first row includes the process's start):",
        *_table(header, rows),
    ]
