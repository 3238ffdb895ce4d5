"""`edge-tts-clone detect FILE`: did this server synthesize that clip? (the per-install watermark)"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..engine.watermark import KEY_FILE, detect, read_key
from ..settings import DEFAULT_DATA_DIR
from ..voices.quality import UnreadableAudioError, decode_audio

EXIT_MARKED = 0
EXIT_NOT_MARKED = 1
EXIT_ERROR = 2


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `detect`."""
    parser = subparsers.add_parser(
        "detect",
        help="check whether audio files carry this install's watermark",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Exit status: 0 every file is marked, 1 some file is not, 2 an error.",
    )
    parser.add_argument("files", type=Path, nargs="*", help="WAV, FLAC, OGG or MP3 files")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="data folder holding the key")
    parser.add_argument("--debug", action="store_true", help="log debug messages")
    parser.set_defaults(func=_detect)


def _detect(args: argparse.Namespace) -> int:
    if not args.files:
        print("error: give one or more audio files", file=sys.stderr)
        return EXIT_ERROR
    try:
        key = read_key(args.data_dir)
    except FileNotFoundError:
        print(
            f"error: no {KEY_FILE} in {args.data_dir}: this install has not synthesized anything yet "
            "(or --data-dir points elsewhere)",
            file=sys.stderr,
        )
        return EXIT_ERROR
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_ERROR
    status = EXIT_MARKED
    for path in args.files:
        try:
            clip = decode_audio(path.read_bytes())
        except (OSError, UnreadableAudioError) as err:
            print(f"{path}: error: {err}", file=sys.stderr)
            return EXIT_ERROR
        result = detect(clip.samples, clip.rate_hz, key)
        if result.reason:
            verdict = f"cannot tell ({result.reason})"
        elif result.marked:
            verdict = "made by this server"
        else:
            verdict = "not marked by this server"
        print(
            f"{path}: {verdict} (score {result.score:.1f}, threshold {result.threshold:.1f}, "
            f"{result.duration_s:.1f} s, key {key.fingerprint()})"
        )
        if not result.marked:
            status = EXIT_NOT_MARKED
    return status
