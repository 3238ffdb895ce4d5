"""`edge-tts-clone templates`: make the graph templates the torch-free converter binds weights into.

Run by the project (torch needed) when the torch modules change: it rewrites the shipped templates
of the released sizes (`wyoming_server/importer/graph_templates/`). With `--gpt/--sovits/--hubert`
it makes templates for the sizes of those files instead (a model of other sizes), which
`convert --templates DIR` and the other converting commands then use.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    """Add the `templates` sub-command."""
    parser = subparsers.add_parser(
        "templates",
        help="make the graph templates that convert models without torch (needs torch)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--out", type=Path, default=None, help="template folder (default: the shipped one)")
    parser.add_argument("--size", choices=("real", "tiny"), default="real", help="preset sizes: released or tests'")
    parser.add_argument(
        "--versions", nargs="+", choices=("v2", "v2Pro", "v2ProPlus"), default=["v2", "v2Pro", "v2ProPlus"],
        help="preset versions",
    )
    parser.add_argument("--gpt", type=Path, help="make templates for the sizes of these files instead")
    parser.add_argument("--sovits", type=Path, help="(with --gpt) SoVITS .pth")
    parser.add_argument("--hubert", type=Path, help="(with --gpt) chinese-hubert-base folder")
    parser.add_argument("--sv", type=Path, help="(with --gpt, v2Pro/v2ProPlus) speaker-verification checkpoint")
    parser.add_argument("--no-check", action="store_true", help="skip the check on a second set of weights")
    parser.add_argument("--debug", action="store_true", help="log debug messages")
    parser.set_defaults(func=run)


def _say(message: str) -> None:
    print(f"templates: {message}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    """Make the templates; 1 with a message when torch is missing or a template fails its check."""
    try:
        from ..checkpoints.errors import ConversionError
        from ..convert.template_maker import make_templates
        from ..convert.template_presets import write_preset
        from ..convert.template_weights import CheckpointPaths
        from ..importer.templates import SHIPPED_DIR
    except ImportError as err:
        print(f"error: making templates needs torch: pip install 'edge-tts-clone[convert]' ({err})", file=sys.stderr)
        return 1
    out: Path = args.out or SHIPPED_DIR
    try:
        if args.gpt is not None:
            if args.sovits is None or args.hubert is None:
                print("error: --gpt needs --sovits and --hubert", file=sys.stderr)
                return 2
            paths = CheckpointPaths(args.gpt, args.sovits, args.hubert, args.sv)
            made = make_templates(paths, out, _say, check=not args.no_check)
        else:
            with tempfile.TemporaryDirectory(prefix="templates-") as tmp:
                fresh = Path(tmp) / "templates"
                made = []
                for version in args.versions:
                    _say(f"writing random {args.size}-size {version} checkpoints")
                    paths = write_preset(args.size, version, Path(tmp) / version)
                    made += make_templates(paths, fresh, _say, check=not args.no_check)
                _replace_folder(fresh, out)
    except ConversionError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    total = sum(p.stat().st_size for p in out.glob("*.onnx.gz"))
    print(f"{len(made)} templates in {out} ({total / 1e6:.2f} MB)")
    return 0


def _replace_folder(fresh: Path, out: Path) -> None:
    """`out` holds exactly the fresh templates (stale files of an older run go)."""
    out.mkdir(parents=True, exist_ok=True)
    for old in [*out.glob("*.onnx.gz"), out / "index.json"]:
        old.unlink(missing_ok=True)
    for path in fresh.iterdir():
        shutil.copyfile(path, out / path.name)
