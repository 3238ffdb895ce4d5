"""Lean stand-ins for the word tables of jieba and pypinyin, which hold most of the frontend's memory.

jieba keeps its dictionary as a Python dict of about 580,000 words and prefixes (about 65 MB) and
its part-of-speech tags as another dict of 350,000 words (about 35 MB); pypinyin's phrase table
holds 47,000 phrases as 600,000 separate list and string objects (about 35 MB). The segmenter only
asks these tables "is it there?" and "what is its value?", so they can live in sorted numpy arrays
of 64-bit string hashes instead (`HashedTable`, 9-16 bytes an entry), built straight from jieba's
dictionary file without the dicts ever existing; pypinyin's syllable lists can be shared. The
values, and so the phones, are exactly the same.

A key's hash is Python's `hash((key, len(key)))`: 64 bits, randomized per process (fine: a table
is built in the process that reads it). The length matters: CPython hashes a string's raw buffer,
so "BP" (two 1-byte characters) and "偂" (U+5042, one 2-byte character) alone share a hash, and
jieba's dictionary has six such pairs. Keys sharing a hash are caught at build time by a second,
independent checksum (CRC-32 of the UTF-8 bytes); an absent string matches a present one with a
chance of about 1e-14 per look-up.
"""

from __future__ import annotations

import json
import re
import sys
import zlib
from array import array
from typing import IO, Any, Final

import numpy as np
from numpy.typing import NDArray

HASH_BITS: Final = 64
_WORD: Final = 1
"""Rank of a dictionary word: beats a prefix entry of the same string (jieba: prefixes are 0)."""
_PREFIX: Final = 0


def _hash(key: str) -> int:
    return hash((key, len(key)))


class HashCollisionError(ValueError):
    """Two different keys share a hash, or hash() is not 64-bit here: keep the library's own dicts."""


class HashedTable:
    """A read-only str -> value mapping over sorted hashes; values are ints or from a small set.

    Supports what jieba and pypinyin use: `in`, `[]`, `get`, `len`.
    """

    __slots__ = ("_choices", "_hashes", "_values")

    def __init__(self, hashes: NDArray[np.int64], values: NDArray[Any], choices: list[Any] | None = None) -> None:
        self._hashes = hashes
        self._values = values
        self._choices = choices

    def _find(self, key: object) -> int:
        if not isinstance(key, str):
            return -1
        h = _hash(key)
        index = int(np.searchsorted(self._hashes, h))
        if index < self._hashes.shape[0] and int(self._hashes[index]) == h:
            return index
        return -1

    def _value(self, index: int) -> Any:
        value = int(self._values[index])
        return self._choices[value] if self._choices is not None else value

    def __contains__(self, key: object) -> bool:
        return self._find(key) >= 0

    def __getitem__(self, key: str) -> Any:
        index = self._find(key)
        if index < 0:
            raise KeyError(key)
        return self._value(index)

    def get(self, key: str, default: Any = None) -> Any:
        """The value of `key`, or `default`."""
        index = self._find(key)
        return default if index < 0 else self._value(index)

    def __len__(self) -> int:
        return int(self._hashes.shape[0])

    @property
    def nbytes(self) -> int:
        """Bytes held by the arrays."""
        return int(self._hashes.nbytes + self._values.nbytes)


