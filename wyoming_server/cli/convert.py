"""`edge-tts-clone convert`: official GPT-SoVITS checkpoints -> ONNX model folder.

The default converter binds the checkpoints into the shipped graph templates and needs no torch;
`--converter torch` exports from our torch modules instead (the reference, the `[convert]` extra),
which `auto` also falls back to for what no template covers (other sizes, `--bert`) when torch is here.
"""

from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path
from typing import Any

from .progress import StepBar

CONVERTERS = ("auto", "templates", "torch")


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
    parser.add_argument("--bert", type=Path, help="chinese-roberta-wwm-ext-large folder (optional; needs torch)")
    parser.add_argument("--out", type=Path, required=True, help="model folder to write")
    parser.add_argument("--precision", choices=("fp32", "int8", "both"), default="both", help="graphs to write")
    parser.add_argument("--force", action="store_true", help="replace an existing model folder")
    parser.add_argument(
        "--fp32-kv-cache",
        action="store_true",
        help="do not write the INT8 step graph with an int8 KV cache (t2s_step): about 60 MB less peak "
        "RSS, slower steps on long sentences",
    )
    parser.add_argument(
        "--converter", choices=CONVERTERS, default="auto",
        help="templates: no torch; torch: export from our torch modules (needs torch); auto: templates, "
        "torch for what no template covers",
    )
    parser.add_argument(
        "--templates", type=Path, action="append", default=[], metavar="DIR",
        help="extra graph templates (edge-tts-clone templates) for models of other sizes",
    )
    parser.add_argument("--debug", action="store_true", help="log debug messages")
    parser.set_defaults(func=run)


def _convert(args: argparse.Namespace, use_torch: bool) -> Any:
    progress = StepBar("converting")
    common = {
        "sv": args.sv, "bert_dir": args.bert, "precision": args.precision, "overwrite": args.force,
        "progress": progress, "int8_kv_cache": not args.fp32_kv_cache,
    }
    if use_torch:
        from ..convert.pipeline import convert_model as torch_convert_model

        return torch_convert_model(args.gpt, args.sovits, args.hubert, args.out, **common)
    from ..importer.pipeline import convert_model
    from ..importer.template_sources import TemplateSources

    sources = functools.partial(TemplateSources, template_dirs=list(args.templates))
    return convert_model(args.gpt, args.sovits, args.hubert, args.out, open_sources=sources, **common)


def run(args: argparse.Namespace) -> int:
    """Convert; prints progress and a summary, returns 1 with a clear message on failure."""
    from ..checkpoints.errors import ConversionError
    from ..importer.templates import NoTemplateError
    from ..models.install import torch_available

    use_torch = args.converter == "torch"
    if use_torch and not torch_available():
        print("error: --converter torch needs torch: pip install 'edge-tts-clone[convert]'", file=sys.stderr)
        return 1
    try:
        try:
            manifest = _convert(args, use_torch)
        except NoTemplateError as err:
            if args.converter != "auto" or not torch_available():
                raise
            print(f"{err}\nconverting with torch instead", file=sys.stderr)
            manifest = _convert(args, use_torch=True)
    except ConversionError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    converter = manifest.extra.get("converter", "")
    print(f"wrote {args.out} ({manifest.version}, precision {', '.join(manifest.precision)}, {converter})")
    measured = "when its template was made" if converter == "templates" else "here"
    for name, graph in manifest.graphs.items():
        int8 = f", INT8 SNR {graph.int8['snr_db']:.1f} dB" if graph.int8 else ""
        print(f"  {name}: max |onnx - torch| {graph.max_abs_error:.2e} ({measured}){int8}")
    return 0
