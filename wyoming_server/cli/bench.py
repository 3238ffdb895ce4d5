"""`edge-tts-clone bench`: speed, memory and INT8 quality of the engine against issue 7's targets.

Needs the converter's extra (torch, onnx): the benchmark writes random-weight checkpoints at the
released v2 sizes and converts them. The converted model is cached under `--out-dir`, keyed by the
converter's code, so reruns skip the conversion.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from ..settings import DEFAULT_THREADS

DEFAULT_CACHE_DIR = Path.home() / ".cache" / "edge-tts-clone" / "bench"


def register(subparsers: Any) -> None:
    """Add the `bench` sub-command (without importing the converter: torch is optional)."""
    parser = subparsers.add_parser(
        "bench",
        help="measure T2S/decoder speed, first-audio time, memory and INT8 quality against the targets",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--json", action="store_true", help="print every figure as JSON instead of the report")
    parser.add_argument(
        "--threads", type=int, default=DEFAULT_THREADS,
        help="intra-op threads of every onnxruntime session and of torch (the runtime's default)",
    )
    parser.add_argument("--tiny", action="store_true", help="tiny models: checks the code path in seconds")
    parser.add_argument("--bert", action="store_true", help="also convert and use a Chinese BERT (real size: 326 M)")
    parser.add_argument(
        "--out-dir", type=Path, default=DEFAULT_CACHE_DIR, help="where converted benchmark models are cached"
    )
    parser.add_argument("--debug", action="store_true", help="log debug messages")
    parser.set_defaults(func=run)


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def run(args: argparse.Namespace) -> int:
    """Run the benchmark and print the report (or JSON); 1 with a message when it cannot run."""
    if args.threads < 1:
        print("error: --threads must be at least 1", file=sys.stderr)
        return 2
    try:
        from ..bench.engine import BenchConfig, run_bench
        from ..bench.report import format_report
    except ImportError as err:
        print(f"error: the benchmark needs torch and onnx: pip install 'edge-tts-clone[convert]' ({err})",
              file=sys.stderr)
        return 1

    def progress(message: str) -> None:
        print(f"bench: {message}", file=sys.stderr, flush=True)

    config = BenchConfig(threads=args.threads, cache_dir=args.out_dir.expanduser(), tiny=args.tiny, bert=args.bert)
    try:
        figures = run_bench(config, progress)
    except (OSError, RuntimeError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(json.dumps(_json_safe(figures), indent=1, ensure_ascii=False) if args.json else format_report(figures))
    return 0
