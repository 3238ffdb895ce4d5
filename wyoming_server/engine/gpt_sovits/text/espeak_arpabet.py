"""Letter-to-sound for English words CMUdict lacks: espeak-ng IPA mapped onto ARPAbet.

espeak-ng's English rules are a mature letter-to-sound system, and piper-tts (already a dependency for
the stock voice) bundles it with its data (`piper.espeakbridge`), so no extra package or download is
needed. Its IPA is mapped onto the ARPAbet symbols of the v2 table; a stress mark (ˈ primary, ˌ
secondary) gives the digit of the next vowel and every other vowel is unstressed (0), as in CMUdict.
"""

from __future__ import annotations

import logging
import threading
from typing import Final

_LOGGER = logging.getLogger(__name__)

ESPEAK_VOICE: Final = "en-us"

# Longest IPA sequences first; an r-coloured vowel absorbs the following ɹ.
_VOWELS: Final = {
    "aɪɚ": "AY ER", "aʊɚ": "AW ER", "ɚɹ": "ER", "ɑːɹ": "AA R", "ɔːɹ": "AO R", "oːɹ": "AO R", "ɜːɹ": "ER",
    "ɪɹ": "IH R", "ɛɹ": "EH R", "ʊɹ": "UH R", "aɪ": "AY", "aʊ": "AW", "eɪ": "EY", "oʊ": "OW", "əʊ": "OW",
    "ɔɪ": "OY", "ɑː": "AA", "ɔː": "AO", "ɜː": "ER", "iː": "IY", "uː": "UW", "oː": "AO", "ɑ": "AA", "ɒ": "AA",
    "æ": "AE", "ʌ": "AH", "ə": "AH", "ɐ": "AH", "ɔ": "AO", "ɛ": "EH", "e": "EY", "ɚ": "ER", "ɝ": "ER",
    "ɜ": "ER", "ɪ": "IH", "ᵻ": "IH", "i": "IY", "o": "OW", "ʊ": "UH", "u": "UW", "a": "AA",
}
_CONSONANTS: Final = {
    "tʃ": "CH", "dʒ": "JH", "n̩": "AH0 N", "l̩": "AH0 L", "m̩": "AH0 M", "b": "B", "d": "D", "f": "F",
    "ɡ": "G", "g": "G", "h": "HH", "j": "Y", "k": "K", "l": "L", "m": "M", "n": "N", "ŋ": "NG", "p": "P",
    "ɹ": "R", "r": "R", "s": "S", "ʃ": "SH", "t": "T", "θ": "TH", "ð": "DH", "v": "V", "w": "W", "z": "Z",
    "ʒ": "ZH", "ɾ": "T", "ʔ": "T", "x": "K", "ç": "HH", "ɬ": "L",
}
_PATTERNS: Final = sorted([*_VOWELS, *_CONSONANTS], key=len, reverse=True)
_STRESS_MARKS: Final = {"ˈ": "1", "ˌ": "2"}

_lock = threading.Lock()
_initialized = False


def ipa_to_arpabet(ipa: str) -> list[str]:
    """espeak-ng IPA ("həlˈoʊ") -> ARPAbet with stress digits (["HH", "AH0", "L", "OW1"])."""
    phones: list[str] = []
    stress = "0"
    index = 0
    while index < len(ipa):
        char = ipa[index]
        if char in _STRESS_MARKS:
            stress = _STRESS_MARKS[char]
            index += 1
            continue
        match = next((p for p in _PATTERNS if ipa.startswith(p, index)), None)
        if match is None:
            index += 1  # length marks, syllable breaks, palatalization and spaces carry no phone
            continue
        index += len(match)
        if match in _VOWELS:
            first, *rest = _VOWELS[match].split()
            phones.append(first + stress)
            phones.extend(p + "0" if p == "ER" else p for p in rest)
            stress = "0"
        else:
            phones.extend(_CONSONANTS[match].split())
    return phones


def espeak_phones(word: str) -> list[str]:
    """ARPAbet for one English word from espeak-ng's rules; [] when espeak-ng is unavailable."""
    global _initialized
    try:
        from piper import espeakbridge
        from piper.phonemize_espeak import ESPEAK_DATA_DIR
    except ImportError:
        _LOGGER.debug("piper's espeak-ng bridge is not installed")
        return []
    with _lock:
        try:
            if not _initialized:
                espeakbridge.initialize(str(ESPEAK_DATA_DIR))
                _initialized = True
            # The stock Piper voice shares this espeak-ng instance and may have chosen another voice.
            espeakbridge.set_voice(ESPEAK_VOICE)
            clauses = espeakbridge.get_phonemes(word)
        except RuntimeError as err:
            _LOGGER.debug("espeak-ng failed on %r: %s", word, err)
            return []
    return ipa_to_arpabet(" ".join(clause[0] for clause in clauses))
