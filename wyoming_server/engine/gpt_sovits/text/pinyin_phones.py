"""Tone-numbered pinyin syllables -> the two opencpop-strict phones GPT-SoVITS v2 uses.

Every syllable becomes exactly (initial, final+tone). The rules reproduce upstream's
`opencpop-strict.txt` table (429 syllables) from the structure of pinyin spelling instead of a lookup:

* zero-initial syllables get a pseudo-initial from their first letter: a -> AA, e -> EE (also er),
  o -> OO; y- and w- spellings keep y / w as the initial;
* after y the final is spelled back to its phonemic form: yan -> En, ye -> E, yu/yuan/yue/yun -> v/van/ve/vn,
  yi/yin/ying -> i/in/ing, and ya/yang/yao/yo/yong/you drop the y;
* after w: wu -> u, otherwise the w is dropped (wa -> a, wei -> ei, weng -> eng);
* i after zh/ch/sh/r is the apical vowel "ir", after z/c/s it is "i0";
* u after j/q/x is ü: ju -> v, juan -> van, jue -> ve, jun -> vn.
"""

from __future__ import annotations

from typing import Final

from .symbols import SYMBOL_TO_ID

_INITIALS: Final = ("zh", "ch", "sh", "b", "p", "m", "f", "d", "t", "n", "l", "g", "k", "h",
                    "j", "q", "x", "r", "z", "c", "s", "y", "w")
_AFTER_Y: Final = {"an": "En", "e": "E", "u": "v", "uan": "van", "ue": "ve", "un": "vn"}
_PALATAL_U: Final = {"u": "v", "uan": "van", "ue": "ve", "un": "vn"}
# Interjection syllables without a vowel letter (嗯 n, 呣 m, 哼 hng ...) and ê, which the table lacks:
# map them onto the nearest syllables it has.
_NASAL_SYLLABLES: Final = {
    "n": ("EE", "en"), "ng": ("EE", "eng"), "m": ("m", "u"),
    "hm": ("h", "en"), "hng": ("h", "eng"), "ê": ("EE", "E"), "ea": ("EE", "E"),
}


class PinyinError(ValueError):
    """A syllable that is not tone-numbered Mandarin pinyin."""


def split_tone(syllable: str) -> tuple[str, str]:
    """"zhong1" -> ("zhong", "1"); a syllable without a digit has the neutral tone 5."""
    if syllable and syllable[-1] in "12345":
        return syllable[:-1], syllable[-1]
    return syllable, "5"


def syllable_to_phones(syllable: str) -> tuple[str, str]:
    """Tone-numbered pinyin ("zhong1", "nv3", "er2") -> (initial, final+tone), both in the v2 table."""
    spelled, tone = split_tone(syllable.strip().lower().replace("ü", "v").replace("u:", "v"))
    if spelled in _NASAL_SYLLABLES:
        initial, final = _NASAL_SYLLABLES[spelled]
    else:
        initial, final = _split_spelling(spelled)
    final_with_tone = final + tone
    if initial not in SYMBOL_TO_ID or final_with_tone not in SYMBOL_TO_ID:
        raise PinyinError(f"pinyin {syllable!r} has no opencpop-strict phones")
    return initial, final_with_tone


def _split_spelling(spelled: str) -> tuple[str, str]:
    if not spelled or not spelled.isascii() or not spelled.isalpha():
        raise PinyinError(f"pinyin {spelled!r} is not a syllable")
    initial = next((i for i in _INITIALS if spelled.startswith(i) and len(spelled) > len(i)), "")
    rest = spelled[len(initial):]
    if not initial:
        first = spelled[0]
        pseudo = {"a": "AA", "e": "EE", "o": "OO"}.get(first)
        if pseudo is None:
            raise PinyinError(f"pinyin {spelled!r} has no initial")
        return pseudo, spelled
    if initial == "y":
        if rest.startswith("i"):
            return "y", rest
        return "y", _AFTER_Y.get(rest, rest)
    if initial == "w":
        return "w", rest
    if initial in ("zh", "ch", "sh", "r") and rest == "i":
        return initial, "ir"
    if initial in ("z", "c", "s") and rest == "i":
        return initial, "i0"
    if initial in ("j", "q", "x"):
        return initial, _PALATAL_U.get(rest, rest)
    return initial, rest
