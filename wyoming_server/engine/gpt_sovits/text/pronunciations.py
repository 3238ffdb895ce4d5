"""A user's pronunciation dictionary: fixed readings for names and brands, in Chinese and English.

The document is a JSON object (docs/text-frontend.md, "Pronunciation dictionary"):

    {
      "zh": {"乐乐": "le4 le4", "蔚来": "wei4 lai2"},
      "en": {"Nguyen": "W IH1 N", "Xiaomi": "SH AW1 M IY1"},
      "voices": {"grandma": {"zh": {"乐乐": "le4 le5"}}}
    }

"zh" maps a word of Hanzi to one tone-numbered pinyin syllable per character (5 is the neutral tone);
"en" maps an English word (letters and apostrophes, any case) to ARPAbet phones of the model's table,
vowels with a stress digit. "voices" holds entries for one voice that override the server-wide ones.
An entry is spoken exactly as written: no tone sandhi or polyphone rule changes it. A bad entry is
reported and skipped; it never stops the others from loading.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from .lang import is_hanzi
from .pinyin_phones import PinyinError, syllable_to_phones

LANGUAGE_KEYS: Final = ("zh", "en")
VOICES_KEY: Final = "voices"
MAX_WORD_CHARS: Final = 32
_RE_ENGLISH_WORD: Final = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)*")
_RE_SYLLABLE: Final = re.compile(r"[a-zü:]+[1-5]")
_ARPABET_VOWELS: Final = frozenset(("AA AE AH AO AW AY EH ER EY IH IY OW OY UH UW").split())  # noqa: SIM905
_ARPABET: Final = frozenset(("B CH D DH F G HH JH K L M N NG P R S SH T TH V W Y Z ZH").split()) | {  # noqa: SIM905
    vowel + stress for vowel in _ARPABET_VOWELS for stress in "012"
}


@dataclass(frozen=True, slots=True)
class Pronunciations:
    """Fixed readings by language; lookups are exact for Chinese and case-insensitive for English."""

    zh: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """(Hanzi word, one pinyin syllable per character)."""
    en: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """(lowercase English word, ARPAbet phones)."""
    _zh: dict[str, tuple[str, ...]] = field(default_factory=dict, compare=False, repr=False)
    _en: dict[str, tuple[str, ...]] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._zh.update(self.zh)
        self._en.update(self.en)

    @classmethod
    def of(
        cls, zh: Mapping[str, tuple[str, ...]] | None = None, en: Mapping[str, tuple[str, ...]] | None = None
    ) -> Pronunciations:
        """From mappings of already valid entries (sorted, so equal contents compare equal)."""
        return cls(
            zh=tuple(sorted((zh or {}).items())),
            en=tuple(sorted((word.lower(), phones) for word, phones in (en or {}).items())),
        )

    def __bool__(self) -> bool:
        return bool(self.zh or self.en)

    @property
    def longest_zh_word(self) -> int:
        """Characters in the longest Chinese entry (0 without any)."""
        return max((len(word) for word, _ in self.zh), default=0)

    def zh_reading(self, word: str) -> tuple[str, ...] | None:
        """The syllables of a Chinese entry, or None."""
        return self._zh.get(word)

    def en_reading(self, word: str) -> tuple[str, ...] | None:
        """The phones of an English entry (any letter case), or None."""
        return self._en.get(word.lower())

    def over(self, base: Pronunciations) -> Pronunciations:
        """These entries, and those of `base` that these do not redefine."""
        return Pronunciations.of({**dict(base.zh), **dict(self.zh)}, {**dict(base.en), **dict(self.en)})

    @property
    def digest(self) -> str:
        """A short hash of the entries: part of a cache key, so a changed entry is synthesized anew."""
        encoded = json.dumps([self.zh, self.en], ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return hashlib.sha256(encoded).hexdigest()[:16]


EMPTY: Final = Pronunciations()


@dataclass(frozen=True, slots=True)
class PronunciationDictionary:
    """A whole document: the server-wide entries and each voice's own."""

    server: Pronunciations = EMPTY
    voices: Mapping[str, Pronunciations] = field(default_factory=dict)

    def for_voice(self, voice_id: str | None) -> Pronunciations:
        """The entries that apply to a voice: its own over the server-wide ones."""
        own = self.voices.get(voice_id) if voice_id is not None else None
        return own.over(self.server) if own else self.server


