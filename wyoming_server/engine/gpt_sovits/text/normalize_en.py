"""English text normalization: numbers, money, times, units and abbreviations into words.

Follows upstream GPT-SoVITS `en_normalization/expend.py` (ordinals, comma numbers, times, units, £/$,
decimals, fractions, years, `%`, `i.e.`/`e.g.`) with the differences marked "Upstream:" below. The result
keeps letter case (the G2P spells all-caps acronyms) and only the characters `A-Z a-z ' - , . ! ? …` and
spaces. `en_numbers` supplies the number words (inflect's words, without importing inflect).

Context decides what upstream reads one way: web addresses (`en_web`), abbreviations
(`en_abbreviations`), Roman numerals (`en_roman`), dates, decades and times (`en_dates`), years, room
and phone numbers and scores (`en_number_context`), units (`en_units`). Upstream reads every number
from 1001 to 2999 as a year; here only those in a year's context are (see docs/text-frontend-en.md).
"""

from __future__ import annotations

import logging
import re
import unicodedata
from typing import Final

from . import en_numbers
from .en_abbreviations import expand_abbreviations
from .en_dates import verbalize_dates
from .en_number_context import verbalize_numbers_in_context, verbalize_ratios, verbalize_years
from .en_roman import verbalize_roman_numerals
from .en_units import verbalize_units
from .en_web import verbalize_web_addresses

_LOGGER = logging.getLogger(__name__)

_CHAR_MAP: Final = {
    "’": "'", "‘": "'", "`": "'", "“": "", "”": "", '"': "", "。": ".", "！": "!", "？": "?", "，": ",",
    "；": ",", ";": ",", "：": ",", ":": ",", "、": ",", "—": ", ", "–": ", ", "～": " ", "~": " ",
    "&": " and ", "@": " at ", "+": " plus ", "=": " equals ", "×": " times ", "÷": " divided by ",
    "%": " percent", "/": " ", "(": ", ", ")": ", ", "[": ", ", "]": ", ",
}
# Letters NFD does not decompose, so that names keep them (Łukasz, Søren, Ærø): their usual spelling.
_LATIN_LETTERS: Final = str.maketrans(
    {"ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "æ": "ae", "Æ": "Ae", "œ": "oe", "Œ": "Oe", "ß": "ss",
     "đ": "d", "Đ": "D", "ð": "d", "Ð": "D", "þ": "th", "Þ": "Th", "ı": "i", "ħ": "h", "Ħ": "H",
     "ŋ": "ng", "Ŋ": "Ng", "ŧ": "t", "Ŧ": "T", "ŀ": "l", "Ŀ": "L", "\u2212": "-"}
)
_ABBREVIATIONS: Final = (
    (re.compile(r"\bi\.e\.", re.IGNORECASE), "that is"),
    (re.compile(r"\be\.g\.", re.IGNORECASE), "for example"),
    (re.compile(r"\betc\.(?=\s*$|\s+[A-Z])", re.IGNORECASE), "et cetera."),
    (re.compile(r"\betc\.", re.IGNORECASE), "et cetera"),
    (re.compile(r"\bvs\.?(?=\s)", re.IGNORECASE), "versus"),
    (re.compile(r"\ba\.k\.a\.", re.IGNORECASE), "also known as"),
    (re.compile(r"#(?=\d)"), "number "),
)
_CURRENCIES: Final = {
    "$": ("dollar", "dollars", "cent", "cents"), "£": ("pound", "pounds", "penny", "pence"),
    "€": ("euro", "euros", "cent", "cents"), "¥": ("yuan", "yuan", "fen", "fen"),
    "￥": ("yuan", "yuan", "fen", "fen"),
}
_DOLLAR_COUNTRIES: Final = {
    "US": "U S", "A": "Australian", "AU": "Australian", "C": "Canadian", "CA": "Canadian",
    "NZ": "New Zealand", "HK": "Hong Kong", "S": "Singapore",
}
_NUM: Final = r"\d+(?:\.\d+)?"
_AMOUNT: Final = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
MAX_NUMBER_DIGITS: Final = 15
"""Longer digit strings are read digit by digit."""
_DIGIT_WORDS: Final = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")

