"""E-mail addresses, web addresses and IP addresses into words, as they are read out to be typed.

"john.smith@example.com" -> "john dot smith at example dot com"; "www.home-assistant.io/docs" ->
"w w w dot home dash assistant dot I O slash docs"; "192.168.1.10:8123" -> "one nine two dot one six
eight dot one dot one zero colon eight one two three". The scheme (https://) is not read. A bare
domain needs a known top-level domain, so that "e.g." or a missing space after a full stop is not one.
Two-letter top-level domains are spelled (I O, U K); digits in a name are left to the number rules.
"""

from __future__ import annotations

import re
from typing import Final

from . import en_numbers

_TOP_LEVEL_DOMAINS: Final = (
    "com|org|net|edu|gov|mil|info|biz|app|dev|local|lan|online|site|tech|xyz|io|co|uk|de|fr|"
    "cn|jp|ca|au|nl|eu|ai|tv|ly|gg|ch|se|es|ru|nz|ie|hk|tw|sg|kr"
)
_LABEL: Final = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_PATH: Final = r"(?:/[A-Za-z0-9_~%-]+(?:\.[A-Za-z0-9_~%-]+)*)*/?"
_RE_SCHEME: Final = re.compile(r"\b(?:https?|ftp)://", re.IGNORECASE)
_RE_EMAIL: Final = re.compile(
    rf"(?<![\w.+-])([A-Za-z0-9._%+-]+)@((?:{_LABEL}\.)+[A-Za-z]{{2,}})\b(?!\.\w)", re.ASCII
)
_RE_URL: Final = re.compile(
    rf"(?<![\w.@/-])((?:{_LABEL}\.)+(?:{_TOP_LEVEL_DOMAINS}))\b(?![.-]\w)(?::(\d{{2,5}})\b)?({_PATH})", re.ASCII
)
_RE_IP: Final = re.compile(r"(?<![\w.])((?:\d{1,3}\.){3}\d{1,3})(?![\w]|\.\d)(?::(\d{2,5})\b)?", re.ASCII)
_SEPARATORS: Final = {
    ".": " dot ", "-": " dash ", "_": " underscore ", "/": " slash ", "+": " plus ", "%": " percent ",
    "~": " tilde ",
}
_RE_SEPARATOR: Final = re.compile(r"[-._/+%~]")


def _spoken_name(part: str) -> str:
    """One name between separators: "www" and two-letter top-level domains spelled, others kept."""
    if part.lower() == "www":
        return "w w w"
    return part


def _spoken_address(address: str, *, spell_last: bool) -> str:
    parts = _RE_SEPARATOR.split(address)
    separators = _RE_SEPARATOR.findall(address)
    words = [_spoken_name(part) for part in parts]
    if spell_last and len(words) > 1 and len(words[-1]) == 2 and words[-1].isalpha():
        words[-1] = " ".join(words[-1].upper())
    spoken = words[0]
    for separator, word in zip(separators, words[1:], strict=True):
        spoken += _SEPARATORS[separator] + word
    return " ".join(spoken.split())


def _port(port: str | None) -> str:
    return f" colon {en_numbers.digits(port)}" if port else ""


def _replace_email(match: re.Match[str]) -> str:
    local, domain = match.groups()
    return f"{_spoken_address(local, spell_last=False)} at {_spoken_address(domain, spell_last=True)}"


def _replace_url(match: re.Match[str]) -> str:
    host, port, path = match.groups()
    spoken = _spoken_address(host, spell_last=True) + _port(port)
    if path:
        spoken += " " + _spoken_address(path.rstrip("/"), spell_last=False) if path.rstrip("/") else ""
    return spoken


def _replace_ip(match: re.Match[str]) -> str:
    address, port = match.groups()
    return " dot ".join(en_numbers.digits(octet) for octet in address.split(".")) + _port(port)


def verbalize_web_addresses(text: str) -> str:
    """E-mail, web and IP addresses -> words (see the module doc); other text is kept."""
    text = _RE_SCHEME.sub("", text)
    text = _RE_EMAIL.sub(_replace_email, text)
    text = _RE_IP.sub(_replace_ip, text)
    return _RE_URL.sub(_replace_url, text)
