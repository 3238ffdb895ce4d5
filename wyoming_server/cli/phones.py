"""`edge-tts-clone phones "text"`: how a text is read, word by word, and why.

Prints the normalized text, then per language segment every word with its reading (tone-numbered
pinyin for Chinese, ARPAbet for English), its phones and where the reading came from: for Chinese
the phrase or character table, a collocation or polyphone rule, or the user dictionary, and the
tone rules that changed it (不, 一, neutral tone, third tone, erhua); for English CMUdict, spelling,
the letter-to-sound fallback, or the user dictionary. Loads no model: only the text frontend.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..settings import DEFAULT_DATA_DIR, PRONUNCIATIONS_FILE, pronunciations_path


def register(subparsers: Any) -> None:
    """Add the `phones` sub-command."""
    parser = subparsers.add_parser(
        "phones",
        help="show how a text is read: normalized text, words, pinyin/ARPAbet, phones and their sources",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("text", help="the text to read")
    parser.add_argument("--language", default="auto", help="zh, en or auto")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="data folder (its pronunciations)")
    parser.add_argument(
        "--pronunciations", type=Path, help=f"pronunciation dictionary (default: <data-dir>/{PRONUNCIATIONS_FILE})"
    )
    parser.add_argument("--voice", help="use this voice's own dictionary entries too")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument("--debug", action="store_true", help="log debug messages")
    parser.set_defaults(func=run)


def _word_line(word: Any, language: str) -> str:
    reading = " ".join(word.reading)
    origin = "; ".join((word.source, *word.changes))
    if language == "en":
        return f"  {word.word:<14} {reading:<28} {origin}"
    return f"  {word.word:<8} {reading:<28} {' '.join(word.phones):<28} {origin}"


def run(args: argparse.Namespace) -> int:
    """Print the explanation; 2 for an unknown language or nothing to say."""
    from ..engine.errors import TextError
    from ..engine.gpt_sovits.text import to_phones
    from ..engine.gpt_sovits.text.explain import explain
    from ..voices.pronunciation_file import PronunciationFile

    # Problems with the dictionary are logged as warnings (stderr) when it is read.
    user = PronunciationFile(pronunciations_path(args.data_dir, args.pronunciations)).for_voice(args.voice)
    try:
        segments = explain(args.text, args.language, user)
        spoken = to_phones(args.text, args.language, user)
    except TextError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.json:
        document = {
            "normalized": spoken.norm_text,
            "segments": [
                {
                    "language": segment.language,
                    "text": segment.norm_text,
                    "words": [
                        {
                            "word": word.word,
                            "reading": list(word.reading),
                            "phones": list(word.phones),
                            "source": word.source,
                            "changes": list(word.changes),
                        }
                        for word in segment.words
                        if not word.is_mark
                    ],
                }
                for segment in segments
            ],
            "phones": list(spoken.symbols),
        }
        print(json.dumps(document, ensure_ascii=False, indent=2))
        return 0
    print(f"normalized: {spoken.norm_text}")
    for segment in segments:
        print(f"[{segment.language}] {segment.norm_text}")
        for word in segment.words:
            if not word.is_mark:
                print(_word_line(word, segment.language))
    print(f"phones ({len(spoken.symbols)}): {' '.join(spoken.symbols)}")
    return 0