class TableBuilder:
    """Collects (key, value, rank) rows in flat arrays; for a key given twice the higher rank wins,
    then the later row (as a dict assignment would) or, with `keep_first`, the earlier one (as
    `dict.setdefault` would)."""

    def __init__(self, keep_first: bool = False) -> None:
        self._keep_first = keep_first
        if sys.hash_info.width != HASH_BITS:
            raise HashCollisionError(f"hash() is {sys.hash_info.width}-bit here")
        self._hashes = array("q")
        self._checks = array("I")
        self._values = array("q")
        self._ranks = array("b")

    def add(self, key: str, value: int, rank: int = _WORD) -> None:
        """One row."""
        self._hashes.append(_hash(key))
        self._checks.append(zlib.crc32(key.encode("utf-8")))
        self._values.append(value)
        self._ranks.append(rank)

    def build(self, choices: list[Any] | None = None) -> HashedTable:
        """The table; raises HashCollisionError when two different keys share a hash.

        Written to keep the transient memory small: one stable sort, then boolean masks.
        """
        hashes = np.frombuffer(self._hashes, dtype=np.int64)
        ranks = np.frombuffer(self._ranks, dtype=np.int8)
        order = np.lexsort((ranks, hashes))  # stable: rows of equal (hash, rank) keep their order
        sorted_hashes = hashes[order]
        same = sorted_hashes[1:] == sorted_hashes[:-1]  # row i+1 has row i's hash
        checks = np.frombuffer(self._checks, dtype=np.uint32)[order]
        if bool(np.any(same & (checks[1:] != checks[:-1]))):
            raise HashCollisionError("two different keys share a 64-bit hash")
        del checks
        winner = np.ones(order.shape[0], dtype=bool)
        if self._keep_first:
            if bool(np.any(ranks != ranks[0])):
                raise ValueError("keep_first tables take one rank")
            winner[1:] = ~same  # the first row of each hash
        else:
            winner[:-1] = ~same  # the last row of each hash: the highest rank, then the latest
        del same
        values = np.frombuffer(self._values, dtype=np.int64)[order[winner]]
        if choices is not None:
            values = values.astype(np.uint8 if len(choices) <= 256 else np.int32)
        elif values.size and values.min() >= np.iinfo(np.int32).min and values.max() <= np.iinfo(np.int32).max:
            values = values.astype(np.int32)
        return HashedTable(np.ascontiguousarray(sorted_hashes[winner]), values, choices)


def jieba_tables(dictionary: IO[bytes]) -> tuple[HashedTable, int, HashedTable]:
    """(FREQ, total, word_tag_tab) exactly as jieba builds them from its dictionary file.

    jieba's `gen_pfdict`: every line "word freq [tag]" sets FREQ[word] = freq (the last line of a
    word wins) and adds freq to the total; every prefix of a word not yet present gets 0. Its
    `POSTokenizer.load_word_tag`: word -> tag, the last line wins.
    """
    freq, tags = TableBuilder(), TableBuilder()
    tag_names: list[str] = []
    tag_index: dict[str, int] = {}
    total = 0
    with dictionary:
        for number, raw in enumerate(dictionary, 1):
            line = raw.strip().decode("utf-8")
            if not line:
                continue
            parts = line.split(" ")
            try:
                word, count = parts[0], int(parts[1])
            except (IndexError, ValueError) as err:
                raise ValueError(f"invalid jieba dictionary line {number}: {line!r}") from err
            total += count
            for end in range(1, len(word)):
                freq.add(word[:end], 0, _PREFIX)
            freq.add(word, count)
            if len(parts) == 3:
                tag = parts[2]
                if tag not in tag_index:
                    tag_index[tag] = len(tag_names)
                    tag_names.append(tag)
                tags.add(word, tag_index[tag])
    return freq.build(), total, tags.build(tag_names)


_RE_PHRASE_ENTRY: Final = re.compile(r'"((?:[^"\\]|\\.)+)"\s*:\s*(\[\s*(?:\[[^\[\]]*\]\s*,?\s*)*\])')


def read_phrase_table(text: str) -> dict[str, list[list[str]]]:
    """pypinyin's phrases_dict.json -> {phrase: [[syllable, ...] per character]}, read entry by entry.

    Equal syllable lists are one shared list (pypinyin deep-copies a value before changing it).
    Raises ValueError when the text is not a JSON object of such entries.
    """
    shared: dict[tuple[str, ...], list[str]] = {}
    table: dict[str, list[list[str]]] = {}
    end = 0
    for match in _RE_PHRASE_ENTRY.finditer(text):
        if text[end:match.start()].strip(" \n\r\t{,"):
            raise ValueError(f"unexpected text before offset {match.start()} of the phrase table")
        phrase = json.loads(f'"{match.group(1)}"')
        value = json.loads(match.group(2))
        table[phrase] = [shared.setdefault(tuple(item), [sys.intern(s) for s in item]) for item in value]
        end = match.end()
    if not table or text[end:].strip(" \n\r\t,") != "}":
        raise ValueError("the phrase table does not end where expected")
    return table
