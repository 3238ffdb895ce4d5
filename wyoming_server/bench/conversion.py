"""`edge-tts-clone bench convert`: converting a real-size model without torch, and against torch.

It writes random-weight checkpoints at the released sizes of a version (GPT 24 x 512, SoVITS,
chinese-hubert-base, and for v2Pro/v2ProPlus the ERes2NetV2 w24s4ep4 network) with the project's
writers, then converts them with the template converter in a fresh child process without torch
(`conversion_memory`): peak RSS and time, per step. With `compare`, the torch converter converts the
same files too and every graph of the two folders is compared (`convert/graph_compare.py`):
structure and weights, and outputs on the converter's random inputs against its own tolerance.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..convert.graph_compare import compare_folders, compare_shared_files
from ..convert.pipeline import convert_model as torch_convert_model
from ..convert.template_presets import write_preset
from ..importer.sovits_plans import sovits_plans
from ..importer.t2s_plans import t2s_plans
from ..importer.template_sources import CheckpointSet
from .conversion_memory import measure_conversion


def run_conversion_bench(
    work_dir: Path, version: str, size: str, precision: str, compare: bool, report: Callable[[str], None],
    templates: Path | None = None,
) -> dict[str, Any]:
    """Figures of one run (see the module docstring); `work_dir` keeps the checkpoints between runs."""
    sources = work_dir / f"{size}-{version}-sources"
    marker = sources / ".complete"
    if not marker.is_file():
        report(f"writing random {size}-size {version} checkpoints into {sources}")
        shutil.rmtree(sources, ignore_errors=True)
        write_preset(size, version, sources)
        marker.touch()
    gpt, sovits, hubert = sources / "gpt.ckpt", sources / "sovits.pth", sources / "chinese-hubert-base"
    sv = sources / "sv.ckpt" if (sources / "sv.ckpt").is_file() else None
    out = work_dir / f"{size}-{version}-templates" / "model"  # each converter's own shared HuBERT beside it
    report("converting with the templates in a child process without torch")
    figures: dict[str, Any] = {"version": version, "size": size}
    figures["templates"] = measure_conversion(gpt, sovits, hubert, sv, out, precision, templates)
    files = {p.name: p.stat().st_size for p in sorted(sources.rglob("*")) if p.is_file() and p.name != ".complete"}
    figures["checkpoint_mb"] = {name: size_bytes / 1e6 for name, size_bytes in files.items()}
    if compare:
        reference = work_dir / f"{size}-{version}-torch" / "model"
        report("converting the same files with torch (the reference)")
        started = time.perf_counter()
        torch_convert_model(gpt, sovits, hubert, reference, sv=sv, precision=precision, overwrite=True)
        figures["torch_seconds"] = time.perf_counter() - started
        report("comparing every graph")
        checkpoints = CheckpointSet(gpt, sovits, hubert, sv)
        plans = [*t2s_plans(checkpoints.t2s_dims, False), *sovits_plans(checkpoints.sovits_dims, reference)]
        checkpoints.close()
        # The model folders, then their shared HuBERTs.
        compared = compare_folders(reference, out, plans) + compare_shared_files(reference, out)
        figures["comparison"] = [
            {"file": c.file, "same_graph": not c.structure, "difference": c.structure, "output_error": c.output_error,
             "tolerance": c.tolerance, "integer_mismatch": c.integer_mismatch, "agrees": c.agrees}
            for c in compared
        ]
    return figures


def format_conversion_report(figures: dict[str, Any]) -> str:
    """The figures as text."""
    run = figures["templates"]
    lines = [
        f"template converter, {figures['size']}-size {figures['version']}, precision {run['precision']}:",
        f"  peak RSS {run['peak_mb']:.0f} MB (after imports {run['rss_after_imports_mb']:.0f} MB), "
        f"{run['seconds']:.1f} s, folder {run['folder_mb']:.0f} MB, torch imported: {run['torch_imported']}",
    ]
    for step in run["steps"]:
        lines.append(f"  {step['t_s']:7.1f} s  RSS {step.get('VmRSS', 0):6.0f} MB  peak {step.get('VmHWM', 0):6.0f} MB"
                     f"  {step['message']}")
    if "comparison" in figures:
        lines.append(f"against the torch converter ({figures['torch_seconds']:.1f} s):")
        for c in figures["comparison"]:
            verdict = "same graph" if c["same_graph"] else f"DIFFERENT: {c['difference']}"
            lines.append(f"  {c['file']:<26} {verdict}; outputs {c['output_error']:.2e} of scale "
                         f"(tolerance {c['tolerance']:.2e}) {'ok' if c['agrees'] else 'FAIL'}")
    return "\n".join(lines)
