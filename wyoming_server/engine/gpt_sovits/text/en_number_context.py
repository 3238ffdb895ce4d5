"""How a bare number is read, decided by the words around it: year, count, room or house number, phone
number, score.

* A four-digit number from 1000 to 2999 is a year ("in 1984", "a 2019 model", "1984 is a novel")
  unless a plural noun or a unit follows ("1250 users", "1500 people", "1500 kg"); written with a
  thousands comma (1,250) it is never a year. Every other number is a count (`normalize_en`).
* After room, suite, flight, bus, gate, box... and before a street name, three- and four-digit numbers
  are read in pairs: "Room 1101" -> "eleven oh one", "1600 Pennsylvania Avenue" -> "sixteen hundred".
* After call, phone, dial, text...: a phone number is read digit by digit in its written groups,
  including groups separated by spaces ("Call 020 7946 0958"), and a three-digit one too (dial 911).
* After ratio, odds, scale, score, won, lost...: "1:10" is one to ten, not ten past one.
"""

from __future__ import annotations

import re
from typing import Final

from . import en_numbers
from .en_abbreviations import MONTHS
from .en_units import UNITS

_STRONG_YEAR_CUES: Final = frozenset(
    {"since", "until", "till", "year", "born", "during", "copyright", "circa", "established", "founded",
     "built", "vintage", "class", "summer", "winter", "spring", "autumn", "christmas", "easter", "mid",
     "early", "late", "ad", "bc"}
    | {month.lower() for month in MONTHS}
)
_IRREGULAR_PLURALS: Final = frozenset(
    {"people", "children", "men", "women", "feet", "teeth", "mice", "geese", "sheep", "fish", "deer",
     "staff", "cattle", "police", "data", "media", "persons", "folks"}
)
# Words ending in -s that follow a year as its verb or a function word ("2024 was", "1984 is").
_NOT_PLURAL_NOUNS: Final = frozenset(
    {"is", "was", "has", "does", "goes", "says", "looks", "seems", "sees", "marks", "brings", "begins",
     "starts", "ends", "comes", "remains", "becomes", "feels", "promises", "means", "makes", "takes",
     "gives", "shows", "gets", "saw", "its", "his", "hers", "this", "thus", "as", "us", "plus", "versus",
     "always", "perhaps", "whereas", "besides", "towards", "afterwards", "sometimes", "less", "across",
     "unless", "yes", "bus", "gas"}
)
_RE_YEAR_CANDIDATE: Final = re.compile(r"(?<![\w.,$£€¥￥#:/'@])([12]\d{3})(?![\w]|[.,:]\d|%|°)", re.ASCII)
_RE_WORD_BEFORE: Final = re.compile(r"([A-Za-z]+)\W*$")
_RE_WORD_AFTER: Final = re.compile(r"\s*([^\s.,;:!?]+)")
_PAIR_CUES: Final = (
    "room|rm|suite|ste|apartment|apt|flat|unit|flight|gate|bus|route|highway|hwy|box|platform|building"
    "|bldg|terminal|pier|track|ward"
)
# An airline's code may stand between the cue and the number: "Flight UA 1234".
_RE_PAIR_CUE: Final = re.compile(
    rf"\b({_PAIR_CUES})(\s+(?-i:[A-Z]{{2}}\s?)?#?)(\d{{3,4}})(?=[A-Za-z]?\b)(?![.,:]\d)", re.IGNORECASE
)
_STREET_WORDS: Final = (
    "Street|Avenue|Road|Drive|Lane|Boulevard|Court|Place|Way|Terrace|Parkway|Square|Crescent|Close|Row"
    "|Walk|Gardens|Highway"
)
_RE_HOUSE_NUMBER: Final = re.compile(
    rf"(?<![\w.,$£€#-])(\d{{3,4}})([A-Za-z]?)(?=\s+(?:(?:[A-Z][a-z]+|\d+(?:st|nd|rd|th))\s+){{1,3}}"
    rf"(?:{_STREET_WORDS})\b)"
)
_PHONE_CUES: Final = r"call|phone|dial|ring|text|tel|fax|mobile|cell|whatsapp"
_RE_CUED_PHONE: Final = re.compile(
    rf"\b({_PHONE_CUES})\b([^\d\n]{{0,12}}?)(\+?\d[\d -]{{5,}}\d)(?![\d:.,]\d|%)", re.IGNORECASE
)
_RE_SHORT_PHONE: Final = re.compile(
    r"\b(call|dial|ring)(\s+)(\d{3})(?![\d:.,]\d|\s?%|\s?[AaPp]\.?[Mm]\b)", re.IGNORECASE
)
_RATIO_CUES: Final = "ratio|ratios|odds|scale|score|scored|won|win|wins|lost|lose|beat|drew|mix|mixed|aspect|led|leads"
_RE_CUED_RATIO: Final = re.compile(rf"\b({_RATIO_CUES})\b([^\d\n]{{0,20}}?)(\d+):(\d+)(?![\d:])", re.IGNORECASE)
_RE_RATIO: Final = re.compile(r"(?<![\d:])(\d+):(\d+)(?![\d:])", re.ASCII)


