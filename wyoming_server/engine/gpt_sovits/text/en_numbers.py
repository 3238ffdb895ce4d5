"""English cardinal and ordinal number words, as `inflect` writes them (without "and" or commas), and the
other ways a number is read aloud: as a year, in pairs (room 1101), digit by digit, as a decade.

`inflect` did this before, but importing it costs about 18 MB and several seconds (it pulls in
typeguard); these few rules give the same words for every number the normalizer reads
(below 10**15), which a test checks against inflect itself.
"""

from __future__ import annotations

import re
from typing import Final

_ONES: Final = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
    "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
)
_TENS: Final = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_SCALES: Final = ("", " thousand", " million", " billion", " trillion")
LIMIT: Final = 10 ** (3 * len(_SCALES))
"""Numbers from here on have no scale word here (the normalizer reads them digit by digit)."""
# inflect's ordinal endings, matched at the end of the words.
_ORDINAL_ENDINGS: Final = {
    "ty": "tieth", "one": "first", "two": "second", "three": "third", "five": "fifth",
    "eight": "eighth", "nine": "ninth", "twelve": "twelfth",
}
_RE_ORDINAL_ENDING: Final = re.compile(f"({'|'.join(_ORDINAL_ENDINGS)})\\Z")


def _below_hundred(number: int) -> str:
    if number < 20:
        return _ONES[number]
    tens, ones = divmod(number, 10)
    return _TENS[tens] + (f"-{_ONES[ones]}" if ones else "")


def _below_thousand(number: int) -> str:
    hundreds, rest = divmod(number, 100)
    words = [f"{_ONES[hundreds]} hundred"] if hundreds else []
    if rest:
        words.append(_below_hundred(rest))
    return " ".join(words)


def cardinal(number: int) -> str:
    """12345 -> "twelve thousand three hundred forty-five"; 0 <= number < LIMIT (ValueError otherwise)."""
    if not 0 <= number < LIMIT:
        raise ValueError(f"no words for {number} (0 to {LIMIT - 1} only)")
    if number == 0:
        return "zero"
    groups: list[str] = []
    for scale in _SCALES:
        number, group = divmod(number, 1000)
        if group:
            groups.append(_below_thousand(group) + scale)
        if not number:
            break
    return " ".join(reversed(groups))


def ordinal(words: str) -> str:
    """Number words -> ordinal words: "twenty-one" -> "twenty-first", "one hundred" -> "one hundredth"."""
    match = _RE_ORDINAL_ENDING.search(words)
    if match:
        return words[: match.start()] + _ORDINAL_ENDINGS[match.group(1)]
    return words + "th"


DIGIT_WORDS: Final = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
# The last word of a number -> the plural that names a decade or a century (nineties, hundreds).
_RE_LAST_WORD: Final = re.compile(r"([a-z]+)\Z")


def count(digit_string: str) -> str:
    """A digit string as a cardinal; too long to have words (`LIMIT`), digit by digit."""
    value = int(digit_string)
    return cardinal(value) if value < LIMIT else digits(digit_string)


def digits(text: str) -> str:
    """Digit by digit, other characters ignored: "0958" -> "zero nine five eight"."""
    return " ".join(DIGIT_WORDS[int(d)] for d in text if d in "0123456789")


def in_pairs(number: int) -> str:
    """A number read in pairs of digits, as room, flight and house numbers are: 1101 -> "eleven oh one",
    204 -> "two oh four", 1600 -> "sixteen hundred"; below 100 a cardinal, from 10000 digit by digit."""
    if number < 100 or (number < 10000 and number % 1000 == 0):
        return cardinal(number)
    if number >= 10000:
        return digits(str(number))
    high, low = divmod(number, 100)
    if low == 0:
        return cardinal(high) + " hundred"
    return cardinal(high) + " " + ("oh " + cardinal(low) if low < 10 else cardinal(low))


def year(number: int) -> str:
    """A year: 1984 -> "nineteen eighty-four", 1905 -> "nineteen oh five", 2005 -> "two thousand five",
    2024 -> "twenty twenty-four"; outside 1001-2999 (and for 2001-2009) a cardinal."""
    if not 1000 < number < 3000 or 2000 <= number < 2010:
        return cardinal(number)
    return in_pairs(number)


def plural(words: str) -> str:
    """Number words naming a decade or century: "nineteen ninety" -> "nineteen nineties"."""
    match = _RE_LAST_WORD.search(words)
    if match is None:
        return words
    last = match.group(1)
    return words[: match.start()] + (last[:-1] + "ies" if last.endswith("y") else last + "s")
