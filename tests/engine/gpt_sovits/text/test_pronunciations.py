"""The user's pronunciation dictionary: validation messages, and readings spoken exactly as written."""

from __future__ import annotations

import pytest

from wyoming_server.engine import SynthesisOptions
from wyoming_server.engine.gpt_sovits.text import to_phones
from wyoming_server.engine.gpt_sovits.text.explain import explain
from wyoming_server.engine.gpt_sovits.text.pronunciations import (
    Pronunciations,
    en_entry_problem,
    parse_dictionary,
    parse_dictionary_text,
    zh_entry_problem,
)

DOCUMENT = {
    "zh": {"乐乐": "le4 le4", "蔚来": "wei4 lai2"},
    "en": {"Nguyen": "W IH1 N", "Xiaomi": "sh aw1 m iy1"},
    "voices": {"grandma": {"zh": {"乐乐": "le4 le5"}}},
}


def _words(text: str, user: Pronunciations) -> list[tuple[str, str, str]]:
    return [
        (word.word, " ".join(word.reading), word.source)
        for segment in explain(text, "zh", user)
        for word in segment.words
        if not word.is_mark
    ]


def test_a_valid_document_is_read_whole() -> None:
    dictionary, problems = parse_dictionary(DOCUMENT)
    assert problems == []
    assert dictionary.server.zh_reading("乐乐") == ("le4", "le4")
    assert dictionary.server.en_reading("NGUYEN") == ("W", "IH1", "N")
    assert dictionary.server.en_reading("xiaomi") == ("SH", "AW1", "M", "IY1")  # any case, upper-cased
    assert dictionary.for_voice("grandma").zh_reading("乐乐") == ("le4", "le5")
    assert dictionary.for_voice("grandma").zh_reading("蔚来") == ("wei4", "lai2")  # the server's too
    assert dictionary.for_voice("someone else").zh_reading("乐乐") == ("le4", "le4")


@pytest.mark.parametrize(
    ("word", "reading", "message"),
    [
        ("乐乐", "le4", "1 syllables for 2 characters"),
        ("乐乐", "le le", "tone number"),
        ("乐乐", "le4 xx4", "not a Mandarin syllable"),
        ("Lele", "le4 le4", "1 to 32 Chinese characters"),
        ("乐乐", ["le4", "le4"], "must be a string"),
    ],
)
def test_bad_chinese_entries_say_what_is_wrong(word: str, reading: object, message: str) -> None:
    problem = zh_entry_problem(word, reading)
    assert problem is not None and message in problem and repr(word) in problem


@pytest.mark.parametrize(
    ("word", "reading", "message"),
    [
        ("Nguyen", "W IH N", "needs a stress digit (IH0, IH1 or IH2)"),
        ("Nguyen", "W IH1 ang2", "'ANG2' is not an ARPAbet phone"),
        ("Coca-Cola", "K OW1", "one word"),
        ("Nguyen", "", "ARPAbet phones separated by spaces"),
    ],
)
def test_bad_english_entries_say_what_is_wrong(word: str, reading: str, message: str) -> None:
    problem = en_entry_problem(word, reading)
    assert problem is not None and message in problem


def test_a_bad_entry_is_skipped_and_the_others_kept() -> None:
    dictionary, problems = parse_dictionary(
        {"zh": {"乐乐": "le4", "蔚来": "wei4 lai2"}, "en": "nope", "colours": {}, "voices": {"x": 1}}
    )
    assert dictionary.server.zh == (("蔚来", ("wei4", "lai2")),)
    assert problems == [
        "'colours': unknown section (expected \"zh\", \"en\" or \"voices\")",
        "zh '乐乐': 1 syllables for 2 characters in 'le4'",
        "en: must be an object of word: reading",
        "voices 'x': must be an object with \"zh\" and/or \"en\"",
    ]


def test_text_that_is_not_json_gives_no_entries_and_one_problem() -> None:
    dictionary, problems = parse_dictionary_text("{not json")
    assert not dictionary.server and len(problems) == 1 and problems[0].startswith("not valid JSON")
    assert parse_dictionary_text("  ") == parse_dictionary_text("{}")


def test_chinese_entries_are_cut_out_before_segmentation_and_spoken_as_written() -> None:
    user = parse_dictionary(DOCUMENT)[0].server
    assert _words("乐乐该睡觉了", Pronunciations())[0][1] == "le4 le5"  # what the entry changes
    words = _words("快乐乐乐该睡觉了", user)
    assert words[:2] == [("快", "kuai4", "character table"), ("乐乐", "le4 le4", "user dictionary")]
    phones = to_phones("乐乐好", "zh", user)
    assert phones.symbols[:4] == ("l", "e4", "l", "e4")  # no neutral tone, no sandhi on the entry
    assert ("蔚来", "wei4 lai2", "user dictionary") in _words("我买了蔚来", user)


def test_english_entries_override_the_dictionary_and_spelling() -> None:
    user = Pronunciations.of(en={"HA": ("HH", "AA1")})
    english = [w for s in explain("打开HA", "zh", user) for w in s.words if s.language == "en"]
    assert [(w.word, w.phones, w.source) for w in english] == [("HA", ("HH", "AA1"), "user dictionary")]
    plain = [w for s in explain("打开HA", "zh") for w in s.words if s.language == "en"]
    assert plain[0].source == "spelled"


def test_the_digest_follows_the_entries_and_reaches_the_cache_key() -> None:
    first = Pronunciations.of({"乐乐": ("le4", "le4")})
    same = Pronunciations.of({"乐乐": ("le4", "le4")})
    other = Pronunciations.of({"乐乐": ("le4", "le5")})
    assert first == same and first.digest == same.digest and first.digest != other.digest
    assert SynthesisOptions().to_dict()["pronunciations"] is None
    assert SynthesisOptions(pronunciations=first).to_dict()["pronunciations"] == first.digest
