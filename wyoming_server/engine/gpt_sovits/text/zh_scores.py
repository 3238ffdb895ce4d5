"""Numbers around a colon: a score or ratio (2:0 -> 二比零, 1:1000 -> 一比一千) or a time (8:05).

A colon pair is a score or ratio when it cannot be a clock time (a one-digit right side, a left
side over 24, a right side over 59, more than two digits) or when the clause before it speaks of a
score (比分, 比例, 战成 ...) or a result follows it (获胜, 赢了, 输了 ...) and no time word does
(点, 上午, 开始 ...). Everything else is left to the time rules of `normalize_zh`.
"""

from __future__ import annotations

import re
from typing import Final

from .zh_numbers import read_cardinal

_RE_PAIR: Final = re.compile(r"(?<![\d:.])(\d+):(\d+)(?![\d:]|\.\d)", re.ASCII)
_RE_CLAUSE_START: Final = re.compile(r"[,.!?;，。！？；、\n]")
_SCORE_BEFORE: Final = ("比分", "比例", "比数", "战成", "打成", "比赛结果", "赔率", "分差")
_RESULT_AFTER: Final = (
    "获胜", "取胜", "战胜", "击败", "赢", "输", "胜", "负", "告负", "领先", "落后", "横扫", "逆转", "平",
)
_TIME_AFTER: Final = (
    "开始", "出发", "起床", "到站", "发车", "开门", "关门", "见", "前", "之前", "以前", "后", "以后", "左右",
)


def _clause_before(text: str, start: int) -> str:
    clause_starts = [m.end() for m in _RE_CLAUSE_START.finditer(text, 0, start)]
    return text[clause_starts[-1] if clause_starts else 0:start]


def _is_score(text: str, match: re.Match[str]) -> bool:
    left, right = match.group(1), match.group(2)
    if len(right) != 2 or len(left) > 2 or int(left) > 24 or int(right) > 59:
        return True
    after = text[match.end():match.end() + 4]
    if after.startswith(_TIME_AFTER):
        return False
    before = _clause_before(text, match.start())
    return any(word in before for word in _SCORE_BEFORE) or after.lstrip().startswith(_RESULT_AFTER)


def replace_scores(text: str) -> str:
    """Every colon pair that is a score or ratio -> "<left>比<right>" in Chinese numerals."""
    if ":" not in text:
        return text
    return _RE_PAIR.sub(
        lambda m: f"{read_cardinal(m.group(1))}比{read_cardinal(m.group(2))}" if _is_score(text, m) else m.group(0),
        text,
    )
