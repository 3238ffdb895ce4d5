"""English cardinal and ordinal number words, as `inflect` writes them (without "and" or commas).

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
