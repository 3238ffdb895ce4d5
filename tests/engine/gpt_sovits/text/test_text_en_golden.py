"""Golden tests of the English and mixed-language frontend: exact phones, normalization, lookup rules.

English expectations follow CMUdict (first pronunciation, stress kept) and upstream GPT-SoVITS's rules
(single letter A -> EY1, spelled acronyms, camelCase split, "," before fewer than 4 phones, "." before
fewer than 6). Upstream's NLTK homograph choice is not reproduced. Mixed sentences follow upstream's
LangSegmenter for language "zh": Latin runs are English, the rest Chinese; numbers are read in Chinese.
"""

from __future__ import annotations

import pytest

from wyoming_server.engine.gpt_sovits.text import normalize, to_phones
from wyoming_server.engine.gpt_sovits.text.espeak_arpabet import espeak_phones, ipa_to_arpabet
from wyoming_server.engine.gpt_sovits.text.g2p_en import g2p_en, word_phones
from wyoming_server.engine.gpt_sovits.text.symbols import SYMBOL_TO_ID

EN_CASES: list[tuple[str, str]] = [
    ('Dinner is ready.', "D IH1 N ER0 IH1 Z R EH1 D IY0 ."),
    ('Hello world!', "HH AH0 L OW1 W ER1 L D !"),
    ('The meeting is at 10:30.', "DH AH0 M IY1 T IH0 NG IH1 Z AE1 T T EH1 N TH ER1 D IY2 ."),
    ('It costs $12.50.', "IH1 T K AA1 S T S T W EH1 L V D AA1 L ER0 Z AH0 N D F IH1 F T IY0 S EH1 N T S ."),
    (
        'The ticket was £3.20 and €5.',
        "DH AH0 T IH1 K AH0 T W AA1 Z TH R IY1 P AW1 N D Z AH0 N D T W EH1 N T IY0 P EH1 N S AH0 N D F "
        "AY1 V Y UW1 R OW2 Z .",
    ),
    (
        'Sales grew 3.5% in 2024.',
        "S EY1 L Z G R UW1 TH R IY1 P OY1 N T F AY1 V P ER0 S EH1 N T IH0 N T W EH1 N T IY0 T W EH1 N T "
        "IY0 F AO1 R .",
    ),
    ('She was born in 1984.', "SH IY1 W AA1 Z B AO1 R N IH0 N N AY1 N T IY1 N EY1 T IY0 F AO1 R ."),
    (
        'He finished 1st, she was 22nd.',
        "HH IY1 F IH1 N IH0 SH T F ER1 S T , SH IY1 W AA1 Z T W EH1 N T IY0 S EH1 K AH0 N D .",
    ),
    ('We have 12,000 users.', "W IY1 HH AE1 V T W EH1 L V TH AW1 Z AH0 N D Y UW1 Z ER0 Z ."),
    ('The year 2005 was good.', "DH AH0 Y IH1 R T UW1 TH AW1 Z AH0 N D F AY1 V W AA1 Z G UH1 D ."),
    (
        'Call me at 555-123-4567.',
        "K AO1 L M IY1 AE1 T F AY1 V F AY1 V F AY1 V , W AH1 N T UW1 TH R IY1 , F AO1 R F AY1 V S IH1 K "
        "S S EH1 V AH0 N .",
    ),
    (
        'It is 20°C outside.',
        "IH1 T IH1 Z T W EH1 N T IY0 D IH0 G R IY1 Z S EH1 L S IY0 AH0 S AW1 T S AY1 D .",
    ),
    ('Use a USB-C cable.', "Y UW1 S AH0 Y UW1 EH1 S B IY1 S IY1 K EY1 B AH0 L ."),
    ('I asked ChatGPT.', "AY1 AE1 S K T CH AE1 T JH IY1 P IY1 T IY1 ."),
    ('I bought a new iPhone.', "AY1 B AA1 T AH0 N UW1 AY1 F OW2 N ."),
    ('The AI model runs on a GPU.', "DH AH0 EY1 AY1 M AA1 D AH0 L R AH1 N Z AA1 N AH0 JH IY1 P IY1 Y UW1 ."),
    ('NASA launched a rocket.', "N AE1 S AH0 L AO1 N CH T AH0 R AA1 K AH0 T ."),
    ("Mum's car is red.", "M AH1 M Z K AA1 R IH1 Z R EH1 D ."),
    ("It's 5km away.", "IH1 T S F AY1 V K AH0 L AA1 M AH2 T ER0 Z AH0 W EY1 ."),
    ('Take 3/4 of a cup.', "T EY1 K TH R IY1 F AO1 R TH S AH1 V AH0 K AH1 P ."),
    (
        'Turn on the TV, e.g. the big one.',
        "T ER1 N AA1 N DH AH0 T IY1 V IY1 , F AO1 R IH0 G Z AE1 M P AH0 L DH AH0 B IH1 G W AH1 N .",
    ),
    ('Mr. Smith is here.', "M IH1 S T ER0 S M IH1 TH IH1 Z HH IY1 R ."),
    ('HELLO WORLD', "HH AH0 L OW1 W ER1 L D"),
    ('A dog barked.', "AH0 D AO1 G B AA1 R K T ."),
    ('Plan A failed.', "P L AE1 N EY1 F EY1 L D ."),
    ('OK', ". OW1 K EY1"),
    ('Hi', ", . HH AY1"),
    ('The smartwatch buzzed.', "DH AH0 S M AA1 R T W AA1 CH B AH1 Z D ."),
    (
        'The temperature is -5 degrees.',
        "DH AH0 T EH1 M P R AH0 CH ER0 IH1 Z N EH1 G AH0 T IH0 V F AY1 V D IH0 G R IY1 Z .",
    ),
    ('Version 1.2.3 is out.', "V ER1 ZH AH0 N W AH1 N P OY1 N T T UW1 P OY1 N T TH R IY1 IH1 Z AW1 T ."),
    ('Wait... what?', "W EY1 T … W AH1 T ?"),
    ("It's 6:30 pm.", "IH1 T S S IH1 K S TH ER1 D IY2 P IY1 EH1 M ."),

    ("Wait... what?", "W EY1 T … W AH1 T ?"),
    ("It's 6:30 pm.", "IH1 T S S IH1 K S TH ER1 D IY2 P IY1 EH1 M ."),
    # Upstream says "negative five"; kept.
    (
        "The temperature is -5 degrees.",
        "DH AH0 T EH1 M P R AH0 CH ER0 IH1 Z N EH1 G AH0 T IH0 V F AY1 V D IH0 G R IY1 Z .",
    ),
]

