"""Polyphones settled by context, where pypinyin's phrase tables give a word's usual reading.

Two kinds, applied to a word's reading before tone sandhi:

* collocations (`data/zh_collocations.txt`): character sequences matched anywhere in a clause, across
  the segmenter's word boundaries (空调调小 tiao2, 还书 huan2, 看孩子 kan1, 系鞋带 ji4);
* rules that look at the neighbouring words (`settle`): a final 子 that is not the noun suffix keeps
  zi3 (原子, 孔子, 男子汉); 得 after a pronoun is dei3 (他得去), or de2 before 了 (我得了感冒); 还 ending a
  clause is huan2 (什么时候还); 行 after a numeral is the measure word hang2 (这一行, 两行); 调 before 到
  and a number is tiao2 (调到二十六度); 分子 alone is the molecule fen1 zi3.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Final

from .zh_word_lists import zh_word_lists

KEEP: Final = "_"
"""In the collocation table: keep this character's reading (and let no later collocation change it)."""
CLAUSE_END: Final = "$"
_NUMERAL_CHARS: Final = "零一二三四五六七八九十百千万两几"
_PRONOUNS: Final = frozenset(("我", "你", "他", "她", "它", "您", "我们", "你们", "他们", "她们", "咱们", "大家", "谁"))
_DEI_WORDS: Final = frozenset(("得去", "得走"))
_HANG_NOT_BEFORE: Final = "人动走驶程李为"  # 一行人 yi1 xing2 ren2: a party of people, not a row


@dataclass(frozen=True, slots=True)
class Collocations:
    """The collocation table: characters -> readings (None keeps the table's reading)."""

    entries: Mapping[str, tuple[str | None, ...]]
    at_end: Mapping[str, tuple[str | None, ...]]
    """Entries that match only at the end of a clause."""
    longest: int


def parse_collocations(text: str) -> Collocations:
    """Lines of "characters<TAB>reading per character"; "#" starts a comment line."""
    entries: dict[str, tuple[str | None, ...]] = {}
    at_end: dict[str, tuple[str | None, ...]] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        chars, _, readings_text = line.partition("\t")
        readings = tuple(None if r == KEEP else r for r in readings_text.split())
        target = at_end if chars.endswith(CLAUSE_END) else entries
        chars = chars.removesuffix(CLAUSE_END)
        if len(readings) != len(chars):
            raise ValueError(f"zh_collocations.txt line {number}: {len(readings)} readings for {chars!r}")
        target[chars] = readings
    longest = max((len(chars) for chars in (*entries, *at_end)), default=0)
    return Collocations(entries, at_end, longest)


@functools.cache
def collocations() -> Collocations:
    """The packaged table (cached)."""
    text = resources.files(__package__).joinpath("data", "zh_collocations.txt").read_text(encoding="utf-8")
    return parse_collocations(text)


def clause_readings(clause: str, table: Collocations | None = None) -> dict[int, str]:
    """Position in `clause` -> reading, from the collocations found in it."""
    table = table or collocations()
    fixed: dict[int, str] = {}
    claimed: set[int] = set()
    for start in range(len(clause)):
        for length in range(min(table.longest, len(clause) - start), 0, -1):
            chars = clause[start:start + length]
            readings = table.entries.get(chars)
            if readings is None and start + length == len(clause):
                readings = table.at_end.get(chars)
            if readings is None:
                continue
            # A match claims all its characters, "_" ones too: 声调 (listed as _ _) keeps 调高 tiao2 out of 声调高.
            for offset, reading in enumerate(readings):
                if start + offset not in claimed and reading is not None:
                    fixed[start + offset] = reading
            claimed.update(range(start, start + length))
            break
    return fixed


@dataclass(frozen=True, slots=True)
class Neighbours:
    """The words around the one being read, within its clause."""

    previous: str = ""
    previous_pos: str = ""
    following: str = ""
    rest: str = ""
    """The clause after the word."""
    clause_ends: bool = False
    """Nothing but punctuation follows the word in its clause."""


def _zi(word: str, syllables: list[str]) -> list[int]:
    settled: list[int] = []
    lists = zh_word_lists()
    for index, char in enumerate(word):
        if char != "子" or syllables[index] != "zi5":
            continue
        # pypinyin's lone 子 is the neutral suffix; inside a word, or in a listed word, it is zi3.
        if index < len(word) - 1 or word in lists.not_neutral_tone or word[-2:] in lists.not_neutral_tone:
            syllables[index] = "zi3"
            settled.append(index)
    return settled


def _hang(word: str, syllables: list[str], around: Neighbours) -> list[int]:
    settled: list[int] = []
    for index, char in enumerate(word):
        before = word[index - 1] if index else around.previous[-1:]
        after = word[index + 1:index + 2] or around.following[:1]
        after_ok = not after or after not in _HANG_NOT_BEFORE
        if char == "行" and syllables[index] == "xing2" and before and before in _NUMERAL_CHARS and after_ok:
            syllables[index] = "hang2"
            settled.append(index)
    return settled


def settle(word: str, syllables: list[str], around: Neighbours, from_phrase: bool) -> tuple[str, list[int]] | None:
    """Apply the context rules to `syllables` in place: the rule's name and the syllables it decided.

    `from_phrase` says the reading came from pypinyin's phrase table, which the 得 rule trusts.
    """
    if "子" in word and (settled := _zi(word, syllables)):
        return "polyphone rule (子)", settled
    if word == "分子" and around.previous_pos != "n":
        syllables[:] = ["fen1", "zi3"]
        return "polyphone rule (分子)", [0, 1]
    # Only a lone 得 (or 得去/得走, which jieba joins): 得到, 得分 are words of their own.
    if (word == "得" or word in _DEI_WORDS) and not from_phrase and around.previous in _PRONOUNS:
        after = word[1:2] or around.following[:1]
        if after:
            syllables[0] = "de2" if after == "了" else "dei3"
            return "polyphone rule (得)", [0]
    if word == "还" and around.clause_ends:
        syllables[0] = "huan2"
        return "polyphone rule (还)", [0]
    if "行" in word and (settled := _hang(word, syllables, around)):
        return "polyphone rule (行)", settled
    if word == "调" and around.rest.startswith("到") and around.rest[1:2] in tuple(_NUMERAL_CHARS):
        syllables[0] = "tiao2"
        return "polyphone rule (调)", [0]
    return None
