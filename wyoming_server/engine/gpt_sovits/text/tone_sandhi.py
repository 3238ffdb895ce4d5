"""Mandarin tone sandhi on segmented words, with the rules PaddleSpeech defined and GPT-SoVITS uses.

Syllables are tone-numbered pinyin strings ("ni3"); a punctuation mark stands for itself and never
changes. Two stages, as upstream:

* `merge_words` joins segmenter output so that sandhi sees the right units: 不 + next word; V 一 V
  (看一看); 一 + next word; reduplications (看 看 -> 看看); adjacent words that are all third tone, or
  that meet with two third tones, when the result has at most 3 characters; a trailing 儿.
* `apply_sandhi` changes the tones inside one word: 不 (bu2 before a 4th tone, bu5 in 看不懂), 一 (yi1 in
  numbers and ordinals, yi5 in V一V, yi2 before a 4th tone, yi4 before others, yi1 before a pause),
  neutral tones (reduplicated nouns, verbs and adjectives; final particles; 的地得; aspect 了着过;
  们/子 suffixes; locatives 上下里; direction complements 上来/下去; the measure word 个; a word list),
  then third-tone sandhi (3-3 -> 2-3 in two-character words, in 2+1 and 1+2 three-character words, and
  in each half of four-character idioms).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final

from .zh_word_lists import zh_word_lists

Word = tuple[str, str]
"""(text, part of speech) as jieba's posseg gives it."""
PinyinOf = Callable[[str], list[str]]
"""Word -> one tone-numbered pinyin per character (punctuation stands for itself)."""
SplitWord = Callable[[str], list[str]]
"""Word -> its finer segmentation (jieba `cut_for_search`)."""

_PAUSE_MARKS: Final = "：，；。？！“”‘’':,;.?!…-"
_FINAL_PARTICLES: Final = "吧呢哈啊呐噻嘛吖嗨哦哒额滴哩哟喽啰耶喔诶"
_MEASURE_GE_AFTER: Final = "几有两半多各整每做是"
_DIRECTIONAL_FIRST: Final = "上下进出回过起开"
_NUMERALS: Final = "零一二三四五六七八九十百千万亿两"


def tone_of(syllable: str) -> str:
    """The tone digit of a syllable ("5" is neutral); a punctuation mark returns itself."""
    return syllable[-1]


def with_tone(syllable: str, tone: str) -> str:
    """The syllable with its tone replaced; punctuation is left alone."""
    if not syllable or not syllable[-1].isdigit():
        return syllable
    return syllable[:-1] + tone


def _all_third(syllables: Sequence[str]) -> bool:
    return all(tone_of(s) == "3" for s in syllables)


def _is_reduplication(word: str) -> bool:
    return len(word) == 2 and word[0] == word[1]


# --- merging ---------------------------------------------------------------------------------------


def _merge_bu(words: list[Word]) -> list[Word]:
    merged: list[Word] = []
    pending_bu = False
    for text, pos in words:
        if pending_bu:
            text = "不" + text
        pending_bu = text == "不"
        if not pending_bu:
            merged.append((text, pos))
    if pending_bu:
        merged.append(("不", "d"))
    return merged


def _merge_yi(words: list[Word]) -> list[Word]:
    merged: list[list[str]] = []
    index = 0
    while index < len(words):
        text, pos = words[index]
        if text == "一" and merged and index + 1 < len(words):
            before, after = merged[-1], words[index + 1]
            if before[0] == after[0] and before[1] == "v" and after[1] == "v":
                merged[-1] = [before[0] + "一" + after[0], before[1]]
                index += 2
                continue
        merged.append([text, pos])
        index += 1
    result: list[list[str]] = []
    for text, pos in merged:
        if result and result[-1][0] == "一":
            result[-1][0] += text
        else:
            result.append([text, pos])
    return [(text, pos) for text, pos in result]


def _merge_reduplication(words: list[Word]) -> list[Word]:
    merged: list[Word] = []
    for text, pos in words:
        if merged and merged[-1][0] == text:
            merged[-1] = (merged[-1][0] + text, merged[-1][1])
        else:
            merged.append((text, pos))
    return merged


