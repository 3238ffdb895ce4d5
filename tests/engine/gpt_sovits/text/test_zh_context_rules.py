"""Exact values for the context rules: scores vs times, codes, 一 in numbers, collocations, polyphone rules."""

from __future__ import annotations

import pytest

from wyoming_server.engine.gpt_sovits.text import normalize
from wyoming_server.engine.gpt_sovits.text.explain import explain
from wyoming_server.engine.gpt_sovits.text.zh_polyphones import clause_readings, parse_collocations
from wyoming_server.engine.gpt_sovits.text.zh_yi import numeral_yi


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("比分是2:0", "比分是二比零"),
        ("比例尺1:1000", "比例尺一比一千"),
        ("屏幕16:9", "屏幕十六比九"),
        ("湖人队以102:98获胜", "湖人队以一百零二比九十八获胜"),
        ("比分来到了21:19", "比分来到了二十一比十九"),  # could be a time: the clause speaks of a score
        ("主队12:10领先", "主队十二比十领先"),  # a result follows
        ("现在是8:05", "现在是八点零五分"),
        ("比赛10:30开始,最后2:1结束", "比赛十点半开始,最后二比一结束"),
        ("我们可以10:30出发", "我们可以十点半出发"),  # 可以 is not 以
        ("以10:30为准", "以十点半为准"),  # a time: 以 alone says nothing
        ("比分10:30开始更新", "比分十点半开始更新"),  # a time word follows
        ("会议9:00-11:30", "会议九点到十一点半"),
        ("10:05:30", "十点零五分三十秒"),
    ],
)
def test_scores_and_ratios_are_told_from_times(text: str, expected: str) -> None:
    assert normalize(text, "zh") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("有事打120", "有事打幺二零"),
        ("请拨打12315", "请拨打幺二三幺五"),
        ("打100分", "打一百分"),  # a measure word follows: a quantity
        ("打8折", "打八折"),
        ("火警电话是119", "火警电话是幺幺九"),
        ("验证码是6381", "验证码是六三八幺"),
        ("分机号8021", "分机号八零二幺"),
        ("住在301房间", "住在三零幺房间"),
        ("一共301人", "一共三百零一人"),
        ("$1,299.99", "一千二百九十九点九九美元"),
    ],
)
def test_codes_are_read_digit_by_digit_by_context(text: str, expected: str) -> None:
    assert normalize(text, "zh") == expected


@pytest.mark.parametrize(
    ("text", "before", "after"),
    [
        ("五月一日", "wu3 yue4 yi2 ri4", "wu3 yue4 yi1 ri4"),
        ("二十一点", "er4 shi2 yi4 dian3", "er4 shi2 yi1 dian3"),
        ("一点五", "yi4 dian3 wu3", "yi1 dian3 wu3"),
        ("一点一点", "yi4 dian3 yi4 dian3", "yi4 dian3 yi4 dian3"),  # bit by bit
        ("一九九八", "yi4 jiu3 jiu3 ba1", "yi1 jiu3 jiu3 ba1"),
        ("一干二净", "yi4 gan1 er4 jing4", "yi1 gan1 er4 jing4"),
        ("一楼", "yi4 lou2", "yi1 lou2"),
        ("每周一开会", "mei3 zhou1 yi4 kai1 hui4", "mei3 zhou1 yi1 kai1 hui4"),
        ("每周一次", "mei3 zhou1 yi2 ci4", "mei3 zhou1 yi2 ci4"),  # once a week, not every Monday
        ("第一次", "di4 yi2 ci4", "di4 yi1 ci4"),
        ("三比一", "san1 bi3 yi2", "san1 bi3 yi1"),
        ("一千一百", "yi4 qian1 yi4 bai3", "yi4 qian1 yi4 bai3"),  # before 百/千: sandhi stays
        ("一起", "yi4 qi3", "yi4 qi3"),
        ("一百二十", "yi4 bai3 er4 shi2", "yi4 bai3 er4 shi2"),  # not the idiom pattern 一X二Y
    ],
)
def test_numeral_yi(text: str, before: str, after: str) -> None:
    syllables = before.split()
    numeral_yi(text, syllables)
    assert syllables == after.split()


def _readings(text: str) -> list[tuple[str, str, str]]:
    return [
        (word.word, " ".join(word.reading), word.source)
        for segment in explain(text, "zh")
        for word in segment.words
        if not word.is_mark
    ]


@pytest.mark.parametrize(
    ("text", "word", "reading", "source"),
    [
        ("把空调调小一点", "调", "tiao2", "collocation table"),
        ("风扇在转。", "转", "zhuan4", "collocation table"),  # "$": only at the end of a clause
        ("他得去医院", "得去", "dei3 qu4", "polyphone rule (得)"),
        ("她得到了表扬", "得到", "de2 dao4", "pypinyin"),  # a word of its own, not 得 + 到
        ("把温度调到二十度", "调", "tiao2", "polyphone rule (调)"),  # the number is two words on
        ("他吐了口气", "吐", "tu3", "collocation table"),
        ("我得了感冒", "得", "de2", "polyphone rule (得)"),  # not made neutral again
        ("原子很小", "原子", "yuan2 zi3", "polyphone rule (子)"),
        ("我们往东西方向走", "东西", "dong1 xi1", "collocation table"),
        ("他是大学生", "大学生", "da4 xue2 sheng1", "phrase table"),
    ],
)
def test_polyphones_settled_by_context(text: str, word: str, reading: str, source: str) -> None:
    assert (word, reading, source) in _readings(text)


@pytest.mark.parametrize(
    ("text", "word", "reading"),
    [
        ("我们关系好。", "关系", "guan1 xi5"),  # not 系好 ji4
        ("买东西两个小时。", "东西", "dong1 xi5"),  # not 东西两 (east and west)
        ("你还回来吗？", "还", "hai2"),  # still, not give back
        ("回家看家人。", "看", "kan4"),  # visit, not 看家 (look after)
        ("人数到齐了。", "人数", "ren2 shu4"),  # not 数到 (count up to)
        ("他的声调高。", "声调", "sheng1 diao4"),  # not 调高 (turn up)
        ("我明天还你。", "还", "huan2"),  # 还你 ending a clause
        ("请系好安全带。", "系", "ji4"),
    ],
)
def test_collocations_stay_out_of_longer_words(text: str, word: str, reading: str) -> None:
    assert (word, reading) in [(w, r) for w, r, _ in _readings(text)]


def test_collocation_table_format() -> None:
    table = parse_collocations("# comment\n调小\ttiao2 _\n在转$\t_ zhuan4\n")
    assert table.entries == {"调小": ("tiao2", None)}
    assert table.at_end == {"在转": (None, "zhuan4")}
    assert clause_readings("把空调调小", table) == {3: "tiao2"}
    assert clause_readings("风扇在转", table) == {3: "zhuan4"}
    assert clause_readings("在转账", table) == {}
    blocking = parse_collocations("关系好\t_ _ _\n系好\tji4 _\n")
    assert clause_readings("关系好", blocking) == {}
    assert clause_readings("系好", blocking) == {0: "ji4"}
    with pytest.raises(ValueError, match="line 1"):
        parse_collocations("调小\ttiao2\n")
