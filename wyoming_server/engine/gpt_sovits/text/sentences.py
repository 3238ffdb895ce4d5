"""Text -> sentences, the unit one T2S call speaks and the server streams: one set of boundary rules,
used whole (`split_sentences`) and incrementally on streamed text (`SentenceSplitter`).

Upstream cuts text with a "cut method" before synthesis (api_v2's default cut5 cuts after every mark,
the web UI's cut1 after every fourth clause). One T2S call per clause gives the fastest first audio but
choppy prosody and a model that stumbles on 2-3 syllable inputs; long inputs raise latency and the risk
of the model looping. The rules here sit in between:

* sentence marks (。！？!?… . newline) always end a sentence, except a "." inside a number (3.5, .5), an
  abbreviation (Mr., e.g., Jan. 5, vol. 2), an initial (J. K.) or a name (example.com);
* clause marks (，,、；;：:—~) end a sentence only once it holds at least `CLAUSE_SPLIT_SYLLABLES`
  syllables, never between digits (12,000 / 10:30);
* as upstream: runs of marks collapse to the first, pieces with nothing to say are dropped, pieces
  shorter than `MIN_SENTENCE_SYLLABLES` join the next (the last joins the one before), a sentence
  without a final mark gets "。" (Chinese) or "." (English), and one whose first clause is shorter than
  4 characters gets a leading "。"/"." (upstream does that for the first sentence of a request; every
  sentence here is a request of its own to T2S);
* a sentence longer than `MAX_SENTENCE_SYLLABLES` is broken at clause marks, then spaces, then anywhere
  (upstream's limit is 510 characters for BERT; this one keeps a sentence well under T2S's 60 s cap).

Syllables are estimated from the text: one per Hanzi or digit, one per vowel group of a Latin word.

Streamed text (Home Assistant forwards a language model's answer cut anywhere, even mid-word) goes
through `SentenceSplitter`, which hands back each sentence as soon as the same rules say it is
complete: at once after `。！？!?`, after `.` or `…` only once whitespace and, for an abbreviation,
the next word have arrived; a run-on sentence longer than `MAX_STREAMED_SENTENCE_CHARS` is cut at
its last clause mark or space, so speech starts before the writer finally puts a full stop.
"""

from __future__ import annotations

import re
from typing import Final

from .en_abbreviations import SENTENCE_SAFE, is_calendar_word
from .lang import is_hanzi, resolve_language, text_language

CLAUSE_SPLIT_SYLLABLES: Final = 12
MIN_SENTENCE_SYLLABLES: Final = 4
MAX_SENTENCE_SYLLABLES: Final = 80
FIRST_CLAUSE_MIN_CHARS: Final = 4

MAX_STREAMED_SENTENCE_CHARS: Final = 300
"""Streamed text longer than this is cut at a soft break without waiting for an end mark."""