_RE_LIST_NUMBER: Final = re.compile(r"^(\s*)(\d+)\.\s", re.MULTILINE | re.ASCII)
_RE_THOUSANDS: Final = re.compile(r"(?<![\d.])\d{1,3}(?:,\d{3})+(?![\d])", re.ASCII)
_RE_TIME: Final = re.compile(
    r"(?<![\d:])([01]?\d|2[0-3]):([0-5]\d)(?::[0-5]\d)?(?!\d)(?:\s*([AaPp])\.?\s?[Mm]\b\.?)?", re.ASCII
)
_RE_MONEY: Final = re.compile(
    rf"(?:\b({'|'.join(_DOLLAR_COUNTRIES)})(?=\$))?([$£€¥￥])\s?({_AMOUNT})"
    r"(?:\s?(thousand|million|billion|trillion|[KMBkmb])\b)?",
    re.ASCII,
)
# "$5-10" is five to ten dollars: the symbol moves to the second amount, which names the unit.
_RE_MONEY_RANGE: Final = re.compile(rf"([$£€¥￥])\s?({_AMOUNT})\s?[-–]\s?(?=([$£€¥￥])?\d)", re.ASCII)
_RE_NEGATIVE_MONEY: Final = re.compile(r"(?<![\w.])-(?=[$£€¥￥]\d)", re.ASCII)
_RE_PENCE: Final = re.compile(r"(?<![\d.,])(\d{1,2})p\b", re.ASCII)
_RE_PERCENT: Final = re.compile(rf"({_NUM})\s?%", re.ASCII)
_RE_ORDINAL: Final = re.compile(r"\b(\d+)(st|nd|rd|th)\b", re.ASCII | re.IGNORECASE)
_RE_DOTTED_ACRONYM: Final = re.compile(r"\b((?:[A-Za-z]\.){2,})(?=\W|$)", re.ASCII)
_RE_LETTER_DIGIT: Final = re.compile(r"(?<=[A-Za-z])(?=\d)|(?<=\d)(?=[A-Za-z])", re.ASCII)
_RE_PHONE: Final = re.compile(
    r"(?<![\d-])(?:(\+?1)[-. ])?(?:\(?(\d{3})\)?[-. ])?(\d{3})[-.](\d{4})(?![\d-])", re.ASCII
)
_RE_VERSION: Final = re.compile(r"(?<![\d.])\d+(?:\.\d+){2,}(?!\d|\.\d)", re.ASCII)
_RE_NEGATIVE: Final = re.compile(r"(?<![\w.])-(?=\d)", re.ASCII)
_RE_RANGE: Final = re.compile(r"(?<=\d)\s?[-–]\s?(?=\d)", re.ASCII)
_RE_FRACTION: Final = re.compile(r"(?<![\d/])(\d+)/(\d+)(?![\d/])", re.ASCII)
# A full stop may follow ("about 3.14."); a second decimal point may not (that is a version).
_RE_DECIMAL: Final = re.compile(r"(?<![\d.])(\d*)\.(\d+)(?!\d|\.\d)", re.ASCII)
_RE_SPACED_SLASH: Final = re.compile(r"\s/\s")
_RE_ONLY_SPACE: Final = re.compile(r"\s*$")
_RE_INTEGER: Final = re.compile(r"\d+", re.ASCII)
# Everything a rule below reads: ASCII, Latin letters with diacritics, money, degree and CJK marks.
_RE_UNREADABLE: Final = re.compile(r"[^\x20-\x7e\n\u00c0-\u024f£€¥￥°℃…—–“”‘’。，！？；：、～×÷]+")
_RE_DISALLOWED: Final = re.compile(r"[^A-Za-z'.,?!…\- ]+")
_RE_SPACE_BEFORE_PUNCT: Final = re.compile(r"\s+(?=[,.?!…])")
_RE_PUNCTUATION_RUN: Final = re.compile(r"([!?…,.\-])(?:\s*[!?…,.\-])+")


def number_words(number: int) -> str:
    """Cardinal words without commas: 12345 -> "twelve thousand three hundred forty-five"."""
    if number >= 10**MAX_NUMBER_DIGITS:
        return _read_digits(str(number))
    return en_numbers.cardinal(number)


