"""The server's pronunciation dictionary file (`<data>/pronunciations.json`), read again when it changes.

Each lookup stats the file; when it was edited (or created, or removed) the entries are parsed again
and every problem is logged once as a warning: a bad entry is skipped, a file that is not JSON gives
no entries, and neither stops the server. The format is `engine.gpt_sovits.text.pronunciations`'s.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

from ..engine.gpt_sovits.text.pronunciations import (
    PronunciationDictionary,
    Pronunciations,
    parse_dictionary,
    parse_dictionary_text,
)
from ..storage.atomic import fsync_dir, write_durably

_LOGGER = logging.getLogger(__name__)


class PronunciationFile:
    """One dictionary file, cached until its size, modification time or inode changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._dictionary = PronunciationDictionary()
        self._problems: list[str] = []

    def _file_stamp(self) -> tuple[int, int, int] | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def _reload(self, stamp: tuple[int, int, int] | None) -> None:
        if stamp is None:
            self._dictionary, self._problems = PronunciationDictionary(), []
            return
        try:
            text = self.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            self._dictionary, self._problems = PronunciationDictionary(), [f"cannot read the file: {err}"]
        else:
            self._dictionary, self._problems = parse_dictionary_text(text)
        for problem in self._problems:
            _LOGGER.warning("%s: %s (skipped)", self.path, problem)
        _LOGGER.info(
            "Pronunciations from %s: %d Chinese and %d English entries, %d voice sections",
            self.path,
            len(self._dictionary.server.zh),
            len(self._dictionary.server.en),
            len(self._dictionary.voices),
        )

    def dictionary(self) -> PronunciationDictionary:
        """The entries as the file holds them now (read again if it changed)."""
        stamp = self._file_stamp()
        with self._lock:
            if stamp != self._stamp:
                self._reload(stamp)
                self._stamp = stamp
            return self._dictionary

    def for_voice(self, voice_id: str | None) -> Pronunciations:
        """The entries that apply to a voice (its own over the server-wide ones)."""
        return self.dictionary().for_voice(voice_id)

    @property
    def problems(self) -> list[str]:
        """What was wrong with the file when it was last read (empty when all is well)."""
        self.dictionary()
        with self._lock:
            return list(self._problems)

    def document(self) -> dict[str, Any]:
        """The file's JSON object as written ({} when there is no file or it is not a JSON object)."""
        try:
            document = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            return {}
        return document if isinstance(document, dict) else {}

    def replace(self, document: object) -> list[str]:
        """Write a new document (atomically) if it is a JSON object; returns its problems.

        Entries with problems are written too (the file is the user's), and skipped when read.
        """
        _, problems = parse_dictionary(document)
        if not isinstance(document, dict):
            raise ValueError(problems[0])
        text = json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            write_durably(temporary, text.encode("utf-8"))
            os.replace(temporary, self.path)  # readers see the old file or the new one, never half
        finally:
            temporary.unlink(missing_ok=True)
        fsync_dir(self.path.parent)
        return problems

