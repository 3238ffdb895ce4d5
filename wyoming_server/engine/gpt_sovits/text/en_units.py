"""Units after a number into words: 5 km -> five kilometers, a 10 kg bag -> a ten kilogram bag.

* singular for 1 and before a noun after "a"/"an"/"the" ("a 5 min walk"), plural otherwise;
* "in" is inches only where a preposition cannot be: at the end of a clause, written "in.", before
  x/by, before tall/long/wide..., or after feet ("6 ft 2 in"); "3 in the morning" keeps the word;
* dimensions: "10 x 12" -> "10 by 12"; feet and inches: 6'2" -> "six foot two".

Digits stay digits here (the number rules that run after read them); only the unit becomes words.
"""

from __future__ import annotations

import re
from typing import Final

UNITS: Final = {
    "km/h": ("kilometer per hour", "kilometers per hour"), "mph": ("mile per hour", "miles per hour"),
    "kph": ("kilometer per hour", "kilometers per hour"), "m/s": ("meter per second", "meters per second"),
    "km": ("kilometer", "kilometers"), "cm": ("centimeter", "centimeters"),
    "mm": ("millimeter", "millimeters"), "m": ("meter", "meters"), "kg": ("kilogram", "kilograms"),
    "mg": ("milligram", "milligrams"), "g": ("gram", "grams"), "lb": ("pound", "pounds"),
    "lbs": ("pound", "pounds"), "oz": ("ounce", "ounces"), "ft": ("foot", "feet"), "mi": ("mile", "miles"),
    "yd": ("yard", "yards"), "yds": ("yard", "yards"), "gal": ("gallon", "gallons"),
    "ml": ("milliliter", "milliliters"), "L": ("liter", "liters"), "h": ("hour", "hours"),
    "hr": ("hour", "hours"), "hrs": ("hour", "hours"), "min": ("minute", "minutes"),
    "mins": ("minute", "minutes"), "sec": ("second", "seconds"), "secs": ("second", "seconds"),
    "s": ("second", "seconds"), "ms": ("millisecond", "milliseconds"),
    "kWh": ("kilowatt hour", "kilowatt hours"), "kW": ("kilowatt", "kilowatts"), "W": ("watt", "watts"),
    "V": ("volt", "volts"), "GB": ("gigabyte", "gigabytes"), "MB": ("megabyte", "megabytes"),
    "TB": ("terabyte", "terabytes"), "GHz": ("gigahertz", "gigahertz"), "MHz": ("megahertz", "megahertz"),
    "Hz": ("hertz", "hertz"), "°C": ("degree Celsius", "degrees Celsius"),
    "℃": ("degree Celsius", "degrees Celsius"), "°F": ("degree Fahrenheit", "degrees Fahrenheit"),
    "℉": ("degree Fahrenheit", "degrees Fahrenheit"), "°": ("degree", "degrees"),
    "tbsp": ("tablespoon", "tablespoons"), "tsp": ("teaspoon", "teaspoons"),
}
INCH: Final = ("inch", "inches")
_NUM: Final = r"\d+(?:\.\d+)?"
_UNIT_ALTERNATIVES: Final = "|".join(re.escape(unit) for unit in sorted(UNITS, key=len, reverse=True))
_RE_UNIT: Final = re.compile(
    rf"(?<![A-Za-z0-9.])({_NUM})\s?({_UNIT_ALTERNATIVES}|in\b)(\.?)(?![A-Za-z])", re.ASCII
)
# After "in": the words and marks that make it a unit rather than a preposition.
_RE_AFTER_INCHES: Final = re.compile(
    r"\s*(?:$|[,;:!?)]|x\b|by\b|tall|long|wide|high|deep|thick|across|\.\s*(?:$|[A-Z]|of\b))"
)
_RE_FEET_BEFORE: Final = re.compile(r"(?:ft|feet|foot)\s+$")
_RE_ARTICLE_BEFORE: Final = re.compile(r"\b(a|an|the)\s+$", re.IGNORECASE)
_RE_NOUN_AFTER: Final = re.compile(r"\s+([a-z]+)\b")
# After "the 100 m", these words do not make the unit an adjective ("the 5 kg of flour").
_NOT_NOUNS: Final = frozenset(
    {"of", "to", "in", "on", "at", "and", "or", "is", "are", "was", "were", "away", "long", "tall", "wide",
     "high", "deep", "per", "from", "for", "by", "ago", "later", "left"}
)
_RE_DIMENSION: Final = re.compile(r"(?<=\d)(\s?(?:in|ft|cm|mm|m|\")?\.?\s?)x\s?(?=\d)", re.ASCII)
_RE_FEET_INCHES: Final = re.compile(r"(?<![\d'])(\d)'\s?(\d{1,2})(?:\"|'')?(?![\d'])", re.ASCII)


def _is_inches(match: re.Match[str]) -> bool:
    before = match.string[max(0, match.start() - 12) : match.start()]
    after_feet = _RE_FEET_BEFORE.search(before) is not None
    return after_feet or _RE_AFTER_INCHES.match(match.string, match.start(3)) is not None


def _is_attributive(match: re.Match[str]) -> bool:
    """"a 10 kg bag": the amount describes the noun after it, and the unit stays singular."""
    article = _RE_ARTICLE_BEFORE.search(match.string[max(0, match.start() - 8) : match.start()])
    noun = _RE_NOUN_AFTER.match(match.string, match.end())
    if article is None or noun is None or noun.group(1) in _NOT_NOUNS:
        return False
    return article.group(1).lower() != "the" or match.group(3) == ""


def _replace_unit(match: re.Match[str]) -> str:
    amount, unit, dot = match.groups()
    if unit == "in":
        if not _is_inches(match):
            return match.group(0)
        singular, plural = INCH
        # "in." ends a sentence unless a lowercase word follows ("3 in. of snow").
        dot = "." if dot and not re.match(r"\s*[a-z]", match.string[match.end():]) else ""
    else:
        singular, plural = UNITS[unit]
    words = singular if amount == "1" or _is_attributive(match) else plural
    return f"{amount} {words}{dot}"


def verbalize_units(text: str) -> str:
    """Units after numbers -> words (see the module doc); the numbers stay digits."""
    text = _RE_FEET_INCHES.sub(r"\1 foot \2", text)
    text = _RE_DIMENSION.sub(r"\1 by ", text)
    return _RE_UNIT.sub(_replace_unit, text)
