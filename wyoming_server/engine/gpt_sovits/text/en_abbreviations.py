"""English abbreviations read by context: St. is Saint before a name and Street after one, Jan. 5 is January.

One scan over words with an optional trailing ".", each looked up with its neighbours:

* titles before a capitalized name (Dr. Smith, Prof. Brown, Mt. Everest, St. Louis);
* street types after a capitalized word or a number (Oak St., Elm Dr., Fifth Ave.); St. and Dr. take
  whichever reading their neighbours call for, a sentence's first word not counting as a name;
* words before a number (vol. 2, No. 5, p. 12, Ch. 3, Apt. 3B);
* months and weekdays (Jan., Sept., Fri.; without the dot only next to a number: Oct 31, Tue 7 Jan);
* words that always expand (approx., dept., Ltd.).

An expansion that ended a sentence keeps its full stop. `SENTENCE_SAFE` lists the abbreviations after
which `sentences.split_sentences` does not end a sentence when a number or a month follows.
"""

from __future__ import annotations

import re
from typing import Final

MONTHS: Final = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
    "November", "December",
)
WEEKDAYS: Final = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTH_ABBREVIATIONS: Final = {
    "jan": "January", "feb": "February", "mar": "March", "apr": "April", "jun": "June", "jul": "July",
    "aug": "August", "sep": "September", "sept": "September", "oct": "October", "nov": "November",
    "dec": "December",
}
_WEEKDAY_ABBREVIATIONS: Final = {
    "mon": "Monday", "tue": "Tuesday", "tues": "Tuesday", "wed": "Wednesday", "thu": "Thursday",
    "thur": "Thursday", "thurs": "Thursday", "fri": "Friday", "sat": "Saturday", "sun": "Sunday",
}
# Weekday abbreviations that are also common words: expanded only with a dot and a capital.
_WORDLIKE_WEEKDAYS: Final = frozenset({"wed", "sat", "sun"})
_TITLES: Final = {
    "mr": "mister", "mrs": "missus", "ms": "Ms", "prof": "professor", "capt": "captain",
    "sgt": "sergeant", "lt": "lieutenant", "gov": "governor", "rev": "reverend", "gen": "general",
    "sen": "senator", "rep": "representative", "fr": "father", "col": "colonel", "maj": "major",
    "pres": "president", "ft": "Fort",
}
_AFTER_NAME: Final = {"jr": "junior", "sr": "senior"}
_STREET_TYPES: Final = {
    "st": "Street", "dr": "Drive", "ave": "Avenue", "blvd": "Boulevard", "rd": "Road", "ln": "Lane",
    "ct": "Court", "pl": "Place", "pkwy": "Parkway", "hwy": "Highway", "sq": "Square",
}
_BEFORE_NUMBER: Final = {
    "no": "number", "nos": "numbers", "vol": "volume", "vols": "volumes", "p": "page", "pp": "pages",
    "fig": "figure", "figs": "figures", "ch": "chapter", "chap": "chapter", "sec": "section",
    "est": "established", "apt": "apartment", "rm": "room", "ste": "suite", "ext": "extension",
    "ep": "episode", "pt": "part",
}
# Capitalized forms that are read before a number even without a dot ("Apt 3B", "Vol 2").
_BEFORE_NUMBER_WITHOUT_DOT: Final = frozenset({"Apt", "Vol", "Rm", "Ste", "Ch", "Fig", "Ep", "Pt"})
_ALWAYS: Final = {
    "approx": "approximately", "dept": "department", "ltd": "Limited", "inc": "Incorporated",
    "corp": "Corporation", "bros": "Brothers", "govt": "government", "avg": "average",
    "misc": "miscellaneous",
}
SENTENCE_SAFE: Final = frozenset(
    {*_MONTH_ABBREVIATIONS, *_WEEKDAY_ABBREVIATIONS, *_BEFORE_NUMBER, *_STREET_TYPES, *_TITLES, "mt"}
)
"""Abbreviations (lowercase, no dot) whose "." is not a sentence end before a number or a month."""
_CALENDAR_WORDS: Final = frozenset(
    word.lower() for word in (*MONTHS, *WEEKDAYS, *_MONTH_ABBREVIATIONS, *_WEEKDAY_ABBREVIATIONS)
)

# Not inside dotted letters (e.g., U.S.) or addresses; a "." the sentence splitter put first is fine.
_RE_CANDIDATE: Final = re.compile(r"(?<![\w'@/])(?<!\w\.)([A-Za-z]+)(\.?)(?![\w@]|\.\w)", re.ASCII)
_RE_PREVIOUS: Final = re.compile(r"([A-Za-z0-9]+)([^A-Za-z0-9]*)$", re.ASCII)
_RE_NEXT: Final = re.compile(r"[ \t]*([-–]?)[ \t]*([A-Za-z0-9]+)?", re.ASCII)
_RE_SENTENCE_END_BEFORE: Final = re.compile(r"[.!?…:\n]\s*$")
_RE_NOTHING_MORE: Final = re.compile(r"\s*(?:[!?…]|$)")
_WINDOW: Final = 80
"""Characters looked at before an abbreviation: enough for two words, and linear in the text length."""


