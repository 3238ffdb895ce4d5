"""English dates, decades and clock times into words, as an announcer reads them.

* "July 4, 2025" -> "July fourth, twenty twenty-five" (US order: month, ordinal day);
* "5 January 2024", "the 5th of May" -> "the fifth of January, twenty twenty-four" (UK order);
* numeric dates: "3/15/2025", "15/03/2025", "2025-03-14"; the order is whichever makes a valid date,
  month first (US) when both do; "on 4/1" (a cue word before it) is a month and a day;
* decades: 1990s, '90s, 1950's -> "nineteen nineties", "nineties"; 80s after "the", "his", "mid-"...;
* ranges of weekdays or months: "Monday-Friday" -> "Monday to Friday";
* times with a.m./p.m. but no colon (7pm, 7.30pm, 3 p.m.) and ranges of times (9am-5pm, 7:00-9:30).

Months arrive spelled out: `en_abbreviations` expands "Jan." first. Times with a colon are read by
`normalize_en`, which runs after this module.
"""

from __future__ import annotations

import re
from typing import Final

from . import en_numbers
from .en_abbreviations import MONTHS, WEEKDAYS

_MONTH: Final = "(" + "|".join(MONTHS) + ")"
_ORDINAL_SUFFIX: Final = r"(?:st|nd|rd|th)?"
_RE_US_DATE: Final = re.compile(
    rf"\b{_MONTH}\s+(\d{{1,2}}){_ORDINAL_SUFFIX}(?:\s*[-–]\s*(\d{{1,2}}){_ORDINAL_SUFFIX})?"
    rf"(?:,?\s+(\d{{4}}))?(?![\d:%°]|[.,]\d)"
)
_RE_MONTH_YEAR: Final = re.compile(rf"\b{_MONTH},?\s+(\d{{4}})(?![\d:%°]|[.,]\d)")
_RE_UK_DATE: Final = re.compile(
    rf"(?<![\d.,])(\d{{1,2}}){_ORDINAL_SUFFIX}\s+(?:of\s+)?{_MONTH}\b(?:,?\s+(\d{{4}})(?![\d:%°]|[.,]\d))?"
)
_RE_NUMERIC_DATE: Final = re.compile(r"(?<![\d/.-])(\d{1,2})([/.-])(\d{1,2})\2(\d{4})(?![\d/-]|\.\d)", re.ASCII)
_RE_ISO_DATE: Final = re.compile(r"(?<![\d/.-])(\d{4})-(\d{1,2})-(\d{1,2})(?![\d/-]|\.\d)", re.ASCII)
# "on 4/1" is a date; "3/4" alone is a fraction.
_RE_SHORT_DATE: Final = re.compile(
    r"\b(on|due|by|until|till|from|since|before|after|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday"
    r"|Sunday),?\s+(\d{1,2})/(\d{1,2})(?![\d/]|\.\d)",
    re.IGNORECASE,
)
_RE_DECADE: Final = re.compile(r"(?<![\w'])(?:'(\d0)|(\d{3}0)'?)s\b|(?<![\w'])(\d0)'s\b", re.ASCII)
# "80s" alone may be 80 seconds; after these words it is a decade or an age (the 80s, his 40s, mid-80s).
_RE_BARE_DECADE: Final = re.compile(
    r"\b(the|his|her|their|my|your|our|its|early|mid|late|and|or|to)([ -])([1-9]0)s\b", re.IGNORECASE
)
_RE_CLOCK_PERIOD: Final = re.compile(
    r"(?<![\d:.])(1[0-2]|0?[1-9])(?:[:.]([0-5]\d))?\s?([AaPp])\.?\s?([Mm])\b(\.?)", re.ASCII
)
_TIME_START: Final = r"\d{1,2}(?::[0-5]\d|\s?[AaPp]\.?[Mm]\b)"
_RE_TIME_RANGE: Final = re.compile(
    rf"(?<![\d:.])(\d{{1,2}}(?::[0-5]\d)?(?:\s?[AaPp]\.?[Mm]\b\.?)?)\s?[-–]\s?(?={_TIME_START})", re.ASCII
)
_CALENDAR_NAME: Final = "(" + "|".join((*MONTHS, *WEEKDAYS)) + ")"
_RE_NAME_RANGE: Final = re.compile(rf"\b{_CALENDAR_NAME}\.?\s?[-–]\s?{_CALENDAR_NAME}\b")
_RE_THE_BEFORE: Final = re.compile(r"\bthe\s*$", re.IGNORECASE)
_RE_SENTENCE_GOES_ON: Final = re.compile(r"\s*[a-z0-9,]")


