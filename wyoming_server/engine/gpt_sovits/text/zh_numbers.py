"""Reading Arabic numbers in Mandarin: cardinals, digit strings and decimals.

The readings follow PaddleSpeech's `zh_normalization` (what upstream GPT-SoVITS uses): cardinals in
4-digit sections (万, 亿) with 零 for skipped places and a leading 一十 shortened to 十; decimals as
digits after 点, keeping one trailing zero ("3.50" -> 三点五零); codes read digit by digit with 幺 for 1.
One difference: a leading 2 before 千, 万 or 亿 is 两 (两千), as it is said.
"""

from __future__ import annotations

from typing import Final

DIGIT_CHARS: Final = "零一二三四五六七八九"
_PLACE_UNITS: Final = ("千", "百", "十", "")
MAX_CARDINAL_DIGITS: Final = 16
"""Longer integers are read digit by digit (there is no common unit above 千万亿)."""


def read_digits(digits: str, one_as_yao: bool = False) -> str:
    """"2026" -> 二零二六; with `one_as_yao` 1 is read 幺, as in phone numbers and codes."""
    text = "".join(DIGIT_CHARS[int(d)] for d in digits if d in "0123456789")
    return text.replace("一", "幺") if one_as_yao else text


def _read_section(section: str) -> str:
    """Reading of one non-zero 4-digit section (zero padded), with 零 for inner zero runs."""
    parts: list[str] = []
    pending_zero = False
    for digit, unit in zip(section, _PLACE_UNITS, strict=True):
        if digit == "0":
            pending_zero = bool(parts)
            continue
        if pending_zero:
            parts.append("零")
            pending_zero = False
        parts.append(DIGIT_CHARS[int(digit)] + unit)
    return "".join(parts)


def _read_integer(digits: str) -> str:
    """Reading of an integer without leading zeros; the high part of 万/亿 recurses."""
    if len(digits) <= 4:
        return _read_section(digits.zfill(4))
    unit_digits = 8 if len(digits) > 8 else 4
    high, low = digits[:-unit_digits], digits[-unit_digits:]
    text = _read_integer(high) + ("亿" if unit_digits == 8 else "万")
    low_stripped = low.lstrip("0")
    if low_stripped:
        if len(low_stripped) < unit_digits:
            text += "零"
        text += _read_integer(low_stripped)
    return text


def read_cardinal(digits: str) -> str:
    """"105" -> 一百零五, "100500" -> 十万零五百, "0" -> 零; too long -> digit by digit."""
    stripped = digits.lstrip("0")
    if not stripped:
        return "零"
    if len(stripped) > MAX_CARDINAL_DIGITS:
        return read_digits(stripped)
    text = _read_integer(stripped)
    if text.startswith("一十"):
        text = text[1:]
    elif text.startswith(("二千", "二万", "二亿")):
        text = "两" + text[1:]  # 2000 is 两千 in speech (PaddleSpeech: 二千)
    return text


def read_decimal_digits(fraction: str) -> str:
    """The digits after the point: trailing zeros collapse to one ("50" -> 五零, "500" -> 五零)."""
    if fraction.endswith("0"):
        fraction = fraction.rstrip("0") + "0"
    return read_digits(fraction)


def read_number(number: str) -> str:
    """"12" -> 十二, "3.5" -> 三点五, ".5" -> 零点五, "-2" -> 负二."""
    sign = ""
    if number.startswith("-"):
        sign, number = "负", number[1:]
    integer, _, fraction = number.partition(".")
    text = read_cardinal(integer) if integer else "零"
    if fraction:
        text += "点" + read_decimal_digits(fraction)
    return sign + text
