"""jieba, imported on first Chinese use with lean word tables (see `compact_tables`).

jieba's own start-up builds a 580,000-entry dict from its dictionary (or from a marshal cache it
writes to the temp folder) and, when `jieba.posseg` is imported, a second 350,000-entry dict of
part-of-speech tags: about 100 MB that stay resident. Here both tables are built straight from
the dictionary file into `HashedTable`s (about 12 MB) and handed to jieba's default tokenizers,
which then segment and tag exactly as before. No cache file is written.
"""

from __future__ import annotations

import io
import logging
import threading
from typing import Any

from ...memory import trim_heap
from .compact_tables import HashCollisionError, jieba_tables

_LOGGER = logging.getLogger(__name__)

_lock = threading.Lock()
_modules: tuple[Any, Any] | None = None


def _load() -> tuple[Any, Any]:
    import jieba

    # jieba attaches its own stderr handler and logs dictionary loading at DEBUG; keep it quiet.
    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.dt
    try:
        freq, total, tags = jieba_tables(tokenizer.get_dict_file())
    except HashCollisionError as err:
        _LOGGER.debug("jieba keeps its own dicts: %s", err)
        jieba.initialize()
        import jieba.posseg

        return jieba, jieba.posseg
    with tokenizer.lock:
        tokenizer.FREQ, tokenizer.total, tokenizer.initialized = freq, total, True
    # Importing jieba.posseg makes its default POSTokenizer read every word's tag from the
    # dictionary file into a dict; let it read an empty file, then give it the lean table.
    tokenizer.get_dict_file = lambda: io.BytesIO(b"")
    try:
        import jieba.posseg
    finally:
        del tokenizer.get_dict_file
    jieba.posseg.dt.word_tag_tab = tags
    _LOGGER.debug("jieba tables: %d entries, %d tags, %.1f MB", len(freq), len(tags), (freq.nbytes + tags.nbytes) / 1e6)
    return jieba, jieba.posseg


def jieba_modules() -> tuple[Any, Any]:
    """(jieba, jieba.posseg), loaded once (about 1 s) with the lean tables."""
    global _modules
    if _modules is not None:
        return _modules
    with _lock:
        if _modules is None:
            _modules = _load()
            trim_heap()
        return _modules