def _digits_value(digits: str) -> int | None:
    """The value of a digit string, or None when it is too long to read as one number."""
    stripped = digits.lstrip("0") or "0"
    return int(stripped) if len(stripped) <= MAX_NUMBER_DIGITS else None


def cardinal_text(digits: str) -> str:
    """A digit string as words; longer than `MAX_NUMBER_DIGITS` digits it is read digit by digit."""
    value = _digits_value(digits)
    return _read_digits(digits) if value is None else number_words(value)


def _read_digits(digits: str) -> str:
    return " ".join(_DIGIT_WORDS[int(d)] for d in digits if d in "0123456789")


def _replace_version(match: re.Match[str]) -> str:
    return " point ".join(cardinal_text(part) for part in match.group(0).split("."))


def _replace_phone(match: re.Match[str]) -> str:
    # Phone numbers are read digit by digit, with a pause between the written groups.
    return ", ".join(_read_digits(group) for group in match.groups() if group and group != "+")


def _replace_time(match: re.Match[str]) -> str:
    hour, minute = int(match.group(1)), int(match.group(2))
    marker = match.group(3)
    # Upstream appends "a.m." to every time before noon; only a 24-hour clock reading says so here.
    # "p.m." ending a sentence also ends the sentence.
    period = f" {marker.upper()} M" + ("." if match.group(0).endswith(".") else "") if marker else ""
    if not marker and (hour >= 13 or hour == 0):
        period = " P M" if hour >= 12 else " A M"
    hour_12 = hour - 12 if hour > 12 else (12 if hour == 0 else hour)
    if minute == 0:
        return number_words(hour_12) + (period if period else " o'clock")
    minute_words = ("oh " if minute < 10 else "") + number_words(minute)
    return f"{number_words(hour_12)} {minute_words}{period}"


def _replace_money_range(match: re.Match[str]) -> str:
    symbol, amount, second_symbol = match.groups()
    return f"{symbol}{amount} to " if second_symbol else f"{amount} to {symbol}"


def _replace_money(match: re.Match[str]) -> str:
    country, symbol, amount, scale = match.groups()
    unit, units, sub_unit, sub_units = _CURRENCIES[symbol]
    if country:
        unit, units = f"{_DOLLAR_COUNTRIES[country]} {unit}", f"{_DOLLAR_COUNTRIES[country]} {units}"
    amount = amount.replace(",", "")
    if scale:
        scale_word = {"k": "thousand", "m": "million", "b": "billion"}.get(scale.lower(), scale)
        return f"{amount} {scale_word} {units}"
    whole_text, _, fraction = amount.partition(".")
    whole = _digits_value(whole_text)
    if whole is None or len(fraction) > 2:
        return f"{amount} {units}"
    cents = int(fraction.ljust(2, "0")) if fraction else 0
    parts = []
    # Words, not digits: the rules after this one would read "1234 dollars" again.
    if whole or not cents:
        parts.append(f"{number_words(whole)} {unit if whole == 1 else units}")
    if cents:
        parts.append(f"{number_words(cents)} {sub_unit if cents == 1 else sub_units}")
    return " and ".join(parts)


def _replace_pence(match: re.Match[str]) -> str:
    return f"{match.group(1)} {'penny' if match.group(1) == '1' else 'pence'}"


def _replace_fraction(match: re.Match[str]) -> str:
    numerator, denominator = _digits_value(match.group(1)), _digits_value(match.group(2))
    if numerator is None or denominator is None:
        return f"{cardinal_text(match.group(1))} over {cardinal_text(match.group(2))}"
    if denominator == 0:
        return f"{number_words(numerator)} over zero"
    if denominator == 1:
        return number_words(numerator)
    if denominator == 2:
        return number_words(numerator) + (" half" if numerator == 1 else " halves")
    ordinal = en_numbers.ordinal(number_words(denominator))
    return f"{number_words(numerator)} {ordinal}{'s' if numerator != 1 else ''}"


def _replace_decimal(match: re.Match[str]) -> str:
    integer, fraction = match.groups()
    # ".5" is read as written: "point five".
    return f"{cardinal_text(integer) + ' ' if integer else ''}point {_read_digits(fraction)}"


