"""`edge-tts-clone bench convert` end to end on tiny v2Pro files (timings and memory are never asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.tiny_models.checkpoints import REPO_ROOT

pytestmark = pytest.mark.slow


def test_the_conversion_bench_measures_a_torch_free_child_and_compares_with_torch(
    tiny_templates: Path, tmp_path: Path
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "wyoming_server", "bench", "convert", "--tiny", "--version", "v2Pro", "--compare",
         "--json", "--templates", str(tiny_templates), "--out-dir", str(tmp_path)],
        capture_output=True, text=True, cwd=REPO_ROOT, timeout=900, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout)
    run = figures["templates"]
    assert run["torch_imported"] is False
    assert run["peak_mb"] >= run["rss_after_imports_mb"] > 0
    assert [step["message"] for step in run["steps"]][-1].startswith("wrote ")
    assert {"gpt.ckpt", "sovits.pth", "sv.ckpt"} <= set(figures["checkpoint_mb"])
    files = {c["file"] for c in figures["comparison"]}
    assert {"t2s_step.int8.onnx", "vits_decoder.int8.onnx", "sv_embedder.onnx", "prompt_quantizer.onnx"} <= files
    assert any(name.startswith("hubert-") for name in files)  # the shared HuBERT is compared too
    assert all(c["agrees"] for c in figures["comparison"]), figures["comparison"]
