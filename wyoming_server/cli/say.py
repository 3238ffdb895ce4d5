"""`edge-tts-clone say`: speak a text with a reference clip into a WAV file."""

from __future__ import annotations

import argparse
import sys
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from ..engine import EngineError, SynthesisOptions
from ..settings import DEFAULT_DATA_DIR, DEFAULT_THREADS, PRONUNCIATIONS_FILE, pronunciations_path

DEFAULTS = SynthesisOptions()
"""Upstream's sampling defaults, shown in `--help`."""


def register(subparsers: Any) -> None:
    """Add the `say` sub-command."""
    parser = subparsers.add_parser(
        "say",
        help="speak a text into a WAV file (cloning --ref-audio with --model, else the stock voice)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--model", type=Path, help="converted model folder (omit to speak with an enrolled voice or the stock voice)"
    )
    parser.add_argument("--voice", help="without --model: id of an enrolled voice (default: the default voice)")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="data folder (voices, watermark key)")
    parser.add_argument(
        "--pronunciations", type=Path, help=f"pronunciation dictionary (default: <data-dir>/{PRONUNCIATIONS_FILE})"
    )
    parser.add_argument("--ref-audio", type=Path, help="reference clip of the voice to clone (3-10 s)")
    parser.add_argument("--ref-text", default="", help="transcript of the clip (empty: ref-free, lower quality)")
    parser.add_argument("--ref-language", default="zh", help="language of the transcript")
    parser.add_argument("--text", required=True, help="what to say")
    parser.add_argument("--language", default=DEFAULTS.language, help="language of --text: zh, en or auto")
    parser.add_argument("-o", "--output", type=Path, required=True, help="WAV file to write")
    parser.add_argument("--seed", type=int, help="random seed (same seed, same audio)")
    parser.add_argument("--top-k", type=int, default=DEFAULTS.top_k)
    parser.add_argument("--top-p", type=float, default=DEFAULTS.top_p)
    parser.add_argument("--temperature", type=float, default=DEFAULTS.temperature)
    parser.add_argument("--repetition-penalty", type=float, default=DEFAULTS.repetition_penalty)
    parser.add_argument("--speed", type=float, default=DEFAULTS.speed)
    parser.add_argument("--noise-scale", type=float, default=DEFAULTS.noise_scale)
    parser.add_argument(
        "--max-tokens", type=int, default=DEFAULTS.max_tokens, help="cap on semantic tokens per sentence"
    )
    parser.add_argument("--precision", choices=("fp32", "int8"), help="graphs to use (default: INT8 when present)")
    parser.add_argument("--threads", type=int, help="onnxruntime threads per graph")
    parser.add_argument("--debug", action="store_true", help="log debug messages")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Synthesize and write the WAV; returns 1 with a clear message on failure."""
    import soundfile

    try:
        options = SynthesisOptions(
            seed=args.seed,
            language=args.language,
            top_k=args.top_k,
            top_p=args.top_p,
            temperature=args.temperature,
            repetition_penalty=args.repetition_penalty,
            speed=args.speed,
            noise_scale=args.noise_scale,
            max_tokens=args.max_tokens,
        )
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    try:
        chunks, rate_hz = _synthesize(args, options)
    except (EngineError, OSError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    audio = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)
    soundfile.write(str(args.output), audio, rate_hz, subtype="PCM_16")
    print(f"wrote {args.output}: {audio.size / rate_hz:.2f} s at {rate_hz} Hz")
    return 0


def _synthesize(args: argparse.Namespace, options: SynthesisOptions) -> tuple[list[Any], int]:
    from ..engine.watermark import WatermarkStream, load_or_create_key
    from ..voices.pronunciation_file import PronunciationFile

    dictionary = PronunciationFile(pronunciations_path(args.data_dir, args.pronunciations))
    if args.model is None:
        from ..voices.folder_library import open_library

        library = open_library(args.data_dir, max_loaded_models=1, threads=args.threads or 1)
        pack = library.resolve(args.voice)
        options = replace(options, pronunciations=dictionary.for_voice(pack.id) or None)
        chunks = [c.samples for c in library.synthesize(pack, None, args.text, options, threading.Event())]
        return chunks, library.sample_rate_hz(pack)  # the library has watermarked them

    from ..engine.gpt_sovits.engine import GptSoVitsEngine
    from ..engine.gpt_sovits.model import GptSoVitsModel
    from ..engine.gpt_sovits.prompt import build_voice_prompt
    from ..voices.quality import decode_audio

    if args.ref_audio is None:
        raise EngineError("--ref-audio is required with --model")
    model = GptSoVitsModel.load(args.model, precision=args.precision, threads=args.threads or DEFAULT_THREADS)
    clip = decode_audio(args.ref_audio.read_bytes())
    prompt = build_voice_prompt(clip.samples, clip.rate_hz, args.ref_text, args.ref_language, model)
    engine = GptSoVitsEngine(model)
    options = replace(options, pronunciations=dictionary.for_voice(None) or None)
    watermark = WatermarkStream(load_or_create_key(args.data_dir), engine.sample_rate_hz)
    chunks = [watermark.mark(c.samples) for c in engine.synthesize(args.text, prompt, options, threading.Event())]
    return chunks, engine.sample_rate_hz
