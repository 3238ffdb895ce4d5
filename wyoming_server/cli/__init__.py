"""The `edge-tts-clone` command line: one sub-command per module in this package.

Each module exposes `register(subparsers)`, which adds its parser and sets
`func(args) -> int`. Only this package reads argv; it builds frozen settings and
calls into the library.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence
from typing import Final

from .. import __version__

COMMAND_MODULES: Final = ("serve", "say", "phones", "convert", "voices", "models", "detect", "bench", "health", "addon")
"""Sub-command modules, in the order `--help` lists them; imported only to build the parser, so that
`python -m wyoming_server.cli.health` (the container's health check) loads no numpy or onnxruntime."""
_TOP_LEVEL_FLAGS: Final = ("--version", "-h", "--help")
EXIT_BROKEN_PIPE: Final = 128 + 13
"""What a shell reports for a command whose reader went away (128 + SIGPIPE), e.g. `| head -1`."""
DEFAULT_COMMAND: Final = "serve"
"""`python -m wyoming_server --uri stdio://` runs the server, like wyoming-piper."""


def build_parser() -> tuple[argparse.ArgumentParser, list[str]]:
    """The top-level parser and the names of its sub-commands."""
    parser = argparse.ArgumentParser(
        prog="edge-tts-clone",
        description="Local GPT-SoVITS voice cloning for Home Assistant.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=__version__)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"{__name__}.{name}").register(subparsers)
    return parser, list(COMMAND_MODULES)


def configure_logging(debug: bool, log_format: str = logging.BASIC_FORMAT) -> None:
    """The only place that configures logging.

    Without --debug, other libraries log warnings only: onnxruntime's quantizer logs a line per
    tensor at INFO, and torch's exporter a C++ warning per attention node, which drowned the
    converter's progress.
    """
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, format=log_format, stream=sys.stderr)
    logging.getLogger(__name__.partition(".")[0]).setLevel(logging.DEBUG if debug else logging.INFO)
    if not debug:
        os.environ.setdefault("TORCH_CPP_LOG_LEVEL", "ERROR")  # read when torch is first imported


def main(argv: Sequence[str] | None = None) -> int:
    """Parse `argv` and run the chosen sub-command; returns the exit code."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser, _names = build_parser()
    starts_with_option = not args_list or (args_list[0].startswith("-") and args_list[0] not in _TOP_LEVEL_FLAGS)
    if starts_with_option:
        args_list.insert(0, DEFAULT_COMMAND)
    if args_list and args_list[0] == "bench":
        rest = args_list[1:]
        if not rest or (rest[0].startswith("-") and rest[0] not in _TOP_LEVEL_FLAGS):
            from .bench import DEFAULT_ACTION  # `bench --tiny` is `bench engine --tiny`

            args_list.insert(1, DEFAULT_ACTION)
    args = parser.parse_args(args_list)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    configure_logging(getattr(args, "debug", False), getattr(args, "log_format", logging.BASIC_FORMAT))
    code: int = args.func(args)
    return code


def run() -> None:
    """Console-script entry point; a closed output pipe ends the command quietly, as it does `cat`."""
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:
        # Python would try (and fail) to flush stdout again at exit, printing a second traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = EXIT_BROKEN_PIPE
    sys.exit(code)
