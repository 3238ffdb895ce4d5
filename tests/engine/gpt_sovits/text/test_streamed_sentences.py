"""The incremental sentence splitter for streamed text (exact golden values)."""

from __future__ import annotations

import pytest

from wyoming_server.engine.gpt_sovits.text.sentences import SentenceSplitter, has_speech


def _feed(pieces: list[str], max_chars: int = 300) -> list[list[str]]:
    splitter = SentenceSplitter(max_sentence_chars=max_chars)
    out = [splitter.add(piece) for piece in pieces]
    out.append(splitter.finish())
    return out


def test_sentences_split_mid_word_come_out_as_soon_as_they_are_complete() -> None:
    assert _feed(["Hel", "lo wor", "ld. How", " are y", "ou? I a", "m fine"]) == [
        [],
        [],
        ["Hello world."],
        [],
        ["How are you?"],
        [],
        ["I am fine"],
    ]


def test_cjk_end_marks_end_a_sentence_at_once() -> None:
    assert _feed(["你好", "。今天天气", "很好！明天", "呢？"]) == [
        [],
        ["你好。"],
        ["今天天气很好！"],
        ["明天呢？"],
        [],
    ]


def test_a_full_stop_waits_for_the_next_character() -> None:
    assert _feed(["Pi is 3.", "14 today. Next"]) == [[], ["Pi is 3.14 today."], ["Next"]]


def test_abbreviations_and_initials_do_not_end_a_sentence() -> None:
    assert _feed(["Dr. Smith met J. R. Tolkien. Then Mr. Jones left. "]) == [
        ["Dr. Smith met J. R. Tolkien.", "Then Mr. Jones left."],
        [],
    ]


def test_closing_quotes_stay_with_their_sentence() -> None:
    assert _feed(['He said "stop!" and left. ', "她说：“好。”然后走了。"]) == [
        ['He said "stop!"', "and left."],
        ["她说：“好。”", "然后走了。"],
        [],
    ]


def test_line_breaks_end_sentences_and_punctuation_alone_is_never_spoken() -> None:
    assert _feed(["Shopping list:\n- eggs\n- milk\n", "...", "!!"]) == [
        ["Shopping list:", "- eggs", "- milk"],
        [],
        [],
        [],
    ]


def test_run_on_text_is_cut_at_a_comma_within_the_bound() -> None:
    assert _feed(["one, two, three, four, five, six seven eight nine"], max_chars=20) == [
        ["one, two, three,", "four, five,", "six seven eight"],
        ["nine"],
    ]


def test_run_on_text_without_breaks_is_cut_hard() -> None:
    assert _feed(["a" * 25], max_chars=10) == [["a" * 10, "a" * 10], ["a" * 5]]


def test_a_long_run_without_speech_is_never_a_sentence() -> None:
    """A markdown rule or table border longer than the bound used to come out as a 'sentence'."""
    out = _feed(["-" * 25, "|---" * 10, " Then words. "], max_chars=10)
    assert out[:2] == [[], []]
    assert [sentence for group in out for sentence in group if not has_speech(sentence)] == []
    assert out[2][-1].endswith("Then words.")


@pytest.mark.parametrize(
    ("text", "speech"), [("…", False), ("“”", False), (" 1 ", True), ("饺", True), ("a", True)]
)
def test_has_speech(text: str, speech: bool) -> None:
    assert has_speech(text) is speech
