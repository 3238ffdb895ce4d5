"""Roman numerals in names and titles: "Henry VIII" -> "Henry the Eighth", "Chapter IV" -> "Chapter four".

A capital Roman numeral is read only where its neighbours say it is one, since I, V, X, XL, CD, MD are
also words, letters and sizes:

* after a monarch's or pope's name (Henry, Elizabeth, Louis, John Paul...), or a name after King,
  Queen, Pope, Emperor...: "the" and an ordinal; I and V alone count, X alone does not (Malcolm X),
  nor I before a word that follows the pronoun ("Thanks John I will");
* after a word that numbers parts (Chapter, Part, Act, Scene, Volume, World War, Super Bowl, Type,
  Phase...): a cardinal, any numeral;
* after another capitalized word, a numeral of two or more of I, V and X (Rocky II, Apollo XI,
  Final Fantasy VII): a cardinal.
"""

from __future__ import annotations

import re
from typing import Final

from . import en_numbers

_VALUES: Final = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}
_RE_VALID: Final = re.compile(r"M{0,3}(CM|CD|D?C{0,3})(XC|XL|L?X{0,3})(IX|IV|V?I{0,3})\Z")
_RE_NUMERAL: Final = re.compile(r"(?<![\w'-])([IVXLCDM]+)\b(?!['-]\w|\.\w)")
_RE_WORDS_BEFORE: Final = re.compile(r"(?:([A-Za-z]+)\s+)?([A-Za-z]+)\s+$")
_REGNAL_NAMES: Final = frozenset(
    {"henry", "edward", "george", "william", "elizabeth", "charles", "james", "richard", "louis", "mary",
     "john", "paul", "benedict", "pius", "leo", "gregory", "innocent", "clement", "urban", "boniface",
     "alexander", "peter", "catherine", "frederick", "philip", "napoleon", "constantine", "nicholas",
     "ivan", "ramesses", "ptolemy", "victor", "emmanuel", "umberto", "ferdinand", "alfonso", "carlos",
     "felipe", "gustav", "olaf", "harald", "christian", "haakon", "wilhelm", "friedrich", "otto", "rudolf",
     "sixtus", "stephen", "anne", "matilda", "david", "robert", "malcolm", "kenneth", "francis", "joseph",
     "leopold", "ludwig", "augustus", "tiberius", "rama", "mohammed", "hassan", "abdullah", "farouk"}
)
_SOVEREIGN_TITLES: Final = frozenset(
    {"king", "queen", "pope", "emperor", "empress", "tsar", "czar", "kaiser", "pharaoh", "sultan", "prince",
     "princess", "duke", "saint"}
)
# After a name, "I" followed by one of these is the pronoun: "Thanks John I will".
_PRONOUN_I_FOLLOWERS: Final = frozenset(
    {"am", "will", "would", "think", "have", "had", "can", "could", "want", "love", "need", "know", "do",
     "did", "just", "really", "should", "shall", "guess", "hope", "see", "mean", "feel", "must", "might",
     "may", "also", "never", "always", "got", "like", "said", "agree", "promise", "believe", "wish"}
)
_RE_NEXT_WORD: Final = re.compile(r"\s+([a-z]+)")
_PART_WORDS: Final = frozenset(
    {"chapter", "part", "volume", "book", "act", "scene", "episode", "section", "phase", "type", "class",
     "grade", "level", "stage", "round", "war", "bowl", "appendix", "article", "title", "psalm", "canto",
     "series", "season", "tier", "mark", "annex", "schedule", "unit", "lesson", "movement"}
)


def roman_value(numeral: str) -> int | None:
    """"VIII" -> 8; None for a string that is not a well-formed Roman numeral."""
    if not numeral or _RE_VALID.match(numeral) is None:
        return None
    total = 0
    for index, letter in enumerate(numeral):
        value = _VALUES[letter]
        following = _VALUES[numeral[index + 1]] if index + 1 < len(numeral) else 0
        total += -value if value < following else value
    return total


def _reading(numeral: str, before: str, next_word: str) -> str | None:
    value = roman_value(numeral)
    words = _RE_WORDS_BEFORE.search(before)
    if value is None or words is None:
        return None
    earlier, previous = (words.group(1) or ""), words.group(2)
    if not previous[:1].isupper():
        return None
    is_regnal = previous.lower() in _REGNAL_NAMES or earlier.lower() in _SOVEREIGN_TITLES
    is_pronoun = numeral == "I" and next_word in _PRONOUN_I_FOLLOWERS
    if is_regnal and (len(numeral) > 1 or numeral in ("I", "V")) and not is_pronoun:
        return "the " + en_numbers.ordinal(en_numbers.cardinal(value))
    if previous.lower() in _PART_WORDS:
        return en_numbers.cardinal(value)
    if len(numeral) > 1 and set(numeral) <= set("IVX"):
        return en_numbers.cardinal(value)
    return None


def _replace(match: re.Match[str]) -> str:
    following = _RE_NEXT_WORD.match(match.string, match.end())
    before = match.string[max(0, match.start() - 60) : match.start()]
    reading = _reading(match.group(1), before, following.group(1) if following else "")
    return match.group(0) if reading is None else reading


def verbalize_roman_numerals(text: str) -> str:
    """Roman numerals after names and part words -> words (see the module doc); other text is kept."""
    if text.isupper():
        return text  # text in capitals: its words are not numerals
    return _RE_NUMERAL.sub(_replace, text)