def _ordinal(day: int) -> str:
    return en_numbers.ordinal(en_numbers.cardinal(day))


def _year_suffix(year: str | None) -> str:
    return f", {en_numbers.year(int(year))}" if year else ""


def us_date(month: int, day: int, year: str | None = None) -> str:
    """(3, 15, "2025") -> "March fifteenth, twenty twenty-five"."""
    return f"{MONTHS[month - 1]} {_ordinal(day)}{_year_suffix(year)}"


def uk_date(month: int, day: int, year: str | None = None, *, article: bool = True) -> str:
    """(3, 15, "2025") -> "the fifteenth of March, twenty twenty-five"."""
    return f"{'the ' if article else ''}{_ordinal(day)} of {MONTHS[month - 1]}{_year_suffix(year)}"


def _replace_us_date(match: re.Match[str]) -> str:
    month, day, last_day, year = match.groups()
    if not 1 <= int(day) <= 31 or (last_day and not 1 <= int(last_day) <= 31):
        return match.group(0)
    to_day = f" to {_ordinal(int(last_day))}" if last_day else ""
    return f"{month} {_ordinal(int(day))}{to_day}{_year_suffix(year)}"


def _replace_uk_date(match: re.Match[str]) -> str:
    day, month, year = match.groups()
    if not 1 <= int(day) <= 31:
        return match.group(0)
    article = _RE_THE_BEFORE.search(match.string[max(0, match.start() - 8) : match.start()]) is None
    return uk_date(MONTHS.index(month) + 1, int(day), year, article=article)


def _replace_numeric_date(match: re.Match[str]) -> str:
    first, _, second, year = match.groups()
    a, b = int(first), int(second)
    if 1 <= a <= 12 and 1 <= b <= 31:
        return us_date(a, b, year)
    if 1 <= b <= 12 and 1 <= a <= 31:
        return uk_date(b, a, year)
    return match.group(0)


def _replace_iso_date(match: re.Match[str]) -> str:
    year, month, day = match.groups()
    if not (1 <= int(month) <= 12 and 1 <= int(day) <= 31):
        return match.group(0)
    return us_date(int(month), int(day), year)


def _replace_short_date(match: re.Match[str]) -> str:
    cue, month, day = match.groups()
    if not (1 <= int(month) <= 12 and 1 <= int(day) <= 31):
        return match.group(0)
    return f"{cue} {us_date(int(month), int(day))}"


def _replace_decade(match: re.Match[str]) -> str:
    short, long, short_with_apostrophe = match.groups()
    if long:
        return en_numbers.plural(en_numbers.year(int(long)))
    return en_numbers.plural(en_numbers.cardinal(int(short or short_with_apostrophe)))


def _replace_clock_period(match: re.Match[str]) -> str:
    hour, minute, period, _, dot = match.groups()
    minute_value = int(minute) if minute else 0
    words = en_numbers.cardinal(int(hour))
    if minute_value:
        words += " " + ("oh " if minute_value < 10 else "") + en_numbers.cardinal(minute_value)
    # "p.m." ending a sentence also ends it; inside one its dot is not a full stop.
    ends_sentence = dot and not _RE_SENTENCE_GOES_ON.match(match.string, match.end())
    return f"{words} {period.upper()} M{'.' if ends_sentence else ''}"


def verbalize_dates(text: str) -> str:
    """Dates, decades and times without a colon -> words (see the module doc); other text is kept."""
    text = _RE_NAME_RANGE.sub(r"\1 to \2", text)
    text = _RE_ISO_DATE.sub(_replace_iso_date, text)
    text = _RE_NUMERIC_DATE.sub(_replace_numeric_date, text)
    text = _RE_SHORT_DATE.sub(_replace_short_date, text)
    text = _RE_US_DATE.sub(_replace_us_date, text)
    text = _RE_UK_DATE.sub(_replace_uk_date, text)
    text = _RE_MONTH_YEAR.sub(lambda m: f"{m.group(1)} {en_numbers.year(int(m.group(2)))}", text)
    text = _RE_DECADE.sub(_replace_decade, text)
    text = _RE_BARE_DECADE.sub(
        lambda m: m.group(1) + m.group(2) + en_numbers.plural(en_numbers.cardinal(int(m.group(3)))), text
    )
    text = _RE_TIME_RANGE.sub(r"\1 to ", text)
    return _RE_CLOCK_PERIOD.sub(_replace_clock_period, text)
