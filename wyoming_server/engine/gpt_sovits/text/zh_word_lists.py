"""The Mandarin word lists tone sandhi and erhua need, read once from `data/zh_word_lists.txt`."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources


@dataclass(frozen=True, slots=True)
class ZhWordLists:
    """Word lists by role (see the data file's header for their sources)."""

    neutral_tone: frozenset[str]
    """Words whose last syllable takes the neutral tone (麻烦 ma2 fan5)."""
    not_neutral_tone: frozenset[str]
    """Reduplications and -子 words that keep their full tones (人人, 电子)."""
    erhua_kept: frozenset[str]
    """Words whose 儿 always takes the preceding tone, whatever their part of speech."""
    erhua_separate: frozenset[str]
    """Words whose 儿 stays a syllable of its own with its own tone (女儿, 花儿)."""


def parse_word_lists(text: str) -> dict[str, frozenset[str]]:
    """"[section]" headers followed by white-space separated words; "#" starts a comment line."""
    sections: dict[str, set[str]] = {}
    current: set[str] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], set())
        elif current is not None:
            current.update(line.split())
    return {name: frozenset(words) for name, words in sections.items()}


@functools.cache
def zh_word_lists() -> ZhWordLists:
    """The packaged lists (cached)."""
    text = resources.files(__package__).joinpath("data", "zh_word_lists.txt").read_text(encoding="utf-8")
    sections = parse_word_lists(text)
    return ZhWordLists(
        neutral_tone=sections["neutral_tone"],
        not_neutral_tone=sections["not_neutral_tone"],
        erhua_kept=sections["erhua_kept"],
        erhua_separate=sections["erhua_separate"],
    )
