"""A stand-in for the text frontend's `to_phones(text, language) -> Phones`, for prompt and BERT tests."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

_RUNS = re.compile(r"[A-Za-z]+|[^A-Za-z\s]+")


@dataclass(frozen=True)
class StubSegment:
    """What the text frontend's segments carry."""

    language: str
    norm_text: str
    word2ph: tuple[int, ...]
    ids: NDArray[np.int64]


@dataclass(frozen=True)
class StubPhones:
    """What the text frontend's `Phones` carries."""

    ids: NDArray[np.int64]
    segments: tuple[StubSegment, ...]


@dataclass
class StubFrontend:
    """Stands in for `engine.text.to_phones`: CJK runs are zh (2 phones per character, 1 per mark),
    Latin runs are en (1 phone per letter); records what it was asked."""

    calls: list[tuple[str, str]] = field(default_factory=list)

    def __call__(self, text: str, language: str) -> StubPhones:
        self.calls.append((text, language))
        segments = []
        for run in _RUNS.findall(text):
            if run.isascii() and run.isalpha():
                segments.append(StubSegment("en", run, (), np.array([ord(c) % 300 for c in run], np.int64)))
                continue
            chars = [c for c in run if "\u4e00" <= c <= "\u9fa5" or c in "!?…,.-，。"]
            word2ph = tuple(2 if "\u4e00" <= c <= "\u9fa5" else 1 for c in chars)
            ids = np.arange(sum(word2ph), dtype=np.int64) % 700 + 5
            segments.append(StubSegment("zh", "".join(chars), word2ph, ids))
        ids = np.concatenate([s.ids for s in segments]) if segments else np.zeros(0, np.int64)
        return StubPhones(ids, tuple(segments))
