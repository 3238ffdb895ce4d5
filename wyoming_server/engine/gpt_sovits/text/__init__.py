"""Text frontend: text -> sentences -> GPT-SoVITS v2 phone ids, for Mandarin and English.

    sentences = split_sentences(text, "auto")
    phones = to_phones(sentences[0], "auto")      # Phones(segments, symbols, ids)

`to_phones` normalizes by itself, so it takes raw or already normalized text. Chinese segments carry
`word2ph` (phones per character of `norm_text`), which the BERT features need to reach phone level;
English segments have none (their BERT features are zeros). Characters no language can read (emoji,
Cyrillic, kana) are dropped with a DEBUG log; text with nothing to say raises `TextError`. A user's
`Pronunciations` (pronunciations.py) fix the reading of names and brands; `explain` (explain.py) shows
how each word was read.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray

from ...errors import TextError
from .g2p_en import g2p_en, pad_short_english
from .g2p_zh import g2p_zh
from .lang import LANGUAGES, resolve_language, split_languages, text_language
from .normalize_en import normalize_en
from .normalize_zh import clean_hanzi, verbalize_numbers
from .pronunciations import EMPTY, Pronunciations
from .sentences import split_sentences
from .symbols import PUNCTUATION, SYMBOL_TABLE_ID, SYMBOL_TO_ID, SYMBOLS

__all__ = [
    "LANGUAGES",
    "MIN_PHONES",
    "SYMBOLS",
    "SYMBOL_TABLE_ID",
    "SYMBOL_TO_ID",
    "PhoneSegment",
    "Phones",
    "Pronunciations",
    "normalize",
    "resolve_language",
    "split_sentences",
    "to_phones",
]

_LOGGER = logging.getLogger(__name__)

MIN_PHONES: Final = 6
"""Upstream redoes text that gives fewer phones with "." prepended (a short input derails T2S)."""


@dataclass(frozen=True, slots=True)
class PhoneSegment:
    """One language run of a sentence and its phones."""

    language: str
    """"zh" or "en"."""
    norm_text: str
    """Normalized text of this run; for "zh" one character per `word2ph` entry."""
    phones: tuple[str, ...]
    word2ph: tuple[int, ...] | None
    """"zh" only: phones per character of `norm_text` (2 per Hanzi, 1 per mark); sums to len(phones)."""


@dataclass(frozen=True, slots=True)
class Phones:
    """The phones of a sentence, by segment and as model input."""

    segments: tuple[PhoneSegment, ...]
    symbols: tuple[str, ...]
    """All segments' phones in order."""
    ids: NDArray[np.int64]
    """(T,) ids in the v2 symbol table (`SYMBOL_TABLE_ID`)."""

    @property
    def norm_text(self) -> str:
        """The segments' normalized texts joined."""
        return join_segments([(s.language, s.norm_text) for s in self.segments])


def join_segments(runs: list[tuple[str, str]]) -> str:
    text = ""
    for language, run_text in runs:
        if text and language == "en" and not text.endswith(" "):
            text += " " if text[-1].isascii() and text[-1].isalpha() else ""
        text += run_text
    return text


def normalized_runs(text: str, language: str) -> list[tuple[str, str]]:
    """(language, normalized text) per run, empty runs dropped and neighbours of one language joined."""
    if text_language(text, language) == "en":
        normalized = normalize_en(text)
        return [("en", normalized)] if normalized else []
    runs: list[tuple[str, str]] = []
    for run in split_languages(verbalize_numbers(text), "zh"):
        normalized = clean_hanzi(run.text) if run.language == "zh" else normalize_en(run.text)
        if not normalized:
            continue
        if runs and runs[-1][0] == run.language:
            joiner = " " if run.language == "en" else ""
            runs[-1] = (run.language, runs[-1][1] + joiner + normalized)
        else:
            runs.append((run.language, normalized))
    return runs


def normalize(text: str, language: str) -> str:
    """Text -> what the G2P reads: numbers, dates, money and symbols as words, marks unified.

    `language` is "zh", "en" or "auto" (aliases: see `lang.resolve_language`). Chinese text keeps its
    English words (normalized as English); the result gives the same phones as the input.
    """
    resolve_language(language)
    return join_segments(normalized_runs(text, language))


def _phones_once(text: str, language: str, user: Pronunciations) -> list[PhoneSegment]:
    runs = normalized_runs(text, language)
    segments: list[PhoneSegment] = []
    for run_language, norm_text in runs:
        if run_language == "zh":
            phones, word2ph = g2p_zh(norm_text, user)
            segments.append(PhoneSegment("zh", norm_text, tuple(phones), tuple(word2ph)))
            continue
        english = g2p_en(norm_text, user)
        # Upstream pads every short English segment with ","; inside Chinese that puts a pause before
        # a lone letter ("A四纸"), so only a sentence that is all English is padded.
        if len(runs) == 1:
            english = pad_short_english(english)
        segments.append(PhoneSegment("en", norm_text, tuple(english), None))
    return segments


def _speakable(segments: list[PhoneSegment]) -> bool:
    return any(phone not in PUNCTUATION for segment in segments for phone in segment.phones)


def to_phones(text: str, language: str = "auto", pronunciations: Pronunciations | None = None) -> Phones:
    """Text (one sentence, ideally from `split_sentences`) -> phones and their ids.

    `language` is "zh", "en" or "auto"; `pronunciations` are the user's fixed readings. Raises
    `TextError` for an unsupported language or for text with nothing to pronounce.
    """
    resolve_language(language)
    pronunciations = pronunciations or EMPTY
    segments = _phones_once(text, language, pronunciations)
    if not _speakable(segments):
        raise TextError("the text has nothing to pronounce (only marks, symbols or unsupported characters)")
    if sum(len(segment.phones) for segment in segments) < MIN_PHONES:
        # Prepended to the normalized text: on the raw text "." + "8" would read as the decimal .8.
        segments = _phones_once("." + normalize(text, language), language, pronunciations)
    symbols = tuple(phone for segment in segments for phone in segment.phones)
    ids = np.fromiter((SYMBOL_TO_ID[symbol] for symbol in symbols), dtype=np.int64, count=len(symbols))
    _LOGGER.debug("phones (%d): %s", len(symbols), " ".join(symbols))
    return Phones(segments=tuple(segments), symbols=symbols, ids=ids)
