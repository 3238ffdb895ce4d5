"""The dictionary file: read again when edited, problems logged once, never fatal; atomic replacement."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

from wyoming_server.voices.pronunciation_file import PronunciationFile


def _write(path: Path, document: object, mtime_ns: int) -> None:
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    os.utime(path, ns=(mtime_ns, mtime_ns))  # edits within one clock tick still look new


def test_no_file_means_no_entries(tmp_path: Path) -> None:
    pronunciations = PronunciationFile(tmp_path / "pronunciations.json")
    assert not pronunciations.for_voice(None)
    assert pronunciations.problems == [] and pronunciations.document() == {}


def test_an_edited_file_is_read_again(tmp_path: Path) -> None:
    path = tmp_path / "pronunciations.json"
    _write(path, {"zh": {"乐乐": "le4 le4"}}, 1_000_000_000)
    pronunciations = PronunciationFile(path)
    assert pronunciations.for_voice("mum").zh_reading("乐乐") == ("le4", "le4")
    _write(path, {"zh": {"乐乐": "le4 le5"}, "voices": {"mum": {"zh": {"乐乐": "le5 le5"}}}}, 2_000_000_000)
    assert pronunciations.for_voice(None).zh_reading("乐乐") == ("le4", "le5")
    assert pronunciations.for_voice("mum").zh_reading("乐乐") == ("le5", "le5")
    path.unlink()
    assert not pronunciations.for_voice(None)


def test_a_broken_file_is_reported_once_and_not_fatal(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "pronunciations.json"
    path.write_text('{"zh": {"乐乐": "le4"}, "en": {"Nguyen": "W IH1 N"}}', encoding="utf-8")
    pronunciations = PronunciationFile(path)
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            user = pronunciations.for_voice(None)
    assert user.en_reading("nguyen") == ("W", "IH1", "N") and user.zh_reading("乐乐") is None
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [f"{path}: zh '乐乐': 1 syllables for 2 characters in 'le4' (skipped)"]
    path.write_text("{oops", encoding="utf-8")
    os.utime(path, ns=(3_000_000_000, 3_000_000_000))
    assert not pronunciations.for_voice(None)
    assert pronunciations.problems[0].startswith("not valid JSON")


def test_replace_writes_the_document_and_returns_its_problems(tmp_path: Path) -> None:
    path = tmp_path / "data" / "pronunciations.json"
    pronunciations = PronunciationFile(path)
    problems = pronunciations.replace({"zh": {"乐乐": "le4 le4", "坏": "huai4 huai4"}})
    assert problems == ["zh '坏': 2 syllables for 1 characters in 'huai4 huai4'"]
    assert json.loads(path.read_text(encoding="utf-8")) == {"zh": {"乐乐": "le4 le4", "坏": "huai4 huai4"}}
    assert pronunciations.for_voice(None).zh_reading("乐乐") == ("le4", "le4")
    assert [p.name for p in path.parent.iterdir()] == ["pronunciations.json"]  # no temporary file left
    with pytest.raises(ValueError, match="JSON object"):
        pronunciations.replace(["not", "an", "object"])
