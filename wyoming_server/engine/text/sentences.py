"""Text -> sentences, the unit one T2S call speaks and the server streams.

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

SENTENCE_MARKS: Final = frozenset("。！？!?….\n")
CLAUSE_MARKS: Final = frozenset("，,、；;：:—~～")
SPLIT_MARKS: Final = SENTENCE_MARKS | CLAUSE_MARKS
_WINDOW_CHARS: Final = 24
_CLOSERS: Final = frozenset("\"'”’」』）)]】》")
_TITLES: Final = frozenset(
    ("mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "mt", "capt", "sgt", "lt", "gov", "rev", "gen", "col")
)
_ABBREVIATIONS: Final = frozenset(
    (
        "vs", "etc", "eg", "ie", "inc", "ltd", "co", "no", "fig", "approx", "dept", "est", "ft", "am",
        "pm",
    )
)
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


def _has_content(text: str) -> bool:
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
    pieces = [piece for piece in _cut(text) if _has_content(piece)]
    return [
        _finish(part, text_language(part, language))
        for piece in _merge_short(pieces)
        for part in _break_long(piece)
    ]
