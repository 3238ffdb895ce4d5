"""The English golden set (`data/en_golden.tsv`): does each sentence read as a careful announcer reads it?

`data/en_heldout.tsv` is a second, smaller set written after the normalizer was tuned on the first; it
is scored the same way. Both print their accuracy by category and must reach `REQUIRED_ACCURACY`.

Each sentence goes the way the server takes it: `split_sentences`, then `to_phones` per sentence. It
reads right when those phones, punctuation and stress digits aside, equal the phones of one of the
expected readings (written by hand, in words). Comparing phones makes "TV" and "T V" or "Ms" and "Ms."
one reading, as a listener hears them, while "Saint" and "Street" stay apart; stress is CMUdict's
business, not the normalizer's (its "bbc" stresses the letters B B C differently from spelling them).
The accuracy by category is printed.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pytest

from wyoming_server.engine.gpt_sovits.text import normalize, split_sentences, to_phones
from wyoming_server.engine.gpt_sovits.text.g2p_en import g2p_en
from wyoming_server.engine.gpt_sovits.text.lang import is_hanzi
from wyoming_server.engine.gpt_sovits.text.symbols import PUNCTUATION

DATA: Final = Path(__file__).parent / "data"
GOLDEN_FILE: Final = DATA / "en_golden.tsv"
HELD_OUT_FILE: Final = DATA / "en_heldout.tsv"
REQUIRED_ACCURACY: Final = 0.97
MIN_SENTENCES: Final = 200


@dataclass(frozen=True, slots=True)
class GoldenCase:
    category: str
    text: str
    readings: tuple[str, ...]
    """Equally right ways to say `text`, in words."""

    @property
    def language(self) -> str:
        return "zh" if any(is_hanzi(char) for char in self.text) else "en"


def load_cases(path: Path = GOLDEN_FILE) -> list[GoldenCase]:
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    assert lines[0] == "category\ttext\texpected"
    cases = []
    for line in lines[1:]:
        category, text, expected = line.split("\t")
        cases.append(GoldenCase(category, text, tuple(r.strip() for r in expected.split(" | "))))
    return cases


def _spoken(phones: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    return tuple(phone.rstrip("012") for phone in phones if phone not in PUNCTUATION)


def read_aloud(text: str, language: str) -> tuple[str, ...]:
    """The phones the engine speaks for `text`, sentence by sentence, without pauses."""
    sentences = split_sentences(text, language)
    return tuple(phone for sentence in sentences for phone in _spoken(to_phones(sentence, language).symbols))


def expected_phones(reading: str, language: str) -> tuple[str, ...]:
    # English readings are words already, so only the G2P reads them; mixed ones need the language split.
    if language == "en":
        return _spoken(g2p_en(reading))
    return _spoken(to_phones(reading, language).symbols)


def reads_right(case: GoldenCase) -> bool:
    heard = read_aloud(case.text, case.language)
    return any(heard == expected_phones(reading, case.language) for reading in case.readings)


def accuracy_table(results: dict[str, list[bool]]) -> str:
    rows = [f"{'category':<18}{'right':>7}{'total':>7}{'accuracy':>10}"]
    for category, oks in results.items():
        rows.append(f"{category:<18}{sum(oks):>7}{len(oks):>7}{sum(oks) / len(oks):>10.1%}")
    everything = [ok for oks in results.values() for ok in oks]
    rows.append(f"{'all':<18}{sum(everything):>7}{len(everything):>7}{sum(everything) / len(everything):>10.1%}")
    return "\n".join(rows)


def test_golden_sets_are_well_formed() -> None:
    golden, held_out = load_cases(GOLDEN_FILE), load_cases(HELD_OUT_FILE)
    assert len(golden) >= MIN_SENTENCES
    texts = [case.text for case in golden + held_out]
    assert len(set(texts)) == len(texts), "a sentence is listed twice"
    assert {case.category for case in held_out} <= {case.category for case in golden}
    for case in golden + held_out:
        for reading in case.readings:
            # Readings are words: no digits or symbols left for the normalizer to decide.
            assert not any(char.isdigit() or char in "$£€%°/@&#" for char in reading), reading


@pytest.mark.parametrize("path", [GOLDEN_FILE, HELD_OUT_FILE], ids=["golden", "held-out"])
def test_accuracy(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results: dict[str, list[bool]] = defaultdict(list)
    misread: list[str] = []
    for case in load_cases(path):
        ok = reads_right(case)
        results[case.category].append(ok)
        if not ok:
            misread.append(f"  {case.category}: {case.text!r} -> {normalize(case.text, case.language)!r}")
    everything = [ok for oks in results.values() for ok in oks]
    accuracy = sum(everything) / len(everything)
    with capsys.disabled():
        print(f"\nEnglish sentences ({path.name}), read right by category:")
        print(accuracy_table(results))
        if misread:
            print("misread:\n" + "\n".join(misread))
    assert accuracy >= REQUIRED_ACCURACY, f"{accuracy:.1%} of {path.name} reads right"


def test_a_misreading_is_counted() -> None:
    # The comparison must tell readings apart: Saint is not Street, a count is not a year.
    assert not reads_right(GoldenCase("abbreviations", "St. Louis is big.", ("Street Louis is big.",)))
    assert not reads_right(GoldenCase("counts", "We have 1250 users.", ("We have twelve fifty users.",)))
    assert reads_right(GoldenCase("acronyms", "Turn on the TV.", ("Turn on the T V", "Turn on the telly")))


# The examples of issue 20, normalized exactly (the golden set compares phones; this compares text).
ISSUE_TABLE: Final = [
    ("The bill is $1,234.56.", "The bill is one thousand two hundred thirty-four dollars and fifty-six cents."),
    ("It costs $1250", "It costs one thousand two hundred fifty dollars"),
    ("The 1990s were fun.", "The nineteen nineties were fun."),
    ("Ratio 1:4.", "Ratio one to four."),
    ("Call me on Jan. 5th.", "Call me on January fifth."),
    ("Read vol. 2 / Oak St.", "Read volume two, Oak Street."),
    ("Room 1101", "Room eleven oh one"),
]


@pytest.mark.parametrize(("text", "expected"), ISSUE_TABLE, ids=[text for text, _ in ISSUE_TABLE])
def test_issue_table(text: str, expected: str) -> None:
    assert normalize(text, "en") == expected
