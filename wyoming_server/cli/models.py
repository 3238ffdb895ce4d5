"""`edge-tts-clone models ...`: download official pretrained models, list and remove the installed ones."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..checkpoints.errors import ConversionError
from ..models.catalogue import CATALOGUE, DEFAULT_BASE_URL, HUBERT_DIR
from ..models.download import DownloadError, ProgressBar, fetch_release, release
from ..models.install import default_converter, install_converted_model
from ..models.installed import installed_models
from ..models.remove import ModelRemoveError, remove_model
from ..settings import DEFAULT_DATA_DIR
from ..storage.layout import DOWNLOADS_SUBDIR, MODELS_SUBDIR
from .progress import StepBar

converter: Any = None
"""The checkpoint converter (None: `models.install.default_converter`, with --templates; tests swap in a fake)."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `models download`, `models list` and `models remove`."""
    parser = subparsers.add_parser(
        "models",
        help="download and list GPT-SoVITS models",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    commands = parser.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="data folder")
    common.add_argument("--debug", action="store_true", help="log debug messages")

    download = commands.add_parser(
        "download",
        parents=[common],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        help="fetch the official pretrained files and convert them into <data>/models/<model>",
    )
    download.add_argument("model", choices=sorted(CATALOGUE), help="model version")
    download.add_argument(
        "--from",
        dest="source_dir",
        type=Path,
        default=None,
        help="use files already on disk (a GPT_SoVITS/pretrained_models folder) instead",
    )
    download.add_argument("--base-url", default=DEFAULT_BASE_URL, help="where to download from (a mirror)")
    download.add_argument(
        "--with-bert",
        action="store_true",
        help="also fetch chinese-roberta-wwm-ext-large (651 MB; better Chinese prosody)",
    )
    download.add_argument(
        "--precision", choices=("both", "fp32", "int8"), default="both", help="graphs to write"
    )
    download.add_argument("--replace", action="store_true", help="convert again over an installed model")
    download.add_argument("--download-only", action="store_true", help="fetch and check, do not convert")
    download.add_argument(
        "--templates", type=Path, action="append", default=[], metavar="DIR",
        help="extra graph templates (edge-tts-clone templates) for models of other sizes",
    )
    download.set_defaults(func=_download)

    listing = commands.add_parser(
        "list",
        parents=[common],
        help="installed models and the catalogue",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(func=_list)

    removing = commands.add_parser(
        "remove",
        parents=[common],
        help="delete an installed model no voice speaks with (and a shared HuBERT no model needs)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    removing.add_argument("model", help="model id (see `models list`)")
    removing.set_defaults(func=_remove)


def _download(args: argparse.Namespace) -> int:
    try:
        chosen = release(args.model)
        paths = fetch_release(
            chosen,
            args.data_dir / DOWNLOADS_SUBDIR,
            base_url=args.base_url,
            source_dir=args.source_dir,
            with_bert=args.with_bert,
            progress=ProgressBar(),
        )
    except DownloadError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"all {len(paths)} files of {chosen.id} are present and checked", file=sys.stderr)
    if args.download_only:
        return 0
    hubert = next(path for name, path in paths.items() if name.startswith(HUBERT_DIR + "/")).parent
    bert = next(
        (path.parent for name, path in paths.items() if name.endswith("roberta-wwm-ext-large/config.json")),
        None,
    )
    try:
        target = install_converted_model(
            args.data_dir,
            chosen.id,
            gpt=paths[chosen.gpt.path],
            sovits=paths[chosen.sovits.path],
            hubert_dir=hubert,
            sv=paths[chosen.sv.path] if chosen.sv else None,
            bert_dir=bert,
            precision=args.precision,
            replace=args.replace,
            converter=converter or default_converter(args.templates),
            progress=StepBar(f"converting {chosen.id}"),
        )
    except (ConversionError, FileExistsError, RuntimeError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"installed model {chosen.id} in {target}")
    return 0


def _list(args: argparse.Namespace) -> int:
    models_dir = args.data_dir / MODELS_SUBDIR
    installed = installed_models(args.data_dir)
    if args.json:
        print(json.dumps({"installed": installed, "downloadable": sorted(CATALOGUE)}, indent=2))
        return 0
    for model in installed:
        detail = model.get("error") or f"{model['version']} ({', '.join(model['precision'])})"
        print(f"{model['id']:<20} {detail}")
    if not installed:
        print(
            f"no models in {models_dir}; the stock Piper voice speaks until you run `models download v2pro`"
        )
    print(f"downloadable: {', '.join(sorted(CATALOGUE))}")
    return 0


def _remove(args: argparse.Namespace) -> int:
    try:
        removed = remove_model(args.data_dir, args.model)
    except ModelRemoveError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    names = ", ".join(removed.shared_removed)
    shared = f"; shared files no model needs any more: {names}" if names else ""
    print(f"removed model {removed.model_id} ({removed.freed_bytes / 1e6:.0f} MB freed{shared})")
    return 0
