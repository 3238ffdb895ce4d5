"""Our English number words equal inflect's (which the normalizer used before; inflect is a test dependency)."""

from __future__ import annotations

import random

import inflect
import pytest

from wyoming_server.engine.gpt_sovits.text.en_numbers import LIMIT, cardinal, ordinal
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
