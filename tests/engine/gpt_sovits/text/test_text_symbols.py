"""The v2 symbol table and the pinyin -> opencpop-strict phone mapping."""

from __future__ import annotations

import pytest

from wyoming_server.engine.gpt_sovits.manifest import SYMBOL_TABLE_V2
from wyoming_server.engine.gpt_sovits.text.pinyin_phones import PinyinError, syllable_to_phones
from wyoming_server.engine.gpt_sovits.text.symbols import (
    SYMBOL_TABLE_ID,
    SYMBOL_TABLE_SHA256,
    SYMBOL_TO_ID,
    SYMBOLS,
    symbol_table_sha256,
)


def test_table_size_and_identity() -> None:
    assert len(SYMBOLS) == 732
    assert len(set(SYMBOLS)) == 732
    assert SYMBOL_TABLE_ID == SYMBOL_TABLE_V2 == "gpt-sovits-v2-732"
    # sha256 of upstream's symbols2.symbols joined with "\n", computed once from upstream's file.
    assert symbol_table_sha256() == SYMBOL_TABLE_SHA256
    assert SYMBOL_TABLE_SHA256 == "0771f6cd6f6201e8c2b0de921dc69cc04caf3f346c599d4a41413967d5674da7"


@pytest.mark.parametrize(
    ("symbol", "expected_id"),
    [("!", 0), (",", 1), ("-", 2), (".", 3), ("?", 4), ("AA", 5), ("EE", 33), ("OO", 66),
     ("SP", 77), ("SP2", 78), ("SP3", 79), ("UNK", 86), ("_", 95), ("…", 321),
     ("[", 322), ("]", 323), ("ㄱ", 324), ("Ya", 353), ("Yz", 731)],
)
def test_handy_ids(symbol: str, expected_id: int) -> None:
    assert SYMBOL_TO_ID[symbol] == expected_id
    assert SYMBOLS[expected_id] == symbol


def test_layout() -> None:
    base = list(SYMBOLS[:322])
    assert base == sorted(base)  # the v1 table: one sorted set
    assert SYMBOLS[322:324] == ("[", "]")
    assert list(SYMBOLS[324:353]) == sorted(SYMBOLS[324:353])
    assert all(s.startswith("Y") for s in SYMBOLS[353:])
    for tone in "12345":
        assert f"ir{tone}" in SYMBOL_TO_ID and f"i0{tone}" in SYMBOL_TO_ID and f"En{tone}" in SYMBOL_TO_ID


@pytest.mark.parametrize(
    ("syllable", "expected"),
    [
        ("a1", ("AA", "a1")), ("ang2", ("AA", "ang2")), ("e4", ("EE", "e4")), ("er2", ("EE", "er2")),
        ("o1", ("OO", "o1")), ("ou3", ("OO", "ou3")), ("yu2", ("y", "v2")), ("yuan2", ("y", "van2")),
        ("yue4", ("y", "ve4")), ("yun2", ("y", "vn2")), ("yan4", ("y", "En4")), ("ye3", ("y", "E3")),
        ("yi1", ("y", "i1")), ("ying2", ("y", "ing2")), ("you3", ("y", "ou3")), ("yong3", ("y", "ong3")),
        ("wu3", ("w", "u3")), ("wei4", ("w", "ei4")), ("weng1", ("w", "eng1")), ("zhi1", ("zh", "ir1")),
        ("chi1", ("ch", "ir1")), ("shi4", ("sh", "ir4")), ("ri4", ("r", "ir4")), ("zi5", ("z", "i05")),
        ("ci2", ("c", "i02")), ("si4", ("s", "i04")), ("ju4", ("j", "v4")), ("quan2", ("q", "van2")),
        ("xue2", ("x", "ve2")), ("jun1", ("j", "vn1")), ("lv4", ("l", "v4")), ("nve4", ("n", "ve4")),
        ("gui4", ("g", "ui4")), ("liu2", ("l", "iu2")), ("dun4", ("d", "un4")), ("zhuang4", ("zh", "uang4")),
        ("hao3", ("h", "ao3")), ("de5", ("d", "e5")), ("n2", ("EE", "en2")), ("m2", ("m", "u2")),
        ("ng2", ("EE", "eng2")), ("hm5", ("h", "en5")),
    ],
)
def test_syllable_to_phones(syllable: str, expected: tuple[str, str]) -> None:
    assert syllable_to_phones(syllable) == expected


@pytest.mark.parametrize("bad", ["", "x", "q1", "ss3", "hello", "ab", "中1"])
def test_syllable_to_phones_rejects_non_pinyin(bad: str) -> None:
    with pytest.raises(PinyinError):
        syllable_to_phones(bad)
