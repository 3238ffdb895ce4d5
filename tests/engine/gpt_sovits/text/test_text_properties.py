"""Property tests: any text either gives consistent phones or a TextError, never a crash."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wyoming_server.engine.errors import TextError
from wyoming_server.engine.gpt_sovits.text import SYMBOLS, Phones, normalize, split_sentences, to_phones

# Characters the frontend treats specially, mixed with anything Unicode has.
_INTERESTING = list(
    "你好长江一不儿个了的地得是我们银行重庆嗯呣。，！？、；：“”《》…—～.,!?;:'\"()-~ 0123456789%¥￥$€£/+=×÷"
    "@#&*ABCDEFGabcxyzéü😀Пр日本カ한\n\t①α²℃°"
)
_TEXT = st.text(
    alphabet=st.one_of(st.sampled_from(_INTERESTING), st.characters(codec="utf-8")), max_size=40
)
_LANGUAGE = st.sampled_from(["zh", "en", "auto"])
_SETTINGS = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def _check(phones: Phones) -> None:
    assert phones.ids.shape == (len(phones.symbols),)
    assert all(0 <= int(i) < len(SYMBOLS) for i in phones.ids)
    assert [SYMBOLS[int(i)] for i in phones.ids] == list(phones.symbols)
    for segment in phones.segments:
        assert segment.language in ("zh", "en")
        if segment.language == "zh":
            assert segment.word2ph is not None
            assert len(segment.norm_text) == len(segment.word2ph)
            assert sum(segment.word2ph) == len(segment.phones)
            assert set(segment.word2ph) <= {1, 2}
        else:
            assert segment.word2ph is None


@_SETTINGS
@given(text=_TEXT, language=_LANGUAGE)
def test_any_text_gives_phones_or_text_error(text: str, language: str) -> None:
    try:
        phones = to_phones(text, language)
    except TextError as err:
        # Only text with nothing to read may fail; a Latin letter or a digit is read in every language.
        assert not any(char.isascii() and char.isalnum() for char in text), (text, language, err)
        return
    _check(phones)
    assert len(phones.symbols) >= 1
    # Normalized text is a fixed point and reads the same.
    normalized = normalize(text, language)
    assert normalize(normalized, language) == normalized
    assert to_phones(normalized, language).symbols == phones.symbols


@_SETTINGS
@given(text=_TEXT, language=_LANGUAGE)
def test_sentences_keep_the_content(text: str, language: str) -> None:
    sentences = split_sentences(text, language)
    for sentence in sentences:
        assert sentence.strip() == sentence and sentence
        assert any(char.isalnum() for char in sentence)
    content = [char for char in text if char.isalnum()]
    assert [char for sentence in sentences for char in sentence if char.isalnum()] == content