STRONG_ENDS: Final = frozenset("。！？!?｡")
"""Always end a sentence."""
WEAK_ENDS: Final = frozenset(".…．")
"""End a sentence unless what follows continues it (3.14, Mr. Smith, example.com)."""
SENTENCE_MARKS: Final = STRONG_ENDS | WEAK_ENDS | {"\n"}
CLAUSE_MARKS: Final = frozenset("，,、；;：:—~～")
SPLIT_MARKS: Final = SENTENCE_MARKS | CLAUSE_MARKS
_END_MARKS: Final = STRONG_ENDS | WEAK_ENDS
_WINDOW_CHARS: Final = 24
_CLOSERS: Final = frozenset("\"'”’」』）)]}】》〉")
_TITLES: Final = frozenset(
    ("mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "mt", "vs", "capt", "sgt", "lt", "gov", "rev", "gen", "col")
)
"""Never end a sentence."""
_ABBREVIATIONS: Final = frozenset(
    ("etc", "eg", "ie", "inc", "ltd", "co", "no", "fig", "approx", "dept", "est", "ft", "am", "pm")
)
"""End a sentence unless a lowercase word or a number follows."""
_MARK_CLASS: Final = "[" + re.escape("".join(sorted(SPLIT_MARKS - {"\n"} | {"-"}))) + "]"
# A run of marks collapses to its first, but not a hyphen before a word: "Mon.-Sat." is a range.
_RE_MARK_RUN: Final = re.compile(f"({_MARK_CLASS})(?!-\\w){_MARK_CLASS}+")
_RE_BARE_NEWLINE: Final = re.compile(f"(?<=[^\\s{_MARK_CLASS[1:-1]}])[ \t]*\n")
_RE_LATIN_WORD: Final = re.compile(r"[A-Za-z\u00c0-\u024f']+")
_RE_VOWEL_GROUP: Final = re.compile(r"[aeiouyà-ÿ]+", re.IGNORECASE)


def spoken_syllables(text: str) -> int:
    """Rough syllable count: Hanzi and digits one each, Latin words by vowel groups (at least one)."""
    count = sum(1 for char in text if is_hanzi(char) or char.isdigit())
    for word in _RE_LATIN_WORD.findall(text):
        groups = len(_RE_VOWEL_GROUP.findall(word))
        if groups > 1 and word.lower().endswith("e") and not word.lower().endswith("le"):
            groups -= 1  # silent e: line, one, here
        count += max(1, groups)
    return count


def has_speech(text: str) -> bool:
    """True when `text` contains something to pronounce (a letter, digit or CJK character)."""
    return any(char.isalnum() for char in text)


def _is_protected_period(text: str, index: int) -> bool:
    """A "." that does not end a sentence: 3.5, example.com, U.S, Mr., J. K. Rowling, e.g. this."""
    before = text[index - 1] if index > 0 else ""
    after = text[index + 1] if index + 1 < len(text) else ""
    if after.isdigit() and (before.isdigit() or not before.isalnum()):
        return True  # 3.5, and .5 written without its zero
    if before.isalnum() and after.isalnum() and not is_hanzi(before) and not is_hanzi(after):
        return True
    # Windows around the mark keep this linear in the text length.
    token_match = re.search(r"[A-Za-z.]+$", text[max(0, index - _WINDOW_CHARS):index])
    if token_match is None:
        return False
    token = token_match.group(0)
    letters = token.replace(".", "").lower()
    if letters in _TITLES or (len(token) == 1 and token.isupper()):
        return True
    next_word = re.match(r"\s+(\S)([A-Za-z]*)", text[index + 1:index + 1 + _WINDOW_CHARS])
    # Other abbreviations (etc., a.m., e.g., Jan., vol.) end a sentence unless a lowercase word, a number,
    # a month or weekday (Thu. Mar. 7) or a range's hyphen (Mon.-Sat.) follows.
    continues = after in ("-", "–") or (
        next_word is not None
        and (
            next_word.group(1).islower()
            or next_word.group(1).isdigit()
            or is_calendar_word("".join(next_word.groups()))
        )
    )
    return (letters in _ABBREVIATIONS or letters in SENTENCE_SAFE) and continues


def _is_protected_clause_mark(text: str, index: int) -> bool:
    before = text[index - 1] if index > 0 else ""
    after = text[index + 1] if index + 1 < len(text) else ""
    return text[index] in ",:：，" and before.isdigit() and after.isdigit()


def _is_mark(text: str, index: int) -> bool:
    """True for a split mark that really separates (not the "." of 3.5 or the ":" of 10:30)."""
    char = text[index]
    if char == ".":
        return not _is_protected_period(text, index)
    if char in CLAUSE_MARKS:
        return not _is_protected_clause_mark(text, index)
    return char in SENTENCE_MARKS


def _cut(text: str) -> list[str]:
    """Cut after sentence marks always and after clause marks once the piece is long enough."""
    pieces: list[str] = []
    start = 0
    index = 0
    while index < len(text):
        char = text[index]
        cut = False
        if _is_mark(text, index):
            cut = char in SENTENCE_MARKS or spoken_syllables(text[start:index]) >= CLAUSE_SPLIT_SYLLABLES
        index += 1
        if cut:
            while index < len(text) and text[index] in _CLOSERS:
                index += 1
            pieces.append(text[start:index])
            start = index
    pieces.append(text[start:])
    return [piece.strip() for piece in pieces if piece.strip()]


def _merge_short(pieces: list[str]) -> list[str]:
    """Join pieces until each has `MIN_SENTENCE_SYLLABLES`; a short remainder joins the last one."""
    merged: list[str] = []
    buffer = ""
    for piece in pieces:
        buffer = _join(buffer, piece)
        if spoken_syllables(buffer) >= MIN_SENTENCE_SYLLABLES:
            merged.append(buffer)
            buffer = ""
    if buffer:
        if merged:
            merged[-1] = _join(merged[-1], buffer)
        else:
            merged.append(buffer)
    return merged


def _join(left: str, right: str) -> str:
    if not left:
        return right
    needs_space = _RE_LATIN_WORD.fullmatch(left[-1]) is not None or left[-1] in ",.!?;:"
    return left + (" " if needs_space and not is_hanzi(right[:1]) else "") + right


def _break_long(piece: str) -> list[str]:
    """Pieces over `MAX_SENTENCE_SYLLABLES`: break at clause marks, then spaces, then anywhere."""
    if spoken_syllables(piece) <= MAX_SENTENCE_SYLLABLES:
        return [piece]
    parts: list[str] = [piece]
    for separator in (r"(?<=[，,、；;：:—~～])", r"(?<=\s)", r"(?<=.)"):
        parts = [p for p in re.split(separator, piece) if p]
        if len(parts) > 1:
            break
    chunks: list[str] = []
    current = ""
    for part in parts:
        if current and spoken_syllables(current + part) > MAX_SENTENCE_SYLLABLES:
            chunks.append(current)
            current = ""
        current += part
    chunks.append(current)
    result: list[str] = []
    for chunk in (c.strip() for c in chunks):
        if chunk and chunk != piece:
            result.extend(_break_long(chunk))
        elif chunk:
            result.append(chunk)
    return result


def _finish(sentence: str, language: str) -> str:
    full_stop = "。" if language == "zh" else "."
    if sentence[-1] not in SPLIT_MARKS and sentence[-1] not in _CLOSERS:
        sentence += full_stop
    first_mark = next((i for i in range(len(sentence)) if _is_mark(sentence, i)), len(sentence))
    first_clause = sentence[:first_mark].strip()
    if sentence[0] not in SPLIT_MARKS and len(first_clause) < FIRST_CLAUSE_MIN_CHARS:
        sentence = full_stop + sentence
    return sentence


def split_sentences(text: str, language: str = "auto") -> list[str]:
    """Text -> sentences to synthesize one by one (see the module doc); [] when nothing is speakable.

    `language` is "zh", "en" or "auto" (or an alias, see `lang.resolve_language`); it chooses the
    full stop added where a sentence has none ("auto" decides per sentence).
    """
    resolve_language(language)
    # A line break ends a sentence even when it is merged with the next one.
    text = _RE_BARE_NEWLINE.sub(
        lambda m: "。" if is_hanzi(m.string[m.start() - 1]) else ". ",
        text.replace("\r\n", "\n").replace("\r", "\n"),
    )
    text = _RE_MARK_RUN.sub(r"\1", text)
    pieces = [piece for piece in _cut(text) if has_speech(piece)]
    return [
        _finish(part, text_language(part, language))
        for piece in _merge_short(pieces)
        for part in _break_long(piece)
    ]


class SentenceSplitter:
    """Buffers streamed text and returns sentences as soon as they are complete (see the module doc)."""

    def __init__(self, max_sentence_chars: int = MAX_STREAMED_SENTENCE_CHARS) -> None:
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
        while (cut := self._next_boundary()) is not None:
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
            elif char in STRONG_ENDS or char in WEAK_ENDS:
                end, next_index = self._end_after_mark(text, index)
                if end is None and next_index >= len(text):
                    break
            if end is not None and has_speech(text[:end]):
                return end
            index = next_index
        return self._soft_cut(text)

    @staticmethod
    def _end_after_mark(text: str, start: int) -> tuple[int | None, int]:
        """At an end mark: (sentence end or None, index to continue scanning from; past the text = wait)."""
        run_end = start
        strong = False
        while run_end < len(text) and (text[run_end] in _END_MARKS or text[run_end] in _CLOSERS):
            strong = strong or text[run_end] in STRONG_ENDS
            run_end += 1
        if strong:
            return run_end, run_end
        if run_end >= len(text):
            return None, run_end  # "3." might become "3.14": wait for the next character
        if not text[run_end].isspace():
            return None, run_end
        if text[start] == ".":
            if not text[run_end:].strip() and _abbreviation_before(text, start):
                return None, len(text)  # "etc. " ends a sentence only if no lowercase word follows
            if _is_protected_period(text, start):
                return None, run_end
        return run_end, run_end

    def _soft_cut(self, text: str) -> int | None:
        """For run-on text: a cut after the last clause mark or space within the length bound."""
        if len(text) <= self._max_sentence_chars:
            return None
        window = text[: self._max_sentence_chars]
        for index in range(len(window) - 1, 0, -1):
            if window[index] in CLAUSE_MARKS and _is_mark(text, index) and has_speech(window[:index]):
                return index + 1
        for index in range(len(window) - 1, 0, -1):
            if window[index].isspace() and has_speech(window[:index]):
                return index + 1
        return self._max_sentence_chars


def _abbreviation_before(text: str, index: int) -> bool:
    """True when the word before the "." at `index` is one whose end depends on the next word."""
    token = re.search(r"[A-Za-z.]+$", text[max(0, index - _WINDOW_CHARS) : index])
    return token is not None and token.group(0).replace(".", "").lower() in _ABBREVIATIONS