def zh_entry_problem(word: str, reading: object) -> str | None:
    """Why a Chinese entry is unusable, or None when it is fine."""
    if not word or len(word) > MAX_WORD_CHARS or not all(is_hanzi(char) for char in word):
        return f"zh {word!r}: the word must be 1 to {MAX_WORD_CHARS} Chinese characters"
    if not isinstance(reading, str):
        return f"zh {word!r}: the reading must be a string of pinyin syllables, like \"le4 le4\""
    syllables = reading.lower().split()
    if len(syllables) != len(word):
        return f"zh {word!r}: {len(syllables)} syllables for {len(word)} characters in {reading!r}"
    for syllable in syllables:
        if not _RE_SYLLABLE.fullmatch(syllable):
            return f"zh {word!r}: {syllable!r} is not a pinyin syllable with a tone number 1-5 (5 = neutral)"
        try:
            syllable_to_phones(syllable)
        except PinyinError:
            return f"zh {word!r}: {syllable!r} is not a Mandarin syllable"
    return None


def en_entry_problem(word: str, reading: object) -> str | None:
    """Why an English entry is unusable, or None when it is fine."""
    if not _RE_ENGLISH_WORD.fullmatch(word) or len(word) > MAX_WORD_CHARS:
        return f"en {word!r}: the word must be letters (and apostrophes), one word; write each part of a compound"
    if not isinstance(reading, str) or not reading.split():
        return f"en {word!r}: the reading must be ARPAbet phones separated by spaces, like \"W IH1 N\""
    for phone in reading.upper().split():
        if phone in _ARPABET_VOWELS:
            return f"en {word!r}: the vowel {phone!r} needs a stress digit ({phone}0, {phone}1 or {phone}2)"
        if phone not in _ARPABET:
            return f"en {word!r}: {phone!r} is not an ARPAbet phone"
    return None


def _parse_language(
    language: str, entries: object, where: str, problems: list[str]
) -> dict[str, tuple[str, ...]]:
    if not isinstance(entries, dict):
        problems.append(f"{where}{language}: must be an object of word: reading")
        return {}
    valid: dict[str, tuple[str, ...]] = {}
    check = zh_entry_problem if language == "zh" else en_entry_problem
    for word, reading in entries.items():
        problem = check(word, reading)
        if problem is not None:
            problems.append(where + problem)
            continue
        assert isinstance(reading, str)
        if language == "zh":
            valid[word] = tuple(reading.lower().replace("ü", "v").replace("u:", "v").split())
        else:
            valid[word.lower()] = tuple(reading.upper().split())
    return valid


def _parse_section(section: Mapping[str, object], where: str, problems: list[str]) -> Pronunciations:
    readings = {
        language: _parse_language(language, section[language], where, problems)
        for language in LANGUAGE_KEYS
        if language in section
    }
    return Pronunciations.of(readings.get("zh"), readings.get("en"))


def parse_dictionary(document: object) -> tuple[PronunciationDictionary, list[str]]:
    """A parsed JSON document -> the usable entries and one message per problem (bad entries skipped)."""
    problems: list[str] = []
    if not isinstance(document, dict):
        return PronunciationDictionary(), ["the dictionary must be a JSON object with \"zh\", \"en\" and \"voices\""]
    for key in document:
        if key not in (*LANGUAGE_KEYS, VOICES_KEY):
            problems.append(f"{key!r}: unknown section (expected \"zh\", \"en\" or \"voices\")")
    server = _parse_section(document, "", problems)
    voices: dict[str, Pronunciations] = {}
    sections = document.get(VOICES_KEY, {})
    if not isinstance(sections, dict):
        problems.append("voices: must be an object of voice id: {\"zh\": ..., \"en\": ...}")
        sections = {}
    for voice_id, section in sections.items():
        if not isinstance(section, dict):
            problems.append(f"voices {voice_id!r}: must be an object with \"zh\" and/or \"en\"")
            continue
        voices[voice_id] = _parse_section(section, f"voices {voice_id!r}: ", problems)
    return PronunciationDictionary(server, voices), problems


def parse_dictionary_text(text: str) -> tuple[PronunciationDictionary, list[str]]:
    """JSON text -> entries and problems; text that is not JSON is one problem and no entries."""
    try:
        document = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as err:
        return PronunciationDictionary(), [f"not valid JSON: {err}"]
    return parse_dictionary(document)