def _merge_third_tones(words: list[Word], pinyin_of: PinyinOf, whole_words: bool) -> list[Word]:
    """Join neighbours that are both all third tone (`whole_words`) or meet with two third tones."""
    syllables = [pinyin_of(text) for text, _ in words]
    merged: list[Word] = []
    joined_previous = False
    for index, (text, pos) in enumerate(words):
        joined = False
        if index > 0 and not joined_previous and syllables[index - 1] and syllables[index]:
            before, current = syllables[index - 1], syllables[index]
            if whole_words:
                meets = _all_third(before) and _all_third(current)
            else:
                meets = tone_of(before[-1]) == "3" and tone_of(current[0]) == "3"
            previous_text = words[index - 1][0]
            # A reduplication keeps its own neutral-tone rule, so it is not joined (upstream checks only
            # the first word, which makes 给宝宝 gei3 bao2 bao3).
            reduplication = _is_reduplication(previous_text) or _is_reduplication(text)
            if meets and not reduplication and len(previous_text) + len(text) <= 3:
                merged[-1] = (merged[-1][0] + text, merged[-1][1])
                joined = True
        if not joined:
            merged.append((text, pos))
        joined_previous = joined
    return merged


def _merge_er(words: list[Word]) -> list[Word]:
    merged: list[Word] = []
    for text, pos in words:
        if merged and text == "儿":
            merged[-1] = (merged[-1][0] + text, merged[-1][1])
        else:
            merged.append((text, pos))
    return merged


def merge_words(words: list[Word], pinyin_of: PinyinOf) -> list[Word]:
    """Segmenter output -> the units the sandhi rules apply to (see the module doc)."""
    words = _merge_bu(words)
    words = _merge_yi(words)
    words = _merge_reduplication(words)
    words = _merge_third_tones(words, pinyin_of, whole_words=True)
    words = _merge_third_tones(words, pinyin_of, whole_words=False)
    return _merge_er(words)


# --- tone changes inside a word --------------------------------------------------------------------


def _bu_sandhi(word: str, syllables: list[str]) -> list[str]:
    if len(word) == 3 and word[1] == "不":  # 看不懂, 说不定
        syllables[1] = with_tone(syllables[1], "5")
        return syllables
    for index, char in enumerate(word[:-1]):
        if char == "不" and tone_of(syllables[index + 1]) == "4":  # 不是 bu2 shi4
            syllables[index] = with_tone(syllables[index], "2")
    return syllables


def _yi_sandhi(word: str, syllables: list[str]) -> list[str]:
    if "一" in word and all(char.isnumeric() for char in word if char != "一"):
        return syllables  # in numbers (一零一, 十一) and alone 一 keeps its own tone
    if len(word) == 3 and word[1] == "一" and word[0] == word[2]:
        syllables[1] = with_tone(syllables[1], "5")  # 看一看
    elif word.startswith("第一"):
        syllables[1] = with_tone(syllables[1], "1")
    else:
        for index, char in enumerate(word[:-1]):
            if char != "一":
                continue
            # Upstream changes 一 in 十一月 and 一月 (January) too; a numeral before it or a date
            # after it keeps yi1.
            if (index > 0 and word[index - 1] in _NUMERALS) or word[index + 1] in "月号":
                syllables[index] = with_tone(syllables[index], "1")
            elif tone_of(syllables[index + 1]) == "4":
                syllables[index] = with_tone(syllables[index], "2")  # 一个 yi2 ge4
            elif word[index + 1] not in _PAUSE_MARKS:
                syllables[index] = with_tone(syllables[index], "4")  # 一天 yi4 tian1
    return syllables


def split_in_two(word: str, split_word: SplitWord) -> list[str]:
    """A word as [head, tail] around its shortest sub-word (蒙古包 -> 蒙古 + 包, 纸老虎 -> 纸 + 老虎)."""
    pieces = sorted(split_word(word), key=len) or [word]
    shortest = pieces[0]
    if word.find(shortest) == 0:
        return [shortest, word[len(shortest):]]
    return [word[: -len(shortest)], shortest]


def _final_is_neutral(word: str, pos: str) -> bool:
    """Upstream's rules for a neutral last syllable (the 的/地/得 and 个 cases are handled apart)."""
    lists = zh_word_lists()
    final_char = word[-1]
    if final_char in _FINAL_PARTICLES:
        return word not in lists.not_neutral_tone  # 干嘛 gan4 ma2
    if len(word) == 1:
        return word in "了着过" and pos in ("ul", "uz", "ug")  # 走了, 看着, 去过
    if final_char in "们子":
        return pos in ("r", "n") and word not in lists.not_neutral_tone
    if final_char in "上下里" and pos in ("s", "l", "f"):
        return True  # 桌上, 地下, 家里
    return final_char in "来去" and word[-2] in _DIRECTIONAL_FIRST  # 上来, 下去


