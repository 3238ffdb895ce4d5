"""Our English number words equal inflect's (which the normalizer used before; inflect is a test dependency)."""

from __future__ import annotations

import random

import inflect
import pytest

from wyoming_server.engine.gpt_sovits.text.en_numbers import (
    LIMIT,
    cardinal,
    count,
    digits,
    in_pairs,
    ordinal,
    plural,
    year,
)
from wyoming_server.engine.gpt_sovits.text.normalize_en import MAX_NUMBER_DIGITS


def _numbers() -> list[int]:
    rng = random.Random(7)
    samples = list(range(0, 3001)) + [10**k + d for k in range(3, 15) for d in (-1, 0, 1, 7, 100)]
    samples += [rng.randrange(10 ** rng.randint(4, 15)) for _ in range(3000)]
    return samples


def test_cardinals_and_ordinals_match_inflect() -> None:
    engine = inflect.engine()
    for number in _numbers():
        expected = engine.number_to_words(number, andword="", comma="")  # type: ignore[arg-type]  # stub: Number
        assert cardinal(number) == expected, number
        assert ordinal(expected) == engine.ordinal(expected), expected


def test_the_normalizer_never_asks_beyond_the_limit() -> None:
    assert LIMIT == 10**MAX_NUMBER_DIGITS
    assert cardinal(LIMIT - 1).startswith("nine hundred ninety-nine trillion")
    with pytest.raises(ValueError):
        cardinal(LIMIT)
    with pytest.raises(ValueError):
        cardinal(-1)


@pytest.mark.parametrize(
    ("number", "as_year", "in_pairs_words"),
    [
        (1984, "nineteen eighty-four", "nineteen eighty-four"),
        (1905, "nineteen oh five", "nineteen oh five"),
        (1900, "nineteen hundred", "nineteen hundred"),
        (2000, "two thousand", "two thousand"),
        (2005, "two thousand five", "twenty oh five"),  # a year says thousand, a room number does not
        (2010, "twenty ten", "twenty ten"),
        (1066, "ten sixty-six", "ten sixty-six"),
        (1000, "one thousand", "one thousand"),
        (3000, "three thousand", "three thousand"),
        (1101, "eleven oh one", "eleven oh one"),
        (204, "two hundred four", "two oh four"),
        (350, "three hundred fifty", "three fifty"),
        (200, "two hundred", "two hundred"),
        (42, "forty-two", "forty-two"),
        (12345, "twelve thousand three hundred forty-five", "one two three four five"),
    ],
)
def test_years_and_pairs(number: int, as_year: str, in_pairs_words: str) -> None:
    assert year(number) == as_year
    assert in_pairs(number) == in_pairs_words


def test_decades_digits_and_counts() -> None:
    assert plural(year(1990)) == "nineteen nineties"
    assert plural(year(1900)) == "nineteen hundreds"
    assert plural(year(2000)) == "two thousands"
    assert plural(cardinal(40)) == "forties"
    assert plural(cardinal(10)) == "tens"
    assert digits("0958") == "zero nine five eight"
    assert count("1250") == "one thousand two hundred fifty"
    assert count("9" * 16) == " ".join(["nine"] * 16)  # no words that large: digit by digit