def _ordinal_words(digits: str) -> str:
    if _digits_value(digits) is None:
        return cardinal_text(digits)
    return en_numbers.ordinal(cardinal_text(digits))


def _replace_ordinal(match: re.Match[str]) -> str:
    return _ordinal_words(match.group(1))


def verbalize_numbers_en(text: str) -> str:
    """Numbers, money, times, units and ordinals -> English words; other text is kept."""
    text = verbalize_numbers_in_context(text)
    text = verbalize_dates(text)
    text = _RE_PHONE.sub(_replace_phone, text)
    text = _RE_NEGATIVE_MONEY.sub("negative ", text)
    text = _RE_MONEY_RANGE.sub(_replace_money_range, text)
    text = _RE_MONEY.sub(_replace_money, text)
    text = _RE_PENCE.sub(_replace_pence, text)
    text = _RE_RANGE.sub(" to ", text)
    # Years before the thousands commas go: a number written 1,250 is a count.
    text = verbalize_years(text)
    text = _RE_THOUSANDS.sub(lambda m: m.group(0).replace(",", ""), text)
    text = _RE_TIME.sub(_replace_time, text)
    text = verbalize_ratios(text)
    text = _RE_PERCENT.sub(r"\1 percent", text)
    text = _RE_ORDINAL.sub(_replace_ordinal, text)
    text = verbalize_units(text)
    text = _RE_VERSION.sub(_replace_version, text)
    text = _RE_NEGATIVE.sub("negative ", text)
    text = _RE_FRACTION.sub(_replace_fraction, text)
    text = _RE_DECIMAL.sub(_replace_decimal, text)
    text = _RE_LETTER_DIGIT.sub(" ", text)
    return _RE_INTEGER.sub(lambda m: cardinal_text(m.group(0)), text)


def strip_accents(text: str) -> str:
    """"café" -> "cafe" (combining marks removed after NFD decomposition)."""
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")


def _drop_unreadable(text: str) -> str:
    dropped = _RE_UNREADABLE.findall(text)
    if dropped:
        _LOGGER.debug("dropped characters English cannot read: %r", "".join(dropped))
    return _RE_UNREADABLE.sub(" ", text)


def _replace_dotted_acronym(match: re.Match[str]) -> str:
    # "U.S." -> "U S"; its last dot is also the full stop when nothing follows ("at 6 a.m.").
    letters = " ".join(match.group(1).upper().split(".")).strip()
    return letters + (". " if _RE_ONLY_SPACE.match(match.string, match.end()) else " ")


def normalize_en(text: str) -> str:
    """English text -> words and `' - , . ! ? …` only, ready for the English G2P.

    Normalizing the result again changes nothing (dropping characters can bring pieces of a pattern
    together, so the rules run until the text is stable), so normalized text gives the same phones.
    """
    normalized = _normalize_once(text)
    for _ in range(3):
        again = _normalize_once(normalized)
        if again == normalized:
            break
        normalized = again
    return normalized


def _normalize_once(text: str) -> str:
    text = re.sub("[™®©]", "", text)
    text = unicodedata.normalize("NFKC", text.replace("…", "...")).replace("...", "…")
    text = text.translate(_LATIN_LETTERS)
    # Drop what no rule reads first, so that no pattern forms across a dropped character later.
    text = _drop_unreadable(text)
    text = _RE_LIST_NUMBER.sub(lambda m: m.group(1) + _ordinal_words(m.group(2)) + ", ", text)
    text = text.replace("\n", ". ")
    text = verbalize_web_addresses(text)
    for pattern, replacement in _ABBREVIATIONS:
        text = pattern.sub(replacement, text)
    text = expand_abbreviations(text)
    text = verbalize_roman_numerals(text)
    text = _RE_SPACED_SLASH.sub(", ", text)
    text = _RE_DOTTED_ACRONYM.sub(_replace_dotted_acronym, text)
    text = verbalize_numbers_en(text)
    text = "".join(_CHAR_MAP.get(ch, ch) for ch in text)
    text = strip_accents(text)
    text = " ".join(_RE_DISALLOWED.sub(" ", text).split())
    text = _RE_SPACE_BEFORE_PUNCT.sub("", text)
    text = _RE_PUNCTUATION_RUN.sub(r"\1", text)
    return text.strip(" ")