def _neutral_sandhi(word: str, pos: str, syllables: list[str], split_word: SplitWord) -> list[str]:
    lists = zh_word_lists()
    last = len(word) - 1
    if pos[:1] in ("n", "v", "a") and word not in lists.not_neutral_tone:
        # Upstream neutralizes any repeated character, also 行 in 银行行长; only AA-words (奶奶,
        # 看看, 妈妈们) and AABB-words (干干净净) are reduplications here.
        repeats = [1] if len(word) > 1 and word[0] == word[1] else []
        if len(word) == 4 and repeats and word[2] == word[3]:
            repeats.append(3)
        for index in repeats:
            syllables[index] = with_tone(syllables[index], "5")
    ge_index = word.find("个")
    measure_ge = word == "个" or (
        ge_index >= 1 and (word[ge_index - 1].isnumeric() or word[ge_index - 1] in _MEASURE_GE_AFTER)
    )
    if word[last] in "的地得" and word[last] not in _FINAL_PARTICLES:
        # Upstream makes every final 的/地/得 neutral, also 目的 di4 and 土地 di4, and keeps pypinyin's
        # di for the particle 地 (高兴地 di5). Here the particles (POS u*) are de5, and other words
        # only lose the tone of a "de" syllable.
        if len(word) == 1 and pos.startswith("u"):
            syllables[last] = "de5"
        elif syllables[last][:-1] == "de":
            syllables[last] = with_tone(syllables[last], "5")
    elif _final_is_neutral(word, pos):
        syllables[last] = with_tone(syllables[last], "5")
    elif measure_ge:
        syllables[ge_index] = with_tone(syllables[ge_index], "5")
    elif word not in lists.not_neutral_tone and (word in lists.neutral_tone or word[-2:] in lists.neutral_tone):
        syllables[last] = with_tone(syllables[last], "5")
    head, tail = split_in_two(word, split_word)
    for part, end in ((head, len(head) - 1), (tail, len(word) - 1)):
        if part and (part in lists.neutral_tone or part[-2:] in lists.neutral_tone):
            syllables[end] = with_tone(syllables[end], "5")
    return syllables


def _third_tone_sandhi(word: str, syllables: list[str], split_word: SplitWord) -> list[str]:
    if len(word) == 2 and _all_third(syllables):
        syllables[0] = with_tone(syllables[0], "2")  # 你好 ni2 hao3
    elif len(word) == 3:
        head, _ = split_in_two(word, split_word)
        if _all_third(syllables):
            if len(head) == 2:  # 展览/馆 -> 2 2 3
                syllables[0] = with_tone(syllables[0], "2")
                syllables[1] = with_tone(syllables[1], "2")
            elif len(head) == 1:  # 纸/老虎 -> 3 2 3
                syllables[1] = with_tone(syllables[1], "2")
        else:
            first, second = syllables[: len(head)], syllables[len(head):]
            if len(first) == 2 and _all_third(first):  # 所有/人
                first[0] = with_tone(first[0], "2")
            if len(second) == 2 and _all_third(second):
                second[0] = with_tone(second[0], "2")
            elif second and tone_of(second[0]) == tone_of(first[-1]) == "3":
                # 好/喜欢; also 发给/我 (upstream leaves a single third tone after a 2+1 split unchanged)
                first[-1] = with_tone(first[-1], "2")
            syllables = first + second
    elif len(word) == 4:  # idioms as two halves
        for start in (0, 2):
            if _all_third(syllables[start:start + 2]):
                syllables[start] = with_tone(syllables[start], "2")
    return syllables


SANDHI_STAGES: Final = ("不", "一", "neutral tone", "third tone")
"""The names `sandhi_changes` reports, in the order the stages run."""


def sandhi_changes(
    word: str, pos: str, syllables: list[str], split_word: SplitWord
) -> tuple[list[str], list[str]]:
    """`apply_sandhi` that also names the stages (`SANDHI_STAGES`) that changed a tone."""
    changed: list[str] = []
    current = list(syllables)
    for name in SANDHI_STAGES:
        if name == "不":
            after = _bu_sandhi(word, list(current))
        elif name == "一":
            after = _yi_sandhi(word, list(current))
        elif name == "neutral tone":
            after = _neutral_sandhi(word, pos, list(current), split_word)
        else:
            after = _third_tone_sandhi(word, list(current), split_word)
        if after != current:
            changed.append(name)
        current = after
    return current, changed


def apply_sandhi(word: str, pos: str, syllables: list[str], split_word: SplitWord) -> list[str]:
    """Tone changes inside one merged word, in upstream's order: 不, 一, neutral tones, third tones."""
    return sandhi_changes(word, pos, syllables, split_word)[0]
