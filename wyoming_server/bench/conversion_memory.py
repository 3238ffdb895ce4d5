"""The template converter's peak memory and time, measured in a fresh child process without torch.

The benchmark's own process holds torch and the random checkpoints it wrote, so the figure comes
from a child that imports only the torch-free converter: it converts as `models download` does
(`default_converter`'s template path), records VmRSS/VmHWM and the time at every progress step,
and prints JSON. This module imports no torch (the child checks).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Final

CHILD_TIMEOUT_S: Final = 3600
_CHILD_CODE: Final = (
    "import json, sys; from pathlib import Path; from wyoming_server.bench.conversion_memory import child_report; "
    "print(json.dumps(child_report(*[Path(a) if a else None for a in sys.argv[1:6]], sys.argv[6], sys.argv[7])))"
)


def child_report(
    gpt: Path, sovits: Path, hubert: Path, sv: Path | None, out_dir: Path, precision: str, templates: str
) -> dict[str, Any]:
    """In the child: convert with the templates, and report the peak RSS and the time of every step."""
    from ..importer.pipeline import convert_model
    from ..importer.template_sources import TemplateSources
    from .timing import proc_status_mb

    steps: list[dict[str, Any]] = []
    started = time.perf_counter()

    def progress(done: int, total: int, message: str) -> None:
        steps.append({"t_s": round(time.perf_counter() - started, 2), "done": done, "total": total,
                      "message": message, **proc_status_mb()})

    def sources(g: Path, s: Path, h: Path, v: Path | None, b: Path | None) -> TemplateSources:
        return TemplateSources(g, s, h, v, b, [Path(templates)] if templates else [])

    baseline = proc_status_mb()
    manifest = convert_model(gpt, sovits, hubert, out_dir, open_sources=sources, sv=sv, precision=precision,
                             overwrite=True, progress=progress)
    return {
        "seconds": time.perf_counter() - started,
        "peak_mb": proc_status_mb().get("VmHWM", float("nan")),
        "rss_after_imports_mb": baseline.get("VmRSS", float("nan")),
        "version": manifest.version,
        "precision": precision,
        "steps": steps,
        "torch_imported": "torch" in sys.modules,
        "folder_mb": sum(p.stat().st_size for p in out_dir.iterdir()) / 1e6,
    }


def measure_conversion(
    gpt: Path, sovits: Path, hubert: Path, sv: Path | None, out_dir: Path, precision: str = "both",
    templates: Path | None = None,
) -> dict[str, Any]:
    """Run the child and return its JSON report; RuntimeError with its stderr on failure."""
    args = [str(gpt), str(sovits), str(hubert), str(sv) if sv else "", str(out_dir), precision,
            str(templates) if templates else ""]
    done = subprocess.run([sys.executable, "-c", _CHILD_CODE, *args], capture_output=True, text=True,
                          timeout=CHILD_TIMEOUT_S, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the conversion probe failed ({done.returncode}): {done.stderr.strip()[-3000:]}")
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report
