"""Record upstream GPT-SoVITS's pypinyin-path reading of the Chinese golden sets (run by hand, offline).

    python -m tests.engine.gpt_sovits.text.upstream_zh_readings /path/to/GPT-SoVITS \
        > tests/engine/gpt_sovits/text/data/zh_golden_upstream.tsv

Upstream's own `TextNormalizer` (PaddleSpeech zh_normalization) and `ToneSandhi` are imported from
the checkout named on the command line; nothing of upstream is copied here. What this script repeats
is the short loop of `chinese2._g2p` with `is_g2pw = False` (upstream hard-codes the G2PW model on;
its pypinyin path is what runs without the 600 MB model): jieba part-of-speech segmentation,
`pre_merge_for_modify`, pypinyin initials and finals, `modified_tone`, erhua. jieba_fast is replaced
by jieba (same dictionary and algorithm). Latin-letter runs are split off first, as upstream's
LangSegmenter does for Chinese text, and recorded as their letters. Needs `cn2an`-free upstream
modules only: the script stubs the import of `cn2an`, which the loop does not use.
"""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path
from typing import Any, Final

from tests.engine.gpt_sovits.text.zh_golden import GOLDEN_TSV, HELD_OUT_TSV, load_cases

_REP_MAP: Final = {
    "：": ",", "；": ",", "，": ",", "。": ".", "！": "!", "？": "?", "\n": ".", "·": ",", "、": ",",
    "...": "…", "$": ".", "/": ",", "—": "-", "~": "…", "～": "…",
}
_MUST_ERHUA: Final = {"小院儿", "胡同儿", "范儿", "老汉儿", "撒欢儿", "寻老礼儿", "妥妥儿", "媳妇儿"}


class Upstream:
    """Upstream's normalizer and tone sandhi, loaded from a checkout."""

    def __init__(self, checkout: Path) -> None:
        sys.path.insert(0, str(checkout / "GPT_SoVITS"))
        import jieba
        import jieba.posseg

        sys.modules.setdefault("jieba_fast", jieba)
        sys.modules.setdefault("jieba_fast.posseg", jieba.posseg)
        sys.modules.setdefault("cn2an", types.ModuleType("cn2an"))
        import importlib

        punctuation = importlib.import_module("text.symbols").punctuation
        tone_sandhi = importlib.import_module("text.tone_sandhi").ToneSandhi
        text_normalizer = importlib.import_module("text.zh_normalization.text_normlization").TextNormalizer

        self.posseg: Any = jieba.posseg
        self.punctuation: list[str] = list(punctuation)
        self.sandhi: Any = tone_sandhi()
        self.normalizer: Any = text_normalizer()
        source = (checkout / "GPT_SoVITS" / "text" / "chinese2.py").read_text(encoding="utf-8")
        block = source[source.index("not_erhua = {"):source.index("}", source.index("not_erhua = {"))]
        self.not_erhua = set(re.findall(r'"([^"]+)"', block))

    def normalize(self, text: str) -> str:
        """chinese2.text_normalize."""
        out = ""
        for sentence in self.normalizer.normalize(text):
            sentence = sentence.replace("嗯", "恩").replace("呣", "母")
            for old, new in _REP_MAP.items():
                sentence = sentence.replace(old, new)
            out += re.sub(r"[^\u4e00-\u9fa5" + "".join(self.punctuation) + r"]+", "", sentence)
        marks = "".join(re.escape(p) for p in self.punctuation)
        return re.sub(f"([{marks}])([{marks}])+", r"\1", out)

    def _erhua(self, finals: list[str], word: str, pos: str) -> list[str]:
        if finals and word[-1] == "儿" and finals[-1] == "er1":
            finals[-1] = "er2"
        if word not in _MUST_ERHUA and (word in self.not_erhua or pos in {"a", "j", "nr"}):
            return finals
        if len(finals) != len(word):
            return finals
        if len(word) > 1 and word[-1] == "儿" and finals[-1] in {"er2", "er5"} and word[-2:] not in self.not_erhua:
            finals[-1] = "er" + finals[-2][-1]
        return finals

    def syllables(self, text: str) -> list[str]:
        """chinese2._g2p without G2PW, as standard tone-numbered pinyin (marks left out)."""
        from pypinyin import Style, lazy_pinyin

        result: list[str] = []
        for segment in re.split(r"(?<=[" + "".join(self.punctuation) + r"])\s*", text):
            if not segment.strip():
                continue
            words = self.sandhi.pre_merge_for_modify(self.posseg.lcut(segment))
            for word, pos in words:
                if pos == "eng":
                    continue
                initials = lazy_pinyin(word, neutral_tone_with_five=True, style=Style.INITIALS)
                finals = lazy_pinyin(word, neutral_tone_with_five=True, style=Style.FINALS_TONE3)
                finals = self._erhua(self.sandhi.modified_tone(word, pos, finals), word, pos)
                for initial, final in zip(initials, finals, strict=False):
                    if initial == final:
                        continue  # a punctuation mark
                    result.append(spelled(initial, final))
        return result


def spelled(initial: str, final: str) -> str:
    """pypinyin's strict initial + final ("", "iou3") -> the written syllable ("you3")."""
    tone = final[-1]
    body = final[:-1]
    if initial:
        body = {"uei": "ui", "iou": "iu", "uen": "un"}.get(body, body)
        return initial + body + tone
    if body in ("i", "in", "ing"):
        return "y" + body + tone
    if body == "u":
        return "wu" + tone
    if body.startswith("i"):
        return "y" + body[1:] + tone
    if body.startswith("u"):
        return "w" + body[1:] + tone
    if body.startswith("v"):
        return "yu" + body[1:] + tone
    return body + tone


def reading(upstream: Upstream, text: str) -> str:
    """The sentence's tokens: syllables for Chinese runs, letters for English runs."""
    tokens: list[str] = []
    for run in re.split(r"([A-Za-z]+(?:[ '\-][A-Za-z]+)*)", text):
        if not run:
            continue
        if re.fullmatch(r"[A-Za-z '\-]+", run):
            tokens.append("".join(char.lower() for char in run if char.isalpha()))
        else:
            tokens.extend(upstream.syllables(upstream.normalize(run)))
    return " ".join(tokens)


def main(argv: list[str]) -> int:
    """Print "text<TAB>reading" for every sentence of the golden and held-out sets."""
    upstream = Upstream(Path(argv[0]))
    print("# Upstream GPT-SoVITS pypinyin path (no G2PW); written by tests.engine.gpt_sovits.text.upstream_zh_readings")
    for case in [*load_cases(GOLDEN_TSV), *load_cases(HELD_OUT_TSV)]:
        print(f"{case.text}\t{reading(upstream, case.text)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