def is_calendar_word(word: str) -> bool:
    """A month or weekday name or its abbreviation ("Jan", "Friday"), any case, without a dot."""
    return word.lower() in _CALENDAR_WORDS


class _Context:
    """The words around an abbreviation candidate."""

    def __init__(self, match: re.Match[str]) -> None:
        text = match.string
        window_start = max(0, match.start() - _WINDOW)
        before = text[window_start : match.start()]
        previous = _RE_PREVIOUS.search(before)
        self.previous = previous.group(1) if previous else ""
        self.previous_gap = previous.group(2) if previous else before
        # A sentence's first word is capitalized anyway: it says nothing about names.
        head = before[: len(before) - len(self.previous_gap) - len(self.previous)]
        starts_sentence = (window_start == 0 and head.strip() == "") or _RE_SENTENCE_END_BEFORE.search(head)
        self.previous_is_name = (
            self.previous[:1].isupper() and self.previous_gap.strip() == "" and not starts_sentence
        )
        self.previous_is_number = self.previous[:1].isdigit() and self.previous_gap.strip() == ""
        following = _RE_NEXT.match(text, match.end())
        assert following is not None  # the pattern can match the empty string
        self.next = following.group(2) or ""
        self.next_after_dash = bool(following.group(1))
        at_end = not self.next and _RE_NOTHING_MORE.match(text, following.end()) is not None
        before_sentence = self.next[:1].isupper() and not is_calendar_word(self.next) and not following.group(1)
        self.ends_sentence = at_end or before_sentence

    @property
    def next_is_name(self) -> bool:
        return self.next[:1].isupper() and not self.next_after_dash

    @property
    def next_is_number(self) -> bool:
        return self.next[:1].isdigit() and not self.next_after_dash


def _saint_or_street(context: _Context, title: str, street: str) -> str | None:
    """St./Dr.: a title before a name unless a name or number comes first (Oak St., 12 Park Dr.)."""
    if context.previous_is_name or context.previous_is_number:
        return street
    if context.next_is_name:
        return title
    if context.previous.lower() in ("the", "a"):
        return title.lower()
    return street if context.previous else None


def _expansion(word: str, dot: bool, context: _Context) -> str | None:
    lower = word.lower()
    capitalized = word[:1].isupper()
    if lower == "st" and (dot or capitalized):
        return _saint_or_street(context, "Saint", "Street")
    if lower == "dr" and capitalized:
        return _saint_or_street(context, "doctor", "Drive")
    if lower == "mt" and capitalized and context.next_is_name:
        return "Mount"
    if lower in ("mr", "mrs", "ms") and dot and capitalized:
        return _TITLES[lower]
    if lower in _TITLES and dot and capitalized and context.next_is_name:
        return _TITLES[lower]
    if lower in _AFTER_NAME and capitalized and context.previous_is_name:
        return _AFTER_NAME[lower]
    if lower in _STREET_TYPES and capitalized and (context.previous_is_name or context.previous_is_number):
        return _STREET_TYPES[lower]
    if lower in _BEFORE_NUMBER and context.next_is_number and (dot or word in _BEFORE_NUMBER_WITHOUT_DOT):
        return _BEFORE_NUMBER[lower]
    if lower in _ALWAYS and dot:
        return _ALWAYS[lower]
    if lower in _MONTH_ABBREVIATIONS and capitalized:
        next_to_number = context.next_is_number or context.previous_is_number
        return _MONTH_ABBREVIATIONS[lower] if dot or next_to_number else None
    if lower in _WEEKDAY_ABBREVIATIONS and capitalized:
        return _weekday(lower, dot, context)
    return None


def _weekday(lower: str, dot: bool, context: _Context) -> str | None:
    before_date = context.next_is_number or is_calendar_word(context.next) or context.next_after_dash
    if lower in _WORDLIKE_WEEKDAYS:
        # "the Sun." is the star; "Sat." after a name may be a word in a title.
        if not dot or context.previous.lower() in ("the", "a") or context.previous_is_name:
            return _WEEKDAY_ABBREVIATIONS[lower] if before_date and not context.previous_is_name else None
    elif not (dot or before_date):
        return None
    return _WEEKDAY_ABBREVIATIONS[lower]


def _replace(match: re.Match[str]) -> str:
    word, dot = match.group(1), match.group(2)
    context = _Context(match)
    expansion = _expansion(word, bool(dot), context)
    if expansion is None:
        return match.group(0)
    # A title never ends a sentence; other expansions keep the full stop that ended one.
    is_title = expansion in ("Saint", "doctor", "Mount") or word.lower() in _TITLES
    return expansion + ("." if dot and context.ends_sentence and not is_title else "")


def expand_abbreviations(text: str) -> str:
    """Abbreviations -> words by context (see the module doc); other words are kept."""
    return _RE_CANDIDATE.sub(_replace, text)
