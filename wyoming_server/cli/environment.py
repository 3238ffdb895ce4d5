"""Flag defaults from the environment (`EDGE_TTS_CLONE_THREADS=2` = `--threads 2`), for containers.

A container is configured with `docker run -e ...` or a compose file as often as with flags;
the flag on the command line still wins, because only the default changes.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Final

ENVIRONMENT_PREFIX: Final = "EDGE_TTS_CLONE_"
_TRUE: Final = frozenset({"1", "true", "yes", "on"})
_FALSE: Final = frozenset({"0", "false", "no", "off", ""})


def environment_name(flag: str) -> str:
    """`--max-text-chars` -> `EDGE_TTS_CLONE_MAX_TEXT_CHARS`."""
    return ENVIRONMENT_PREFIX + flag.lstrip("-").replace("-", "_").upper()


def apply_environment_defaults(parser: argparse.ArgumentParser, environ: Mapping[str, str]) -> None:
    """Set the default of every long flag of `parser` whose variable is in `environ`.

    A value the flag would refuse exits with argparse's usage error naming the variable.
    """
    for action in parser._actions:  # argparse has no public list of a parser's actions
        flags = [flag for flag in action.option_strings if flag.startswith("--")]
        if not flags or isinstance(action, argparse._HelpAction | argparse._VersionAction):
            continue
        name = environment_name(flags[0])
        if name not in environ:
            continue
        raw = environ[name].strip()
        action.default = _parse(parser, action, name, raw)


def _parse(parser: argparse.ArgumentParser, action: argparse.Action, name: str, raw: str) -> object:
    if isinstance(action, argparse._StoreTrueAction):
        if raw.lower() in _TRUE | _FALSE:
            return raw.lower() in _TRUE
        parser.error(f"{name}={raw!r}: expected 1/true/yes or 0/false/no")
    if action.nargs == "?" and raw == "":
        return action.const  # `EDGE_TTS_CLONE_ZEROCONF=` = a bare `--zeroconf`
    convert = action.type if callable(action.type) else str
    try:
        value = convert(raw)
    except (TypeError, ValueError):
        parser.error(f"{name}={raw!r} is not a valid value for {action.option_strings[-1]}")
    if action.choices is not None and value not in action.choices:
        choices = ", ".join(map(str, action.choices))
        parser.error(f"{name}={raw!r}: choose from {choices}")
    return value