MIXED_CASES: list[tuple[str, str]] = [
    ('我用iPhone打电话。', "w o3 y ong4 AY1 F OW2 N d a3 d ian4 h ua4 ."),
    ('我买了A4纸。', "w o2 m ai3 l e5 EY1 s i04 zh ir3 ."),
    ('ChatGPT很好用。', "CH AE1 T JH IY1 P IY1 T IY1 h en2 h ao3 y ong4 ."),
    ('请插上USB-C线。', "q ing3 ch a1 sh ang4 Y UW1 EH1 S B IY1 S IY1 x ian4 ."),
    ('今天的meeting取消了。', "j in1 t ian1 d e5 M IY1 T IH0 NG q v3 x iao1 l e5 ."),
    ('我喜欢听Taylor Swift的歌。', "w o2 x i3 h uan5 t ing1 T EY1 L ER0 S W IH1 F T d e5 g e1 ."),
    ('Hello，世界！', "HH AH0 L OW1 , sh ir4 j ie4 !"),
    ('这个App很好用。', "zh e4 g e5 AE1 P h en2 h ao3 y ong4 ."),

]


@pytest.mark.parametrize(("text", "expected"), EN_CASES, ids=[text for text, _ in EN_CASES])
def test_english_sentence_phones(text: str, expected: str) -> None:
    phones = to_phones(text, "en")
    assert " ".join(phones.symbols) == expected
    assert all(segment.language == "en" and segment.word2ph is None for segment in phones.segments)


@pytest.mark.parametrize(("text", "expected"), MIXED_CASES, ids=[text for text, _ in MIXED_CASES])
def test_mixed_sentence_phones(text: str, expected: str) -> None:
    assert " ".join(to_phones(text, "zh").symbols) == expected
    assert " ".join(to_phones(text, "auto").symbols) == expected


def test_mixed_segments() -> None:
    phones = to_phones("我用iPhone打电话。", "zh")
    assert [(s.language, s.norm_text, s.word2ph) for s in phones.segments] == [
        ("zh", "我用", (2, 2)),
        ("en", "iPhone", None),
        ("zh", "打电话.", (2, 2, 2, 1)),
    ]
    assert phones.norm_text == "我用iPhone打电话."


NORMALIZE_EN_CASES: list[tuple[str, str]] = [
    ("Dinner is ready at 6:30 pm.", "Dinner is ready at six thirty P M."),
    ("at 10:00", "at ten o'clock"),
    ("13:45", "one forty-five P M"),
    ("00:30", "twelve thirty A M"),
    ("10:05", "ten oh five"),
    ("$12.50", "twelve dollars and fifty cents"),
    ("$1", "one dollar"),
    ("$0.99", "ninety-nine cents"),
    ("£3.20", "three pounds and twenty pence"),
    ("€1", "one euro"),
    ("$1.5M deal", "one point five million dollars deal"),
    ("3.5%", "three point five percent"),
    ("1st 2nd 3rd 22nd 101st", "first second third twenty-second one hundred first"),
    ("1984", "nineteen eighty-four"),
    ("1900", "nineteen hundred"),
    ("2000 2005 2024", "two thousand two thousand five twenty twenty-four"),
    ("1905", "nineteen oh five"),
    ("3000", "three thousand"),
    ("12,345", "twelve thousand three hundred forty-five"),
    ("0.5", "zero point five"),
    ("3.14", "three point one four"),
    ("1/2 3/2 3/4 1/3", "one half three halves three fourths one third"),
    ("-5", "negative five"),
    ("3-5 stars", "three to five stars"),
    ("555-123-4567", "five five five, one two three, four five six seven"),
    ("5km", "five kilometers"),
    ("1 kg", "one kilogram"),
    ("20°C", "twenty degrees Celsius"),
    ("A4 MP3 4K", "A four MP three four K"),
    ("Version 1.2.3", "Version one point two point three"),
    ("i.e. this, e.g. that, etc.", "that is this, for example that, et cetera."),
    ("Mr. Smith vs. Dr. Who", "mister Smith versus doctor Who"),
    ("the U.S. army", "the U S army"),
    ("1. Buy milk\n2. Call Mum", "first, Buy milk. second, Call Mum"),
    ("He said “hello”… and left—quickly!!", "He said hello… and left, quickly!"),
    ("café naïve", "cafe naive"),
    ("R&D @ home", "R and D at home"),
    ("😀 Привет", ""),
    ("12345678901234567890", "one two three four five six seven eight nine zero one two three four five six "
     "seven eight nine zero"),
]


