"""Incremental sentence splitting for streaming input (`synthesize-chunk` text).

Home Assistant forwards text as it arrives from a language model, cut anywhere, even
mid-word. `SentenceSplitter` buffers it and hands back each sentence as soon as it is
complete, so the sentence can be spoken while the rest is still being written:

- after `。！？` or ASCII `!?` a sentence ends at once (no ambiguity, nothing to wait for);
- after `.` (or `…`) it ends only when whitespace follows, because "3." may become "3.14"
  and "Mr." is not an end; a few abbreviations and single-letter initials never end one;
- a line break ends a sentence;
- closing quotes and brackets that follow the end mark stay with their sentence when they
  have already arrived;
- a run-on sentence longer than `MAX_SENTENCE_CHARS` is cut at its last comma or space, so
  speech starts before the writer finally puts a full stop;
- a "sentence" with nothing to pronounce (only punctuation) is never emitted on its own.
"""

from __future__ import annotations

from typing import Final

MAX_SENTENCE_CHARS: Final = 300
"""Pending text longer than this is cut at a soft break (comma, space) without waiting for an end mark."""

_STRONG_ENDS: Final = frozenset("!?！？。｡")
_WEAK_ENDS: Final = frozenset(".…．")
_CLOSERS: Final = frozenset("\"')]}’”」』）】》〉")
_SOFT_BREAKS: Final = frozenset(",;:，、；：")
_ABBREVIATIONS: Final = frozenset({"mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "mt"})


def has_speech(text: str) -> bool:
    """True when `text` contains something to pronounce (a letter, digit or CJK character)."""
    return any(char.isalnum() for char in text)


class SentenceSplitter:
    """Buffers streamed text and returns complete sentences as they become complete."""

    def __init__(self, max_sentence_chars: int = MAX_SENTENCE_CHARS) -> None:
        self._buffer = ""
        self._max_sentence_chars = max_sentence_chars

    @property
    def pending(self) -> str:
        """Text received but not yet returned as a sentence."""
        return self._buffer

    def add(self, text: str) -> list[str]:
        """Append a piece of text; returns the sentences it completed (possibly none)."""
        self._buffer += text
        sentences: list[str] = []
        while True:
            cut = self._next_boundary()
            if cut is None:
                break
            sentence, self._buffer = self._buffer[:cut].strip(), self._buffer[cut:]
            if has_speech(sentence):  # a hard cut through a long run of "-----" has nothing to say
                sentences.append(sentence)
        return sentences

    def finish(self) -> list[str]:
        """End of input: the remainder as a last sentence (nothing if it has nothing to say)."""
        remainder, self._buffer = self._buffer.strip(), ""
        return [remainder] if has_speech(remainder) else []

    def _next_boundary(self) -> int | None:
        """Index just past the first complete, speakable sentence in the buffer, or None."""
        text = self._buffer
        index = 0
        while index < len(text):
            char = text[index]
            end: int | None = None
            next_index = index + 1
            if char == "\n":
                end = index + 1
            elif char in _STRONG_ENDS or char in _WEAK_ENDS:
                end, next_index = self._end_after_mark(text, index)
                if end is None and next_index >= len(text):
                    break
            if end is not None and has_speech(text[:end]):
                return end
            index = next_index
        return self._soft_cut(text)

    def _end_after_mark(self, text: str, start: int) -> tuple[int | None, int]:
        """At an end mark: (sentence end or None, index to continue scanning from)."""
        run_end = start
        strong = False
        while run_end < len(text) and (
            text[run_end] in _STRONG_ENDS or text[run_end] in _WEAK_ENDS or text[run_end] in _CLOSERS
        ):
            strong = strong or text[run_end] in _STRONG_ENDS
            run_end += 1
        if strong:
            return run_end, run_end
        if run_end >= len(text):
            return None, run_end  # "3." might become "3.14": wait for the next character
        if not text[run_end].isspace() or self._is_abbreviation(text, start):
            return None, run_end
        return run_end, run_end

    @staticmethod
    def _is_abbreviation(text: str, mark: int) -> bool:
        """True when the word before the `.` at `mark` is an abbreviation or an initial."""
        word_start = mark
        while word_start > 0 and text[word_start - 1].isalpha():
            word_start -= 1
        word = text[word_start:mark]
        return (len(word) == 1 and word.isascii()) or word.lower() in _ABBREVIATIONS

    def _soft_cut(self, text: str) -> int | None:
        """For run-on text: a cut after the last comma or space within the length bound."""
        if len(text) <= self._max_sentence_chars:
            return None
        window = text[: self._max_sentence_chars]
        for index in range(len(window) - 1, 0, -1):
            if window[index] in _SOFT_BREAKS and has_speech(window[:index]):
                return index + 1
        for index in range(len(window) - 1, 0, -1):
            if window[index].isspace() and has_speech(window[:index]):
                return index + 1
        return self._max_sentence_chars
