"""The GPT-SoVITS v2 phone symbol table (732 entries), built from its parts.

The model's text embedding has one row per symbol, so the order is part of the model format. Upstream
(`GPT_SoVITS/text/symbols2.py`) builds it as: the sorted set of pad + Mandarin initials + Mandarin finals
with tones 1-5 + Japanese phones + punctuation + ARPAbet (322 entries, the v1 table), then the Japanese
pitch marks "[" and "]", then the sorted Korean jamo, then the sorted Cantonese jyutping parts. We build
the same list from the phonetic inventories below; `SYMBOL_TABLE_SHA256` pins the result.
"""

from __future__ import annotations

import hashlib
from typing import Final

SYMBOL_TABLE_ID: Final = "gpt-sovits-v2-732"
"""Equals `engine.gpt_sovits.manifest.SYMBOL_TABLE_V2`; a model folder names the table it was trained on."""

PAD: Final = "_"
PUNCTUATION: Final = ("!", "?", "…", ",", ".", "-")
"""The only punctuation the models know; every other mark is mapped onto these or dropped."""
PAUSE_SYMBOLS: Final = ("SP", "SP2", "SP3")
UNKNOWN: Final = "UNK"

MANDARIN_INITIALS: Final = (
    "b", "p", "m", "f", "d", "t", "n", "l", "g", "k", "h", "j", "q", "x", "zh", "ch", "sh", "r", "z",
    "c", "s", "y", "w",
    # Pseudo-initials of zero-initial syllables (a -> AA a, e/er -> EE, o -> OO).
    "AA", "EE", "OO",
)
# opencpop-strict finals: "i0" after z/c/s, "ir" after zh/ch/sh/r, "E"/"En" in ye/yan, "v" for ü.
MANDARIN_FINALS: Final = (
    "a", "ai", "an", "ang", "ao", "e", "ei", "en", "eng", "er", "o", "ong", "ou", "i", "i0", "ir", "ia",
    "ian", "iang", "iao", "ie", "in", "ing", "iong", "iu", "u", "ua", "uai", "uan", "uang", "ui", "un",
    "uo", "v", "van", "ve", "vn", "E", "En",
)
MANDARIN_TONES: Final = "12345"
"""Tone 5 is the neutral tone."""

_JAPANESE_PHONES: Final = (
    "I N U a b by ch cl d dy e f g gy h hy i j k ky m my n ny o p py r ry s sh t ts u v w y z"
)
_ARPABET_VOWELS: Final = "AA AE AH AO AW AY EH ER EY IH IY OW OY UH UW"
_ARPABET_CONSONANTS: Final = "B CH D DH F G HH JH K L M N NG P R S SH T TH V W Y Z ZH"
_JAPANESE_PITCH_MARKS: Final = ("[", "]")
# Korean: the 19 consonant jamo, 8 vowel jamo, and two markers upstream uses ("空" space, "停" pause).
_KOREAN_SYMBOLS: Final = "ㄱㄴㄷㄹㅁㅂㅅㅇㅈㅊㅋㅌㅍㅎㄲㄸㅃㅆㅉㅏㅓㅗㅜㅡㅣㅐㅔ空停"
# Cantonese (jyutping parts, each prefixed "Y"): the 19 initials, the finals that carry tones 1-6, and
# a few finals upstream also lists without a tone.
_YUE_INITIALS: Final = "b p m f d t n l g k ng h gw kw w z c s j"
_YUE_TONED_FINALS: Final = (
    "a aa aai aak aam aan aang aap aat aau ai ak am an ang ap at au e ei ek eng eoi eon eot g "
    "i ik im in ing ip it iu k m n o oe oek oeng oi ok on ong ot ou p t u ui uk un ung ut yu yun yut"
)
_YUE_TONELESS_FINALS: Final = "a aa ai ak au e o oi ok on ou uk"
_YUE_TONES: Final = "123456"


def _base_symbols() -> list[str]:
    """The 322-entry v1 table: a sorted set of every inventory (duplicates such as "sh" count once)."""
    symbols = {PAD, *PUNCTUATION, *PAUSE_SYMBOLS, UNKNOWN}
    symbols.update(MANDARIN_INITIALS)
    symbols.update(final + tone for final in MANDARIN_FINALS for tone in MANDARIN_TONES)
    symbols.update(_JAPANESE_PHONES.split())
    symbols.update(vowel + stress for vowel in _ARPABET_VOWELS.split() for stress in "012")
    # CMUdict-derived lexicons also contain two unstressed vowels without a digit.
    symbols.update(("ER", "IH"))
    symbols.update(_ARPABET_CONSONANTS.split())
    return sorted(symbols)


def _cantonese_symbols() -> list[str]:
    parts = set(_YUE_INITIALS.split()) | set(_YUE_TONELESS_FINALS.split())
    parts.update(final + tone for final in _YUE_TONED_FINALS.split() for tone in _YUE_TONES)
    return sorted("Y" + part for part in parts)


def _build_table() -> tuple[str, ...]:
    table = _base_symbols() + list(_JAPANESE_PITCH_MARKS) + sorted(_KOREAN_SYMBOLS) + _cantonese_symbols()
    return tuple(table)


SYMBOLS: Final[tuple[str, ...]] = _build_table()
"""All 732 symbols; a symbol's index is its id."""
SYMBOL_TO_ID: Final[dict[str, int]] = {symbol: index for index, symbol in enumerate(SYMBOLS)}
SYMBOL_TABLE_SHA256: Final = "0771f6cd6f6201e8c2b0de921dc69cc04caf3f346c599d4a41413967d5674da7"
"""sha256 of the symbols joined with "\\n" (UTF-8); equal to upstream's `symbols2.symbols`."""


def symbol_table_sha256(symbols: tuple[str, ...] = SYMBOLS) -> str:
    """Hex sha256 of a symbol table joined with newlines (how `SYMBOL_TABLE_SHA256` was computed)."""
    return hashlib.sha256("\n".join(symbols).encode("utf-8")).hexdigest()
