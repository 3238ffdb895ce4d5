"""Numbers that are codes, read digit by digit with 1 as 幺, recognized by the words around them.

`normalize_zh` reads a bare integer as a quantity (150 -> 一百五十). A native reader says these digit
by digit instead:

* a number after a word that names a code: 电话 110, 号码是 8021, 验证码 6381, 分机 ..., 房间号 ...;
* a service number after a dialling verb: 打120, 拨打12315, 呼叫95588 (three-digit numbers from 1,
  five-digit ones from 1 or 95/96), unless a measure word follows (打100分 is a score);
* a room number: 301房间, 1205室.
"""

from __future__ import annotations

import re
from typing import Final

from .zh_numbers import read_digits

_CODE_WORDS: Final = (
    "电话号码|电话|号码|手机号|分机号|分机|验证码|密码|编号|工号|尾号|房间号|房号|账号|卡号|单号|门牌号|邮编|取件码|车牌号"
)
_RE_AFTER_CODE_WORD: Final = re.compile(rf"((?:{_CODE_WORDS})(?:是|为|:|：)?\s*)(\d{{3,}})(?![\d.])")
_RE_DIALLED: Final = re.compile(
    r"((?:拨打|拨|打|呼叫|致电))(1\d\d|1\d{4}|9[56]\d{3})(?![\d.])(?!个|块|元|分|字|次|人|年|米|斤|岁|页|号|折|天)"
)
_RE_ROOM: Final = re.compile(r"(?<![\d.])(\d{3,4})(?=房间|室|号房)")


def _digits(match: re.Match[str]) -> str:
    return match.group(1) + read_digits(match.group(2), one_as_yao=True)


def replace_codes(text: str) -> str:
    """Codes recognized by context -> digits as Chinese characters (1 as 幺); the rest unchanged."""
    text = _RE_AFTER_CODE_WORD.sub(_digits, text)
    text = _RE_DIALLED.sub(_digits, text)
    return _RE_ROOM.sub(lambda m: read_digits(m.group(1), one_as_yao=True), text)
