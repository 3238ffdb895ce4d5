"""The public text API: language options, errors, the short-text rules, dropped characters."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from wyoming_server.engine.errors import TextError
from wyoming_server.engine.gpt_sovits.text import (
    LANGUAGES,
    Phones,
    PhoneSegment,
    normalize,
    resolve_language,
    split_sentences,
    to_phones,
)
from wyoming_server.engine.gpt_sovits.text.lang import LanguageRun, split_languages


@pytest.mark.parametrize(
    ("option", "expected"),
    [("zh", "zh"), ("zh-CN", "zh"), ("zh_CN", "zh"), ("ZH-cn", "zh"), ("cmn", "zh"), ("zh-Hans", "zh"),
     ("en", "en"), ("en-US", "en"), ("en_US", "en"), ("en-GB", "en"), ("auto", "auto"), (" Auto ", "auto")],
)
def test_language_options(option: str, expected: str) -> None:
    assert resolve_language(option) == expected


@pytest.mark.parametrize("option", ["ja", "fr", "", "zh-TW-x", "english"])
def test_unsupported_language(option: str) -> None:
    with pytest.raises(TextError, match="not supported"):
        to_phones("你好", option)


def test_languages_constant() -> None:
    assert LANGUAGES == ("zh", "en")


def test_phones_structure() -> None:
    phones = to_phones("我用iPhone打电话。", "auto")
    assert isinstance(phones, Phones)
    assert all(isinstance(s, PhoneSegment) for s in phones.segments)
    assert phones.symbols == tuple(p for s in phones.segments for p in s.phones)
    assert phones.ids.shape == (len(phones.symbols),)
    assert phones.ids.dtype == np.int64


@pytest.mark.parametrize("text", ["", "   ", "。。。", "😀🎉", "!!!", "Привет мир", "カタカナ", "—…"])
def test_nothing_to_pronounce_raises(text: str) -> None:
    with pytest.raises(TextError, match="nothing to pronounce"):
        to_phones(text, "auto")


def test_short_text_gets_a_leading_period() -> None:
    # Upstream: fewer than 6 phones -> redo with "." prepended (to the normalized text here, so that a
    # lone digit is not read as a decimal: ".8").
    assert " ".join(to_phones("8", "zh").symbols) == ". b a1"
    assert " ".join(to_phones("你好", "zh").symbols) == ". n i2 h ao3"
    assert to_phones("你好", "zh").segments[0].word2ph == (1, 2, 2)
    assert " ".join(to_phones("你好吗", "zh").symbols) == "n i2 h ao3 m a5"


def test_short_english_gets_a_leading_comma_only_alone() -> None:
    # Upstream pads an English segment under 4 phones with ","; inside Chinese we do not (no pause
    # before the letter of "A4").
    assert to_phones("Hi", "en").symbols == (",", ".", "HH", "AY1")
    assert "," not in to_phones("我买了A4纸。", "zh").symbols


def test_unknown_characters_are_dropped_with_a_debug_log(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="wyoming_server.engine.gpt_sovits.text"):
        phones = to_phones("你好😀世界Привет", "zh")
    assert phones.segments[0].norm_text == "你好世界"
    assert any("dropped" in record.getMessage() for record in caplog.records)


def test_english_mode_drops_hanzi() -> None:
    assert normalize("Hello 你好 world", "en") == "Hello world"


def test_auto_detects_by_script() -> None:
    assert to_phones("Hello world", "auto").segments[0].language == "en"
    assert to_phones("Hello 世界", "auto").segments[-1].language == "zh"
    # In English mode numbers are English; with any Hanzi they are Chinese.
    assert normalize("I have 3 apples", "auto") == "I have three apples"
    assert normalize("我有3个apple", "auto") == "我有三个apple"


def test_split_languages() -> None:
    assert split_languages("我用 iPhone 15，很好。", "zh") == [
        LanguageRun("zh", "我用 "),
        LanguageRun("en", "iPhone 15，"),
        LanguageRun("zh", "很好。"),
    ]
    assert split_languages("“Hi”他说", "zh") == [LanguageRun("en", "“Hi”"), LanguageRun("zh", "他说")]
    assert split_languages("你好 world", "en") == [LanguageRun("en", "你好 world")]
    assert split_languages("", "zh") == []


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("2026年11月23日10:30，3.5%，¥12.50，电话13812345678。", "zh"),
        ("我用iPhone 15打电话，ChatGPT说USB-C更好。", "auto"),
        ("It costs $12.50 at 6:30 pm, e.g. on the 1st of May 2024.", "en"),
        ("1. Buy milk\n2. Call Mum", "en"),
    ],
)
def test_normalized_text_gives_the_same_phones(text: str, language: str) -> None:
    normalized = normalize(text, language)
    assert normalize(normalized, language) == normalized
    assert to_phones(normalized, language).symbols == to_phones(text, language).symbols


def test_pipeline_sentence_by_sentence() -> None:
    text = "晚饭准备好了，快来吃吧！Dinner is ready, come and eat."
    sentences = split_sentences(normalize(text, "auto"), "auto")
    assert sentences == ["晚饭准备好了,快来吃吧!", "Dinner is ready, come and eat."]
    for sentence in sentences:
        phones = to_phones(sentence, "auto")
        assert phones.ids.size >= 6


def test_concurrent_calls_agree() -> None:
    # The server runs synthesis in worker threads; lazy loading (jieba, CMUdict, espeak-ng) must be safe.
    from concurrent.futures import ThreadPoolExecutor

    texts = ["重庆银行的行长很忙。", "Kubernetes and ChatGPT, e.g. at 10:30.", "我用iPhone打电话。"] * 8
    expected = [to_phones(text, "auto").symbols for text in texts]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda text: to_phones(text, "auto").symbols, texts))
    assert results == expected
