"""The Chinese golden set (data/zh_golden.tsv): loading, the spoken reading of a sentence, scoring.

A sentence is right when its whole reading is one of the accepted readings: same syllables with the
same tones, and each English run spoken (compared by its letters, so "WiFi" and "Wi Fi" are the same).
Spellings are compared after `canonical` (ü written v; ju/qu/xu/yu with u).
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from wyoming_server.engine.gpt_sovits.text.explain import explain
from wyoming_server.engine.gpt_sovits.text.normalize_zh import ZH_PUNCTUATION

GOLDEN_TSV: Final = Path(__file__).parent / "data" / "zh_golden.tsv"
HELD_OUT_TSV: Final = Path(__file__).parent / "data" / "zh_heldout.tsv"
UPSTREAM_TSV: Final = Path(__file__).parent / "data" / "zh_golden_upstream.tsv"
CATEGORIES: Final = (
    "polyphone", "neutral", "yi_bu", "numbers", "dates", "times", "money", "scores", "phone", "units", "mixed_en",
)

Token = frozenset[str]
"""The accepted spellings of one syllable, or the letters of one English run."""


def canonical(syllable: str) -> str:
    """One spelling per syllable: "ü"/"u:" as v, then u after j, q, x, y (pypinyin writes qu, lv)."""
    text = syllable.lower().replace("ü", "v").replace("u:", "v")
    if text[:1] in ("j", "q", "x", "y"):
        text = text.replace("v", "u")
    return text


def _is_syllable(token: str) -> bool:
    return token[-1:].isdigit()


def parse_reading(reading: str) -> tuple[Token, ...]:
    """"ni3 hao3|hao2 iPhone" -> one token per syllable, one per English run (letters, lowercase)."""
    tokens: list[Token] = []
    english = ""
    for item in reading.split():
        if _is_syllable(item.split("|")[0]):
            if english:
                tokens.append(frozenset({english}))
                english = ""
            tokens.append(frozenset(canonical(choice) for choice in item.split("|")))
        else:
            english += "".join(char for char in item.lower() if char.isalpha())
    if english:
        tokens.append(frozenset({english}))
    return tuple(tokens)


@dataclass(frozen=True, slots=True)
class GoldenCase:
    category: str
    text: str
    readings: tuple[tuple[Token, ...], ...]
    """Every accepted reading."""
    written: str
    """The expected column as written in the file."""

    def accepts(self, spoken: tuple[str, ...]) -> bool:
        """True when `spoken` (from `spoken_reading`) is one of the accepted readings."""
        return any(
            len(reading) == len(spoken) and all(token in ok for token, ok in zip(spoken, reading, strict=True))
            for reading in self.readings
        )


def load_cases(path: Path = GOLDEN_TSV) -> list[GoldenCase]:
    """The golden cases in file order; '#' lines are comments."""
    cases: list[GoldenCase] = []
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.reader((line for line in handle if line.strip() and not line.startswith("#")), delimiter="\t"):
            category, text, expected = row
            readings = tuple(parse_reading(reading) for reading in expected.split(" / "))
            cases.append(GoldenCase(category, text, readings, expected))
    return cases


def spoken_reading(text: str) -> tuple[str, ...]:
    """What our frontend says for `text` (language "zh"): syllables and English runs, as tokens."""
    tokens: list[str] = []
    for segment in explain(text, "zh"):
        if segment.language == "en":
            letters = "".join(char.lower() for word in segment.words if not word.is_mark for char in word.word)
            if letters:
                tokens.append(letters)
            continue
        for word in segment.words:
            tokens.extend(
                canonical(syllable) for char, syllable in zip(word.word, word.reading, strict=True)
                if char not in ZH_PUNCTUATION
            )
    return tuple(tokens)


Reader = Callable[[GoldenCase], tuple[str, ...] | None]


def score(cases: Iterable[GoldenCase], reader: Reader) -> dict[str, tuple[int, int]]:
    """Category -> (right, total); "all" for the whole set. A reader returning None is wrong."""
    right: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for case in cases:
        spoken = reader(case)
        ok = spoken is not None and case.accepts(spoken)
        for key in (case.category, "all"):
            total[key] += 1
            right[key] += ok
    return {key: (right[key], total[key]) for key in (*CATEGORIES, "all") if total[key]}


def load_upstream(path: Path = UPSTREAM_TSV) -> dict[str, tuple[str, ...]]:
    """Sentence -> upstream GPT-SoVITS's reading (pypinyin path), recorded by `upstream_zh_readings.py`."""
    readings: dict[str, tuple[str, ...]] = {}
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.reader((line for line in handle if not line.startswith("#")), delimiter="\t"):
            text, reading = row
            readings[text] = tuple(canonical(t) if _is_syllable(t) else t for t in reading.split())
    return readings
