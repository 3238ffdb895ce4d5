"""English words keep being spoken, whatever their origin, and `g2p_en_words` says where each reading came from."""

from __future__ import annotations

import pytest

from wyoming_server.engine.gpt_sovits.text import normalize, to_phones
from wyoming_server.engine.gpt_sovits.text.g2p_en import g2p_en, g2p_en_words, lexicon
from wyoming_server.engine.gpt_sovits.text.symbols import PUNCTUATION

# Names and brands CMUdict does not know; each must come out of a fallback for unknown words.
UNKNOWN_NAMES = ["Zorblat", "Quixxa", "Xiaomi", "Huawei", "Grzegorz", "Raghunathan", "Aoife", "Zigbee"]
COMPOUND_NAMES = {"Huawei", "Zigbee"}
"""Read as a compound of lexicon words (Zig+bee); the others by letter-to-sound rules."""


@pytest.mark.parametrize("name", UNKNOWN_NAMES)
def test_unknown_names_are_spoken_not_dropped(name: str) -> None:
    assert name.lower() not in lexicon()
    sentence = f"Please ask {name} to call back."
    normalized = normalize(sentence, "en")
    assert name in normalized.split()
    words = g2p_en_words(normalized)
    (entry,) = [word for word in words if word.word == name]
    assert entry.source == ("compound" if name in COMPOUND_NAMES else "letter-to-sound")
    assert len(entry.phones) >= 3
    # The name's phones reach the model between the phones of its neighbours.
    heard = " ".join(p for p in to_phones(sentence, "en").symbols if p not in PUNCTUATION)
    assert f"AE1 S K {' '.join(entry.phones)} T UW1" in heard


@pytest.mark.parametrize(
    ("sentence", "name", "kept"),
    [
        ("Łukasz is here.", "Łukasz", "Lukasz"),  # Ł does not decompose: it becomes L, not nothing
        ("Søren is here.", "Søren", "Soren"),
        ("Björk is here.", "Björk", "Bjork"),
        ("Ærø is an island.", "Ærø", "Aero"),
        ("我在Zorblat买的。", "Zorblat", "Zorblat"),  # English inside Chinese
    ],
)
def test_names_with_other_letters_keep_every_letter(sentence: str, name: str, kept: str) -> None:
    normalized = normalize(sentence, "auto")
    assert kept in normalized, (name, normalized)


def test_word_sources() -> None:
    words = g2p_en_words("Zorblat bought USBs, ChatGPT and a smartwatch.")
    assert [(word.word, word.source) for word in words] == [
        ("Zorblat", "letter-to-sound"),
        ("bought", "cmudict"),
        ("USBs", "spelled"),
        (",", "mark"),
        ("ChatGPT", "spelled"),  # Chat from CMUdict, GPT spelled: the less sure part names the source
        ("and", "cmudict"),
        ("a", "cmudict"),
        ("smartwatch", "compound"),
        (".", "mark"),
    ]
    assert words[1].phones == ("B", "AA1", "T")
    assert words[2].phones == ("Y", "UW1", "EH1", "S", "B", "IY1", "Z")  # U S B and a plural Z


def test_word_phones_join_to_the_sentence_phones() -> None:
    text = normalize("Dr. Nguyen's Xiaomi TV costs $1,199.99 at 7pm, i.e. tonight!", "en")
    assert [phone for word in g2p_en_words(text) for phone in word.phones] == g2p_en(text)
