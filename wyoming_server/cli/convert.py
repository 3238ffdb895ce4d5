"""`edge-tts-clone convert`: official GPT-SoVITS checkpoints -> ONNX model folder."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    """Add the `convert` sub-command."""
    parser = subparsers.add_parser(
        "convert",
        help="convert GPT-SoVITS checkpoints (v2, v2Pro, v2ProPlus) to ONNX (fp32 and/or INT8)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--gpt", type=Path, required=True, help="GPT (text-to-semantic) .ckpt")
    parser.add_argument("--sovits", type=Path, required=True, help="SoVITS generator .pth")
    parser.add_argument("--hubert", type=Path, required=True, help="chinese-hubert-base folder")
    parser.add_argument("--sv", type=Path, help="speaker-verification checkpoint (v2Pro/v2ProPlus only)")
    parser.add_argument("--bert", type=Path, help="chinese-roberta-wwm-ext-large folder (optional)")
    parser.add_argument("--out", type=Path, required=True, help="model folder to write")
    parser.add_argument("--precision", choices=("fp32", "int8", "both"), default="both", help="graphs to write")
    parser.add_argument("--force", action="store_true", help="replace an existing model folder")
    parser.add_argument(
        "--fp32-kv-cache",
        action="store_true",
        help="do not write the INT8 step graph with an int8 KV cache (t2s_step): about 60 MB less peak "
        "RSS, slower steps on long sentences",
    )
    parser.add_argument("--debug", action="store_true", help="log debug messages")
    parser.set_defaults(func=run)


def _print_progress(step: int, total: int, message: str) -> None:
    print(f"[{step}/{total}] {message}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    """Convert; prints progress and a summary, returns 1 with a clear message on failure."""
    from ..convert.errors import ConversionError

    try:
        from ..convert.pipeline import convert_model
    except ImportError as err:
        print(f"error: the converter needs torch and onnx: pip install 'edge-tts-clone[convert]' ({err})",
              file=sys.stderr)
        return 1
    try:
        manifest = convert_model(
            args.gpt,
            args.sovits,
            args.hubert,
            args.out,
            sv=args.sv,
            bert_dir=args.bert,
            precision=args.precision,
            overwrite=args.force,
            progress=_print_progress,
            int8_kv_cache=not args.fp32_kv_cache,
        )
    except ConversionError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"wrote {args.out} ({manifest.version}, precision {', '.join(manifest.precision)})")
    for name, graph in manifest.graphs.items():
        int8 = f", INT8 SNR {graph.int8['snr_db']:.1f} dB" if graph.int8 else ""
        print(f"  {name}: max |onnx - torch| {graph.max_abs_error:.2e}{int8}")
    return 0
