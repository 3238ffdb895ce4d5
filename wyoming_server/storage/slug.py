"""Voice ids: ASCII slugs made from display names (Chinese names become pinyin: 妈妈 -> mama)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection
from typing import Final

MAX_SLUG_CHARS: Final = 48
SLUG_PATTERN: Final = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,46}[a-z0-9])?$")
"""Lower-case ASCII letters, digits and inner hyphens: safe as a folder name and in a URL."""
FALLBACK_SLUG: Final = "voice"


def is_slug(text: str) -> bool:
    """True when `text` is a valid voice id (and so safe as a path component)."""
    return bool(SLUG_PATTERN.match(text))


def _romanize(name: str) -> str:
    """Han characters to pinyin words (tone marks dropped); other text unchanged."""
    if not any("\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf" for ch in name):
        return name
    from pypinyin import Style, lazy_pinyin

    # Consecutive Han characters form one word (妈妈 -> mama, 王小明 -> wangxiaoming).
    words: list[str] = []
    for piece in re.split(r"([\u3400-\u4dbf\u4e00-\u9fff]+)", name):
        if piece and re.fullmatch(r"[\u3400-\u4dbf\u4e00-\u9fff]+", piece):
            words.append(" " + "".join(lazy_pinyin(piece, style=Style.NORMAL)) + " ")
        else:
            words.append(piece)
    return "".join(words)


def slugify(name: str) -> str:
    """The slug of a display name ("Mum" -> "mum", "Grand-père Luc" -> "grand-pere-luc", "妈妈" -> "mama")."""
    ascii_text = unicodedata.normalize("NFKD", _romanize(name)).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    slug = slug[:MAX_SLUG_CHARS].rstrip("-")
    return slug or FALLBACK_SLUG


def unique_slug(name: str, taken: Collection[str]) -> str:
    """`slugify(name)`, with "-2", "-3", ... appended until it is not in `taken`."""
    base = slugify(name)
    if base not in taken:
        return base
    number = 2
    while True:
        suffix = f"-{number}"
        candidate = base[: MAX_SLUG_CHARS - len(suffix)].rstrip("-") + suffix
        if candidate not in taken:
            return candidate
        number += 1
