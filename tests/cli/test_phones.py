"""`edge-tts-clone phones`: the normalized text, every word's reading, phones and source."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wyoming_server.cli import main


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["phones", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_table_shows_normalized_text_words_and_sources(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "pronunciations.json").write_text('{"zh": {"乐乐": "le4 le4"}}', encoding="utf-8")
    code, out, _ = _run(capsys, "乐乐8:05起床，比分2:0，打开WiFi。", "--data-dir", str(tmp_path))
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "normalized: 乐乐八点零五分起床,比分二比零,打开WiFi."
    assert lines[1] == "[zh] 乐乐八点零五分起床,比分二比零,打开"
    assert lines[2].split() == ["乐乐", "le4", "le4", "l", "e4", "l", "e4", "user", "dictionary"]
    assert "[en] WiFi." in lines
    (wifi,) = [line for line in lines if line.strip().startswith("WiFi")]
    assert wifi.split() == ["WiFi", "W", "AY1", "F", "AY2", "CMUdict"]
    assert lines[-1].startswith("phones (") and lines[-1].endswith("W AY1 F AY2 .")


def test_json_output_and_the_tone_rules_that_changed_a_word(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = _run(capsys, "我不去，一个人。", "--json", "--data-dir", str(tmp_path))
    assert code == 0
    document = json.loads(out)
    assert document["normalized"] == "我不去,一个人."
    (segment,) = document["segments"]
    words = {word["word"]: (word["reading"], word["source"], word["changes"]) for word in segment["words"]}
    assert words["不去"] == (["bu2", "qu4"], "pypinyin", ["不"])
    # pypinyin's phrase table already has 一个 as yi2: only the measure word's neutral tone is ours
    assert words["一个"] == (["yi2", "ge5"], "phrase table", ["neutral tone"])
    assert document["phones"][-1] == "."


def test_english_words_say_dictionary_or_letter_to_sound(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = _run(capsys, "Ask Zyxor about USB", "--json", "--data-dir", str(tmp_path))
    assert code == 0
    words = {w["word"]: w["source"] for w in json.loads(out)["segments"][0]["words"]}
    assert words == {"Ask": "CMUdict", "Zyxor": "letter-to-sound", "about": "CMUdict", "USB": "spelled"}


def test_a_voice_uses_its_own_entries(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    dictionary = tmp_path / "words.json"
    dictionary.write_text(
        json.dumps({"en": {"Nguyen": "W IH1 N"}, "voices": {"mum": {"en": {"Nguyen": "N UW1 Y EH1 N"}}}}),
        encoding="utf-8",
    )
    _, out, _ = _run(capsys, "Nguyen", "--json", "--pronunciations", str(dictionary), "--voice", "mum")
    word = json.loads(out)["segments"][0]["words"][0]
    assert (word["phones"], word["source"]) == (["N", "UW1", "Y", "EH1", "N"], "user dictionary")


def test_unknown_language_and_nothing_to_say_are_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert _run(capsys, "你好", "--language", "fr", "--data-dir", str(tmp_path))[0] == 2
    code, _, err = _run(capsys, "😀", "--data-dir", str(tmp_path))
    assert code == 2 and "nothing to pronounce" in err
