"""Chinese G2P: normalized Chinese text -> opencpop-strict phones of the v2 table and word2ph.

The input is the output of `normalize_zh.clean_hanzi`: Hanzi and the six punctuation marks. Per
clause (text after each mark), as upstream GPT-SoVITS `chinese2.py`:

1. jieba part-of-speech segmentation, then `tone_sandhi.merge_words`;
2. pinyin per word from pypinyin, whose phrase dictionaries settle most polyphones by word (重庆 chong2,
   银行 hang2, 还是 hai2). Upstream v2 runs the G2PW BERT polyphone model here instead, which needs a
   600 MB model and a BERT forward pass per sentence; this is the largest difference from upstream;
3. `tone_sandhi.apply_sandhi`, then erhua: a word-final 儿 takes the tone of the syllable before it
   but stays a syllable of its own (一点儿 ... dian3 er3), except in the words listed as separate
   (花儿, 女儿) and in adjectives, abbreviations and names (POS a, j, nr);
4. every syllable -> two phones (`pinyin_phones`), every punctuation mark -> itself; word2ph counts
   phones per character, so `len(word2ph) == len(text)` and `sum(word2ph) == len(phones)`.

Words of the user's pronunciation dictionary are cut out of a clause before segmentation and spoken
as written. `read_zh` gives every word's reading and where it came from (the `phones` command).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Final

from .jieba_source import jieba_modules
from .normalize_zh import ZH_PUNCTUATION
from .pinyin_phones import PinyinError, syllable_to_phones
from .pinyin_source import is_phrase, tone3
from .pronunciations import EMPTY, Pronunciations
from .tone_sandhi import Word, merge_words, sandhi_changes, tone_of, with_tone
from .zh_polyphones import Neighbours, clause_readings, settle
from .zh_word_lists import zh_word_lists
from .zh_yi import numeral_yi

_LOGGER = logging.getLogger(__name__)

_RE_CLAUSE_END: Final = re.compile(r"(?<=[!?…,.\-])")
_ERHUA_SEPARATE_POS: Final = frozenset({"a", "j", "nr"})
_GROW_RESULTS: Final = "大高胖得出成满个"
USER_SOURCE: Final = "user dictionary"


@dataclass(frozen=True, slots=True)
class WordReading:
    """How one word of a clause is read, and why."""

    word: str
    pos: str
    """jieba's part of speech ("user" for a dictionary word, "x" for a mark)."""
    syllables: tuple[str, ...]
    """One tone-numbered syllable per character (a mark stands for itself)."""
    source: str
    """Where the reading before tone changes came from: phrase table, character table, a rule, ..."""
    changes: tuple[str, ...] = ()
    """The tone rules that changed it (`tone_sandhi.SANDHI_STAGES` and "erhua")."""


def warm_up() -> None:
    """Load jieba's dictionary now rather than on the first Chinese sentence."""
    jieba_modules()


def segment(text: str) -> list[Word]:
    """jieba posseg words with their part-of-speech tags."""
    _, posseg = jieba_modules()
    return [(pair.word, pair.flag) for pair in posseg.lcut(text)]


def _cut_for_search(word: str) -> list[str]:
    jieba, _ = jieba_modules()
    return list(jieba.cut_for_search(word))


def word_pinyin(word: str, following: str = "") -> list[str]:
    """One tone-numbered pinyin per character (neutral tone 5); punctuation stands for itself.

    `following` is the next word, if known; it settles 长 outside pypinyin's phrases.
    """
    return word_reading(word, following)[0]


def _table_source(word: str) -> str:
    if len(word) == 1:
        return "mark" if word in ZH_PUNCTUATION else "character table"
    return "phrase table" if is_phrase(word) else "pypinyin"


def word_reading(word: str, following: str = "") -> tuple[list[str], str]:
    """`word_pinyin` and where the reading came from."""
    source = _table_source(word)
    syllables = tone3(word)
    if len(syllables) != len(word):
        # Runs of non-Hanzi come back as one item; fall back to one lookup per character.
        syllables = [tone3(c)[0] for c in word]
    if "长" in word and len(word) <= 2 and not is_phrase(word):
        # pypinyin reads a lone 长 as zhang3 (to grow); it is mostly the adjective chang2 (很长,
        # 太长了), and zhang3 before a result or 得 (长大, 长高, 长得快). jieba tags both as
        # adjectives, so the next character decides. (Upstream's G2PW reads it from the sentence.)
        for index, char in enumerate(word):
            if char == "长" and syllables[index] == "zhang3":
                after = word[index + 1:index + 2] or following[:1]
                syllables[index] = "zhang3" if after and after in _GROW_RESULTS else "chang2"
                source = "polyphone rule (长)"
    return syllables, source


def _apply_erhua(word: str, pos: str, syllables: list[str]) -> list[str]:
    if not word.endswith("儿") or len(word) != len(syllables):
        return syllables
    last = len(word) - 1
    if syllables[last] == "er1":
        syllables[last] = "er2"
    lists = zh_word_lists()
    if word not in lists.erhua_kept and (word in lists.erhua_separate or pos in _ERHUA_SEPARATE_POS):
        return syllables
    previous = syllables[last - 1] if last > 0 else ""
    if (
        syllables[last] in ("er2", "er5")
        and word[-2:] not in lists.erhua_separate
        and previous[-1:].isdigit()
    ):
        syllables[last] = with_tone(syllables[last], tone_of(previous))
    return syllables


