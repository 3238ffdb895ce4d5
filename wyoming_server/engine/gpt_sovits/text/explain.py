"""Why a text is read the way it is: normalized text, and per word its reading, phones and source.

    for segment in explain("乐乐该睡觉了", "auto"):
        segment.norm_text, [(w.word, w.reading, w.source, w.changes) for w in segment.words]

The words come from the same steps `to_phones` takes (`g2p_zh.read_zh`, `g2p_en.g2p_en_words`), so the
phones of an explanation are the phones `to_phones` gives (except the "." `to_phones` prepends to a
very short sentence).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from . import normalized_runs, resolve_language
from .g2p_en import PhoneSource, g2p_en_words
from .g2p_zh import read_zh, syllable_phones
from .normalize_zh import ZH_PUNCTUATION
from .pronunciations import EMPTY, Pronunciations


@dataclass(frozen=True, slots=True)
class WordExplanation:
    """One word (or mark) of a segment."""

    word: str
    reading: tuple[str, ...]
    """zh: one tone-numbered pinyin syllable per character; en: the ARPAbet phones."""
    phones: tuple[str, ...]
    source: str
    """Where the reading came from (user dictionary, phrase table, CMUdict, letter-to-sound ...)."""
    changes: tuple[str, ...] = ()
    """zh: the tone rules that changed the reading (不, 一, neutral tone, third tone, erhua)."""

    @property
    def is_mark(self) -> bool:
        """A punctuation mark, not a word."""
        return self.source == "mark"


@dataclass(frozen=True, slots=True)
class SegmentExplanation:
    """A run of one language after normalization."""

    language: str
    norm_text: str
    words: tuple[WordExplanation, ...]

    @property
    def phones(self) -> tuple[str, ...]:
        """The segment's phones in order."""
        return tuple(phone for word in self.words for phone in word.phones)


def _zh_words(norm_text: str, user: Pronunciations) -> tuple[WordExplanation, ...]:
    words: list[WordExplanation] = []
    for reading in read_zh(norm_text, user):
        phones: list[str] = []
        for char, syllable in zip(reading.word, reading.syllables, strict=True):
            phones.extend([char] if char in ZH_PUNCTUATION else syllable_phones(char, syllable))
        words.append(WordExplanation(reading.word, reading.syllables, tuple(phones), reading.source, reading.changes))
    return tuple(words)


_EN_SOURCE_NAMES: Final[dict[PhoneSource, str]] = {
    "user": "user dictionary",
    "cmudict": "CMUdict",
    "compound": "CMUdict (compound)",
    "spelled": "spelled",
    "letter-to-sound": "letter-to-sound",
    "mark": "mark",
}


def _en_words(norm_text: str, user: Pronunciations) -> tuple[WordExplanation, ...]:
    return tuple(
        WordExplanation(word.word, word.phones, word.phones, _EN_SOURCE_NAMES[word.source])
        for word in g2p_en_words(norm_text, user)
    )


def explain(text: str, language: str = "auto", pronunciations: Pronunciations = EMPTY) -> list[SegmentExplanation]:
    """Every language run of `text` with its words explained; `TextError` for an unknown language."""
    resolve_language(language)
    segments: list[SegmentExplanation] = []
    for run_language, norm_text in normalized_runs(text, language):
        words = _zh_words(norm_text, pronunciations) if run_language == "zh" else _en_words(norm_text, pronunciations)
        segments.append(SegmentExplanation(run_language, norm_text, words))
    return segments
