"""`edge-tts-clone voices ...`: enroll, list, show, rename, remove, export and import voices."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from ..checkpoints.errors import ConversionError
from ..engine.errors import EngineError
from ..models.catalogue import HUBERT_DIR, SV_FILE
from ..models.install import default_converter, install_converted_model
from ..settings import DEFAULT_DATA_DIR
from ..storage.layout import DOWNLOADS_SUBDIR
from ..storage.slug import slugify
from ..voices.archive import ArchiveError, export_pack, import_pack
from ..voices.folder_library import FolderLibrary, open_library
from ..voices.library import EnrollmentRejected, EnrollmentRequest, VoiceNotFoundError
from ..voices.pack import VoicePack
from ..voices.registry import VoiceWriteError
from .progress import StepBar

_LOGGER = logging.getLogger(__name__)

LibraryFactory = Callable[[Path], FolderLibrary]


def _open(data_dir: Path) -> FolderLibrary:
    return open_library(data_dir, max_loaded_models=1, threads=1)


library_factory: LibraryFactory = _open
"""How the commands open the data folder (tests swap in fakes)."""
converter: Any = None
"""The checkpoint converter for --gpt/--sovits (None: `models.install.default_converter`, with --templates)."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `voices` and its sub-commands."""
    parser = subparsers.add_parser(
        "voices", help="enroll and manage voices", formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    commands = parser.add_subparsers(dest="voices_command", metavar="ACTION", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="data folder")
    common.add_argument("--debug", action="store_true", help="log debug messages")

    def action(name: str, help_text: str) -> argparse.ArgumentParser:
        return commands.add_parser(
            name, help=help_text, parents=[common], formatter_class=argparse.ArgumentDefaultsHelpFormatter
        )

    add = action("add", "enroll a person's voice (or add a style to one)")
    add.add_argument("--name", default="", help="display name (e.g. Mum); required for a new voice")
    add.add_argument("--audio", type=Path, required=True, help="3-10 s clip: WAV, FLAC, OGG or MP3")
    add.add_argument("--text", default="", help="exactly what the clip says (empty: ref-free, lower quality)")
    add.add_argument("--language", required=True, help="language of the clip, e.g. zh or en")
    add.add_argument("--consent", default="", help="the person's statement that they agree to be cloned")
    add.add_argument("--style", default="default", help="style name of this clip (e.g. calm)")
    add.add_argument("--voice", default=None, help="add the style to this existing voice id")
    add.add_argument("--model", default=None, help="model id under <data>/models (default: best installed)")
    add.add_argument(
        "--gpt", type=Path, default=None, help="the person's fine-tuned GPT .ckpt (with --sovits)"
    )
    add.add_argument("--sovits", type=Path, default=None, help="the person's fine-tuned SoVITS .pth")
    add.add_argument(
        "--hubert-dir",
        type=Path,
        default=None,
        help="chinese-hubert-base folder for --gpt/--sovits (default: <data>/downloads/...)",
    )
    add.add_argument(
        "--sv", type=Path, default=None, help="SV checkpoint for v2Pro fine-tunes (default: downloads)"
    )
    add.add_argument("--replace-model", action="store_true", help="convert again over an existing model id")
    add.add_argument(
        "--templates", type=Path, action="append", default=[], metavar="DIR",
        help="extra graph templates (edge-tts-clone templates) for fine-tunes of other sizes",
    )
    add.add_argument("--start", type=float, default=None, help="use the clip from this second")
    add.add_argument("--end", type=float, default=None, help="use the clip up to this second")
    add.add_argument("--force", action="store_true", help="accept a weak clip (warnings stay in the report)")
    add.set_defaults(func=_add)

    listing = action("list", "list voices and skipped packs")
    listing.add_argument("--json", action="store_true", help="print JSON (as the admin API does)")
    listing.set_defaults(func=_list)

    show = action("show", "show one voice with its quality reports and consent")
    show.add_argument("voice_id")
    show.set_defaults(func=_show)

    rename = action("rename", "change a voice's display name (the id stays)")
    rename.add_argument("voice_id")
    rename.add_argument("name")
    rename.set_defaults(func=_rename)

    remove = action("remove", "delete a voice")
    remove.add_argument("voice_id")
    remove.set_defaults(func=_remove)

    export = action("export", "write a voice to one .voicepack file")
    export.add_argument("voice_id")
    export.add_argument("-o", "--output", type=Path, required=True, help="file to write (e.g. mum.voicepack)")
    export.add_argument("--with-model", action="store_true", help="include the voice's model")
    export.set_defaults(func=_export)

    imported = action("import", "install a .voicepack file")
    imported.add_argument("file", type=Path)
    imported.add_argument("--replace", action="store_true", help="replace a voice with the same id")
    imported.set_defaults(func=_import)


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 1


def _print_report(report: dict[str, Any], stream: TextIO | None = None) -> None:
    stream = stream or sys.stdout
    print(
        f"  duration {report.get('duration_s', 0):.1f} s (after trimming), "
        f"SNR {report.get('snr_db', 0):.0f} dB, clipping {report.get('clipping_ratio', 0):.2%}, "
        f"loudness {report.get('loudness_lufs', 0):.1f} LUFS, speech {report.get('speech_ratio', 0):.0%}"
        f"{', ref-free' if report.get('ref_free') else ''}",
        file=stream,
    )
    for reason in report.get("reasons", []):
        print(f"  refused: {reason}", file=stream)
    for warning in report.get("warnings", []):
        print(f"  warning: {warning}", file=stream)


def _fine_tune_model(args: argparse.Namespace) -> str:
    """Convert --gpt/--sovits into a model of its own; returns its id."""
    if args.gpt is None or args.sovits is None:
        raise ValueError("--gpt and --sovits go together")
    model_id = args.model or f"{slugify(args.name or args.voice or 'voice')}-ft"
    downloads = args.data_dir / DOWNLOADS_SUBDIR
    hubert_dir = args.hubert_dir or downloads / HUBERT_DIR
    if not hubert_dir.is_dir():
        raise ValueError(
            f"HuBERT not found at {hubert_dir}; run `edge-tts-clone models download v2` or pass --hubert-dir"
        )
    sv = args.sv or downloads / SV_FILE.path
    print(f"converting {args.gpt.name} + {args.sovits.name} into model {model_id} ...", file=sys.stderr)
    install_converted_model(
        args.data_dir,
        model_id,
        gpt=args.gpt,
        sovits=args.sovits,
        hubert_dir=hubert_dir,
        sv=sv if sv.is_file() else None,
        replace=args.replace_model,
        converter=converter or default_converter(args.templates),
        progress=StepBar(f"converting {args.gpt.name} + {args.sovits.name}"),
    )
    return str(model_id)


def _add(args: argparse.Namespace) -> int:
    try:
        audio = args.audio.read_bytes()
    except OSError as err:
        return _fail(f"cannot read {args.audio}: {err.strerror or err}")
    model_id = args.model
    if args.gpt is not None or args.sovits is not None:
        try:
            model_id = _fine_tune_model(args)
        except (ConversionError, ValueError, FileExistsError, RuntimeError, EngineError) as err:
            return _fail(str(err))
    library = library_factory(args.data_dir)
    request = EnrollmentRequest(
        name=args.name,
        audio=audio,
        text=args.text,
        language=args.language,
        consent=args.consent,
        style=args.style,
        voice_id=args.voice,
        model_id=model_id,
        start_s=args.start,
        end_s=args.end,
        force=args.force,
        recorded_by="cli",
    )
    try:
        pack, report = library.enroll(request)
    except EnrollmentRejected as err:
        print("voice not enrolled:", file=sys.stderr)
        _print_report(err.report, sys.stderr)
        return 1
    except (VoiceNotFoundError, VoiceWriteError, EngineError) as err:
        return _fail(str(err))
    print(f"enrolled {pack.name!r} as voice {pack.id} (style {args.style}, model {pack.model_id})")
    _print_report(report)
    return 0


def _list(args: argparse.Namespace) -> int:
    library = library_factory(args.data_dir)
    voices, skipped = library.voices(), library.skipped()
    if args.json:
        print(
            json.dumps(
                {
                    "voices": [v.to_dict() for v in voices],
                    "skipped": [{"path": s.path, "reason": s.reason} for s in skipped],
                },
                ensure_ascii=False,
                indent=2,
            )
        )
        return 0
    default = library.resolve(None).id if voices else ""
    for voice in voices:
        marks = " (default)" if voice.id == default else ""
        print(
            f"{voice.id:<20} {voice.name:<24} {voice.kind:<10} {','.join(voice.languages):<10} "
            f"model={voice.model_id} styles={','.join(voice.styles)}{marks}"
        )
    for item in skipped:
        print(f"skipped {item.path}: {item.reason}")
    return 0


def _find(library: FolderLibrary, voice_id: str) -> VoicePack | None:
    try:
        return library.resolve(voice_id)
    except VoiceNotFoundError:
        return None


def _show(args: argparse.Namespace) -> int:
    library = library_factory(args.data_dir)
    pack = _find(library, args.voice_id)
    if pack is None:
        return _fail(f"no voice {args.voice_id!r} (see `edge-tts-clone voices list`)")
    print(json.dumps(pack.to_dict(), ensure_ascii=False, indent=2))
    return 0


def _rename(args: argparse.Namespace) -> int:
    library = library_factory(args.data_dir)
    try:
        pack = library.rename(args.voice_id, args.name)
    except (VoiceNotFoundError, PermissionError, ValueError, VoiceWriteError) as err:
        return _fail(str(err).strip('"'))
    print(f"voice {pack.id} is now called {pack.name!r}")
    return 0


def _remove(args: argparse.Namespace) -> int:
    library = library_factory(args.data_dir)
    try:
        library.remove(args.voice_id)
    except (VoiceNotFoundError, PermissionError, VoiceWriteError) as err:
        return _fail(str(err).strip('"'))
    print(f"removed voice {args.voice_id}")
    return 0


def _export(args: argparse.Namespace) -> int:
    library = library_factory(args.data_dir)
    try:
        path = export_pack(library.registry, args.voice_id, args.output, with_model=args.with_model)
    except (VoiceNotFoundError, ArchiveError, EngineError, OSError) as err:
        return _fail(str(err).strip('"'))
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB{', with its model' if args.with_model else ''})")
    return 0


def _import(args: argparse.Namespace) -> int:
    library = library_factory(args.data_dir)
    try:
        result = import_pack(library.registry, args.file, replace=args.replace)
    except (ArchiveError, VoiceWriteError, OSError) as err:
        return _fail(str(err))
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"imported voice {result.pack.id} ({result.pack.name!r}, model {result.model_id})")
    return 0
