"""一 that keeps its own tone yi1 because of the characters around it, across word boundaries.

The word-level rule (`tone_sandhi`) makes 一 yi2 before a fourth tone and yi4 before the others; a
native reader keeps yi1 where 一 is a number rather than "one of something":

* in a number: after another numeral (十一, 二十一点, 万一), unless 百/千/万/亿 follows (一千一百 yi4);
  in digits read one by one (一九九八年, 一二三四) and in decimals (一点五, 一点半);
* as an ordinal: after 第, 周, 期, 拜 (第一, 周一, 星期一), before 楼 or 年级 (一楼, 一年级), and in the
  date 月一日/月一号;
* in contrast idioms 一X二Y (一干二净, 一穷二白, 一清二楚);
* in a score or ratio: 一比三, 三比一 (the normalizer's reading of 1:3 and 3:1).
"""

from __future__ import annotations

from typing import Final

_NUMERALS: Final = "零一二三四五六七八九十百千万亿两"
_DIGITS: Final = "零一二三四五六七八九"
_BIG_UNITS: Final = "百千万亿"
_ORDINAL_BEFORE: Final = "第周期拜"
_ORDINAL_AFTER: Final = ("楼", "年级")
_COUNTED: Final = "次遍回趟个下"


def _keeps_yi1(text: str, index: int) -> bool:
    before = text[index - 1] if index else ""
    after = text[index + 1:index + 2]
    after_two = text[index + 2:index + 3]
    if before and before in _NUMERALS and not (after and after in _BIG_UNITS):
        return True
    if after and after in _DIGITS:
        return True  # digits read one by one: 一九九八, 一二三四
    decimal_follows = after_two and (after_two in _DIGITS or after_two == "半")
    if after == "点" and decimal_follows and text[index + 2:index + 4] != "一点":
        return True  # 一点五, 一点半; not 一点一点 (bit by bit)
    counted = after and after in _COUNTED  # 每周一次 is once a week, not every Monday
    if (before and before in _ORDINAL_BEFORE and (before == "第" or not counted)) or text[index + 1:].startswith(
        _ORDINAL_AFTER
    ):
        return True
    if before == "月" and after in ("日", "号"):
        return True
    if (before == "比" and text[index - 2:index - 1] in tuple(_NUMERALS)) or (
        after == "比" and after_two and after_two in _NUMERALS
    ):
        return True
    return after_two == "二" and bool(after) and after not in _NUMERALS  # 一干二净, not 一百二十


def numeral_yi(text: str, syllables: list[str]) -> list[int]:
    """Positions of `text` (one syllable per character) where 一 goes back to yi1; `syllables` is changed."""
    changed: list[int] = []
    for index, char in enumerate(text):
        if char == "一" and syllables[index] in ("yi2", "yi4") and _keeps_yi1(text, index):
            syllables[index] = "yi1"
            changed.append(index)
    return changed