@pytest.mark.parametrize(("text", "expected"), NORMALIZE_EN_CASES, ids=[t for t, _ in NORMALIZE_EN_CASES])
def test_english_normalization(text: str, expected: str) -> None:
    assert normalize(text, "en") == expected


@pytest.mark.parametrize(
    ("word", "previous", "following", "expected"),
    [
        ("A", None, "dog", "AH0"),  # the article starting a sentence
        ("A", "plan", None, "EY1"),  # the letter (upstream: always EY1)
        ("A", None, "four", "EY1"),  # "A4" normalized to "A four"
        ("a", "is", "cat", "AH0"),
        ("I", None, "am", "AY1"),
        ("USB", None, None, "Y UW1 EH1 S B IY1"),
        ("AI", None, None, "EY1 AY1"),  # upstream removes CMUdict's "ai" (AY1)
        ("GPT", None, None, "JH IY1 P IY1 T IY1"),
        ("NASA", None, None, "N AE1 S AH0"),  # 4+ letters in CMUdict: a word
        ("HTTPS", None, None, "EY1 CH T IY1 T IY1 P IY1 EH1 S"),  # not in CMUdict: spelled
        ("ChatGPT", None, None, "CH AE1 T JH IY1 P IY1 T IY1"),
        ("OpenAI", None, None, "OW1 P AH0 N EY1 AY1"),
        ("iPhone", None, None, "AY1 F OW2 N"),  # CMUdict has "iphone"
        ("xyz", None, None, "EH1 K S W AY1 Z IY1"),  # out of vocabulary, 3 letters: spelled
        ("Mum's", None, None, "M AH1 M Z"),
        ("smartwatch", None, None, "S M AA1 R T W AA1 CH"),  # compound of two CMUdict words
    ],
)
def test_english_word_rules(word: str, previous: str | None, following: str | None, expected: str) -> None:
    assert " ".join(word_phones(word, previous, following)) == expected


def test_possessive_endings() -> None:
    # Stem not in CMUdict, so the 's rule runs: voiceless end -> S, sibilant -> AH0 Z, else Z.
    assert word_phones("Zorblat's")[-1:] == ["S"]
    assert word_phones("Zorblash's")[-2:] == ["AH0", "Z"]
    assert word_phones("Zorblag's")[-1:] == ["Z"]


def test_all_caps_text_is_read_as_words() -> None:
    assert " ".join(g2p_en("HELLO MUM")) == "HH AH0 L OW1 M AH1 M"
    assert " ".join(g2p_en("USB GPT")) == "Y UW1 EH1 S B IY1 JH IY1 P IY1 T IY1"


@pytest.mark.parametrize(
    ("ipa", "expected"),
    [
        ("həlˈoʊ", "HH AH0 L OW1"),
        ("kˌuːbɚnˈɛɾiːz", "K UW2 B ER0 N EH1 T IY0 Z"),
        ("bˈʌʔn̩", "B AH1 T AH0 N"),
        ("fˈaɪɚ", "F AY1 ER0"),
        ("kˈɑːɹ", "K AA1 R"),
        ("dʒˈʌdʒ", "JH AH1 JH"),
        ("ðˈɪs θˈɪŋ", "DH IH1 S TH IH1 NG"),
        ("mˈɛʒɚ", "M EH1 ZH ER0"),
        ("bjˈuːɾifəl", "B Y UW1 T IY0 F AH0 L"),
    ],
)
def test_ipa_to_arpabet(ipa: str, expected: str) -> None:
    assert " ".join(ipa_to_arpabet(ipa)) == expected


def test_espeak_fallback_for_unknown_words() -> None:
    # The exact output depends on the espeak-ng data piper-tts ships, so assert what must hold.
    phones = espeak_phones("blorptastic")
    assert phones[:2] == ["B", "L"] and phones[-1] == "K"
    assert all(phone in SYMBOL_TO_ID for phone in phones)
    assert sum(phone[-1] == "1" for phone in phones) == 1  # one primary stress
    assert word_phones("Kubernetes")[0] == "K"