def _is_plural_noun(word: str) -> bool:
    if word in _IRREGULAR_PLURALS:
        return True
    return (
        word.isalpha() and word.islower() and word.endswith("s") and not word.endswith(("ss", "us", "is"))
        and word not in _NOT_PLURAL_NOUNS
    )


def _is_year(match: re.Match[str]) -> bool:
    before = match.string[max(0, match.start() - 30) : match.start()]
    if before.endswith("-") and not before[-2:-1].isdigit():
        return False  # a minus sign
    previous = _RE_WORD_BEFORE.search(before)
    if previous is not None and previous.group(1).lower() in _STRONG_YEAR_CUES:
        return True
    following = _RE_WORD_AFTER.match(match.string, match.end())
    next_word = following.group(1) if following else ""
    return not (_is_plural_noun(next_word) or next_word in UNITS or next_word in ("in", "in."))


def _replace_year_candidate(match: re.Match[str]) -> str:
    return en_numbers.year(int(match.group(1))) if _is_year(match) else match.group(0)


def _replace_cued_phone(match: re.Match[str]) -> str:
    cue, gap, number = match.groups()
    groups = [group for group in re.split(r"[ -]+", number) if group]
    spoken = ", ".join(("plus " if group.startswith("+") else "") + en_numbers.digits(group) for group in groups)
    return f"{cue}{gap}{spoken}"


def _ratio_words(first: str, second: str) -> str:
    return f"{en_numbers.count(first)} to {en_numbers.count(second)}"


def verbalize_numbers_in_context(text: str) -> str:
    """Phone numbers, room and house numbers and scores with a cue word before them -> words."""
    text = _RE_CUED_PHONE.sub(_replace_cued_phone, text)
    text = _RE_SHORT_PHONE.sub(lambda m: m.group(1) + m.group(2) + en_numbers.digits(m.group(3)), text)
    text = _RE_PAIR_CUE.sub(
        lambda m: m.group(1) + m.group(2).rstrip() + " " + en_numbers.in_pairs(int(m.group(3))) + " ", text
    )
    text = _RE_HOUSE_NUMBER.sub(
        lambda m: en_numbers.in_pairs(int(m.group(1))) + (" " + m.group(2).upper() if m.group(2) else ""), text
    )
    return _RE_CUED_RATIO.sub(lambda m: m.group(1) + m.group(2) + _ratio_words(m.group(3), m.group(4)), text)


def verbalize_years(text: str) -> str:
    """Four-digit numbers that read as years -> words (see the module doc); counts stay digits."""
    return _RE_YEAR_CANDIDATE.sub(_replace_year_candidate, text)


def verbalize_ratios(text: str) -> str:
    """"1:4" -> "one to four"; run after the clock times, so what is left is not a time."""
    return _RE_RATIO.sub(lambda m: _ratio_words(m.group(1), m.group(2)), text)
