"""Sentence splitting: the unit one T2S call speaks."""

from __future__ import annotations

import pytest

from wyoming_server.engine.errors import TextError
from wyoming_server.engine.gpt_sovits.text import split_sentences
from wyoming_server.engine.gpt_sovits.text.sentences import MAX_SENTENCE_SYLLABLES, spoken_syllables


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        # Sentence marks always split; a trailing remainder gets a full stop.
        (
            "今天天气很好。我们出去走走吧！你去不去",
            "zh",
            ["今天天气很好。", "我们出去走走吧！", "你去不去。"],
        ),
        # Clause marks split only once the piece has 12 syllables.
        (
            "我们明天早上八点在学校门口集合，然后一起坐车去博物馆参观，下午三点回来。",
            "zh",
            ["我们明天早上八点在学校门口集合，", "然后一起坐车去博物馆参观，", "下午三点回来。"],
        ),
        ("天气很好，我们出去走走。", "zh", ["天气很好，我们出去走走。"]),
        # Decimals, times and thousands separators are not marks.
        ("价格是3.5元，时间是10:30，人数12,000人。", "zh", ["价格是3.5元，时间是10:30，", "人数12,000人。"]),
        ("It is 3.5 degrees at 10:30 today. Visit example.com now.", "en",
         ["It is 3.5 degrees at 10:30 today.", "Visit example.com now."]),
        # Abbreviations, initials and e.g. do not end a sentence.
        ("Dinner is ready. Mr. Smith said e.g. this works.", "en",
         ["Dinner is ready.", "Mr. Smith said e.g. this works."]),
        ("J. K. Rowling wrote many books. They sold very well.", "en",
         ["J. K. Rowling wrote many books.", "They sold very well."]),
        # Short pieces join the next one; a short last piece joins the one before.
        ("好。今天天气很好，我们出去走走吧！好。", "zh", ["。好。今天天气很好，我们出去走走吧！好。"]),
        ("Yes. I will be there at six. Bye!", "en", [".Yes. I will be there at six. Bye!"]),
        # A first clause under 4 characters gets a leading full stop (upstream's pre_seg_text).
        ("你好，我是小明。", "zh", ["。你好，我是小明。"]),
        ("Hi, how are you today?", "en", [".Hi, how are you today?"]),
        # Runs of marks collapse; closing quotes stay with their sentence.
        ("真的吗？？！！太好了。", "zh", ["。真的吗？太好了。"]),
        ("他对我说：“你好啊！”然后走了。", "zh", ["他对我说：“你好啊！”", "然后走了。"]),
        # Line breaks end sentences.
        ("第一行内容\n第二行内容", "zh", ["第一行内容。", "第二行内容。"]),
        ("line one is here\nline two is here", "en", ["line one is here.", "line two is here."]),
        # "auto" picks the full stop per sentence.
        ("Hello there my friend\n你好我的朋友", "auto", ["Hello there my friend.", "你好我的朋友。"]),
        # Nothing to say.
        ("", "auto", []),
        ("……！！", "zh", []),
        ("😀😀", "auto", []),
    ],
)
def test_split_sentences(text: str, language: str, expected: list[str]) -> None:
    assert split_sentences(text, language) == expected


def test_long_text_is_broken_under_the_limit() -> None:
    text = "这是一个没有标点的非常长的句子" * 20
    sentences = split_sentences(text, "zh")
    assert len(sentences) > 1
    assert all(spoken_syllables(s) <= MAX_SENTENCE_SYLLABLES + 1 for s in sentences)
    assert "".join(s.strip("。") for s in sentences) == text


def test_long_english_breaks_at_spaces() -> None:
    text = " ".join(["word"] * 200)
    sentences = split_sentences(text, "en")
    assert len(sentences) >= 3
    assert all(s.rstrip(".").split() == ["word"] * len(s.rstrip(".").split()) for s in sentences)


def test_unknown_language_is_rejected() -> None:
    with pytest.raises(TextError, match="not supported"):
        split_sentences("hello", "fr")
