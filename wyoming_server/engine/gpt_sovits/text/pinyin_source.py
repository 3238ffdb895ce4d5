"""pypinyin, imported on first Chinese use with a lean phrase table.

Importing pypinyin loads its character and phrase tables (about 55 MB of Python objects), so an
English-only server never imports it. Its phrase table is JSON that `json.loads` turns into
600,000 list and string objects, and freeing them afterwards would not give the memory back
(the phrase strings that stay in use are spread over every memory arena). So the table is read
here entry by entry, one shared list per distinct syllable list, and handed to pypinyin as its
`pypinyin.phrases_dict` module before pypinyin is imported: the same phrases and readings in
about 30 MB less. If the file cannot be read that way, pypinyin loads it itself.
"""

from __future__ import annotations

import importlib.util
import logging
import sys
import threading
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from ...memory import trim_heap
from .compact_tables import read_phrase_table

_LOGGER = logging.getLogger(__name__)

_PHRASES_MODULE: Final = "pypinyin.phrases_dict"
_PHRASES_FILE: Final = "phrases_dict.json"
_lock = threading.Lock()


@dataclass(frozen=True)
class _Pypinyin:
    lazy_pinyin: Callable[..., list[str]]
    tone3: Any
    phrases: Mapping[str, Any]
    chars: Mapping[int, str]


_loaded: _Pypinyin | None = None


def _install_lean_phrases() -> None:
    """Put a `pypinyin.phrases_dict` module holding the lean table into sys.modules (if not imported)."""
    if _PHRASES_MODULE in sys.modules:
        return
    spec = importlib.util.find_spec("pypinyin")
    if spec is None or not spec.submodule_search_locations:
        return
    path = Path(next(iter(spec.submodule_search_locations))) / _PHRASES_FILE
    try:
        table = read_phrase_table(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        _LOGGER.debug("pypinyin loads its own phrase table: %s", err)
        return
    module = types.ModuleType(_PHRASES_MODULE, "pypinyin's phrase table, read lean by edge-tts-clone")
    module.phrases_dict = table  # type: ignore[attr-defined]
    sys.modules[_PHRASES_MODULE] = module


def _pypinyin() -> _Pypinyin:
    global _loaded
    if _loaded is not None:
        return _loaded
    with _lock:
        if _loaded is None:
            _install_lean_phrases()
            import pypinyin
            import pypinyin.constants

            _loaded = _Pypinyin(
                pypinyin.lazy_pinyin,
                pypinyin.Style.TONE3,
                pypinyin.constants.PHRASES_DICT,
                pypinyin.constants.PINYIN_DICT,
            )
            trim_heap()
        return _loaded


def tone3(text: str) -> list[str]:
    """pypinyin's `lazy_pinyin` in TONE3 style with 5 for the neutral tone ("你好" -> ["ni3", "hao3"])."""
    source = _pypinyin()
    return [str(s) for s in source.lazy_pinyin(text, style=source.tone3, neutral_tone_with_five=True)]


def is_phrase(word: str) -> bool:
    """True when pypinyin's phrase table has `word`."""
    return word in _pypinyin().phrases


def has_char_reading(code_point: int) -> bool:
    """True when pypinyin's character table has a reading for this code point."""
    return code_point in _pypinyin().chars