def syllable_phones(char: str, syllable: str) -> tuple[str, str]:
    try:
        return syllable_to_phones(syllable)
    except PinyinError:
        # pypinyin gave something outside Mandarin's syllable inventory: use the character's own reading.
        fallback = tone3(char)[0]
        try:
            return syllable_to_phones(fallback)
        except PinyinError:
            _LOGGER.debug("no phones for %r (%s); reading it as e", char, syllable)
            return "EE", "e" + (syllable[-1] if syllable[-1:].isdigit() else "5")


def _user_chunks(clause: str, user: Pronunciations) -> Iterator[tuple[str, tuple[str, ...] | None]]:
    """The clause as (text, None) runs and (dictionary word, its syllables), longest entries first."""
    longest = user.longest_zh_word
    start = plain_start = 0
    while start < len(clause):
        for length in range(min(longest, len(clause) - start), 0, -1):
            reading = user.zh_reading(clause[start:start + length])
            if reading is not None:
                if plain_start < start:
                    yield clause[plain_start:start], None
                yield clause[start:start + length], reading
                start = plain_start = start + length
                break
        else:
            start += 1
    if plain_start < len(clause):
        yield clause[plain_start:], None


def _context_reading(
    word: str, start: int, fixed: dict[int, str], around: Neighbours
) -> tuple[list[str], str, list[int]]:
    """`word_reading`, then the clause's collocations, then the context rules; and which syllables they set."""
    base, source = word_reading(word, around.following)
    if len(base) != len(word):
        return base, source, []
    collocated = [index for index in range(len(word)) if start + index in fixed]
    for index in collocated:
        base[index] = fixed[start + index]
    if collocated:
        return base, "collocation table", collocated
    settled = settle(word, base, around, from_phrase=source == "phrase table")
    if settled is None:
        return base, source, []
    return base, settled[0], settled[1]


def _read_words(text: str) -> Iterator[WordReading]:
    words = merge_words(segment(text), word_pinyin)
    fixed = clause_readings(text.rstrip(ZH_PUNCTUATION))
    start = 0
    for index, (word, pos) in enumerate(words):
        following = words[index + 1][0] if index + 1 < len(words) else ""
        around = Neighbours(
            previous=words[index - 1][0] if index else "",
            previous_pos=words[index - 1][1] if index else "",
            following=following,
            rest=text[start + len(word):],
            clause_ends=all(w in ZH_PUNCTUATION for w, _ in words[index + 1:]),
        )
        base, source, settled = _context_reading(word, start, fixed, around)
        start += len(word)
        syllables, changes = sandhi_changes(word, pos, base, _cut_for_search)
        for settled_index in settled:
            # A reading settled by context is not made neutral again (干嘛 ma2, 东西方向 xi1, 他得了 de2).
            if syllables[settled_index].endswith("5") and not base[settled_index].endswith("5"):
                syllables[settled_index] = base[settled_index]
        with_erhua = _apply_erhua(word, pos, list(syllables))
        if with_erhua != syllables:
            changes.append("erhua")
        yield WordReading(word, pos, tuple(with_erhua), source, tuple(changes))


def read_zh(text: str, user: Pronunciations = EMPTY) -> list[WordReading]:
    """Every word of normalized Chinese text with its reading, clause by clause (see the module doc)."""
    readings: list[WordReading] = []
    for clause in _RE_CLAUSE_END.split(text):
        for chunk, fixed in _user_chunks(clause, user) if user else [(clause, None)]:
            if fixed is not None:
                readings.append(WordReading(chunk, "user", fixed, USER_SOURCE))
            elif chunk:
                readings.extend(_with_numeral_yi(list(_read_words(chunk))))
    return readings


def _with_numeral_yi(words: list[WordReading]) -> list[WordReading]:
    """`zh_yi.numeral_yi` over a run of words (it looks across their boundaries)."""
    text = "".join(word.word for word in words)
    syllables = [syllable for word in words for syllable in word.syllables]
    if "一" not in text or len(syllables) != len(text) or not numeral_yi(text, syllables):
        return words
    result: list[WordReading] = []
    start = 0
    for word in words:
        new = tuple(syllables[start:start + len(word.word)])
        start += len(word.word)
        if new != word.syllables:
            word = replace(word, syllables=new, changes=(*word.changes, "一 in a number"))
        result.append(word)
    return result


def g2p_zh(text: str, user: Pronunciations = EMPTY) -> tuple[list[str], list[int]]:
    """Hanzi + `, . ! ? … -` -> (phones, word2ph): 2 phones per character, 1 per punctuation mark."""
    phones: list[str] = []
    word2ph: list[int] = []
    for reading in read_zh(text, user):
        for char, syllable in zip(reading.word, reading.syllables, strict=True):
            if char in ZH_PUNCTUATION:
                phones.append(char)
                word2ph.append(1)
            else:
                phones.extend(syllable_phones(char, syllable))
                word2ph.append(2)
    return phones, word2ph
