"""`edge-tts-clone addon`: run as a Home Assistant add-on, turning `/data/options.json` into `serve` flags.

The Supervisor writes the options the user set in the add-on's Configuration tab (validated
against the schema in addon/config.yaml) to /data/options.json; /data is the folder Home
Assistant backs up, so voices, models and the admin token live there too.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Final

from ..settings import (
    DEFAULT_CACHE_SIZE_MB,
    DEFAULT_MAX_CONCURRENT,
    DEFAULT_MAX_LOADED_MODELS,
    DEFAULT_MAX_TEXT_CHARS,
    DEFAULT_REQUEST_TIMEOUT_S,
)

_LOGGER = logging.getLogger(__name__)

ADDON_DATA_DIR: Final = Path("/data")
PUBLIC_DIR: Final = Path("/config")
"""The add-on's public folder (`addon_config` in config.yaml): /addon_configs/<slug> in Samba or File editor."""
OPTIONS_FILE: Final = "options.json"
WYOMING_URI: Final = "tcp://0.0.0.0:10210"
"""The add-on's ports are fixed inside the container; config.yaml maps them to host ports."""
HTTP_PORT: Final = 10211
LOG_LEVELS: Final = ("info", "debug")
PRECISIONS: Final = ("auto", "int8", "fp32")
NO_MODEL: Final = "none"


@dataclass(frozen=True, slots=True)
class AddonOptions:
    """The add-on's options (the `options`/`schema` of addon/config.yaml), with its defaults."""

    threads: int = 0
    """onnxruntime threads per synthesis; 0 = CPU cores / max_concurrent."""
    precision: str = "auto"
    """GPT-SoVITS graphs: auto (INT8 when present), int8 or fp32."""
    log_level: str = "info"
    max_concurrent: int = DEFAULT_MAX_CONCURRENT
    max_text_chars: int = DEFAULT_MAX_TEXT_CHARS
    request_timeout: int = int(DEFAULT_REQUEST_TIMEOUT_S)
    """Seconds."""
    cache_size_mb: int = DEFAULT_CACHE_SIZE_MB
    max_loaded_models: int = DEFAULT_MAX_LOADED_MODELS
    zeroconf: bool = True
    """Announce the server over mDNS so Home Assistant offers to set it up."""
    install_model: str = NO_MODEL
    """A cloning model (v2, v2pro, v2proplus) to download and convert at start when missing; none: do not."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AddonOptions:
        """Options from options.json; a missing key keeps its default, an unknown one is ignored with a warning."""
        known = {field.name: field for field in fields(cls)}
        for key in sorted(set(data) - set(known)):
            _LOGGER.warning("Ignoring unknown add-on option %r", key)
        values: dict[str, Any] = {}
        for name, field in known.items():
            if name not in data:
                continue
            value = data[name]
            wanted = bool if field.type in ("bool", bool) else int if field.type in ("int", int) else str
            if type(value) is not wanted:  # bool is an int in Python: compare types exactly
                raise ValueError(f"add-on option {name!r} must be {wanted.__name__}, not {value!r}")
            values[name] = value
        options = cls(**values)
        options._validate()
        return options

    def _validate(self) -> None:
        from ..models.catalogue import CATALOGUE

        installable = (NO_MODEL, *CATALOGUE)
        for name, allowed in (("log_level", LOG_LEVELS), ("precision", PRECISIONS), ("install_model", installable)):
            if (value := getattr(self, name)) not in allowed:
                raise ValueError(f"add-on option {name!r} must be one of {', '.join(allowed)}, not {value!r}")
        for name in ("threads", "cache_size_mb"):
            if getattr(self, name) < 0:
                raise ValueError(f"add-on option {name!r} must not be negative")
        for name in ("max_concurrent", "max_text_chars", "request_timeout", "max_loaded_models"):
            if getattr(self, name) < 1:
                raise ValueError(f"add-on option {name!r} must be at least 1")

    def to_dict(self) -> dict[str, Any]:
        """As options.json holds them."""
        return asdict(self)


def serve_arguments(options: AddonOptions, data_dir: Path = ADDON_DATA_DIR) -> list[str]:
    """The `serve` command line these options stand for."""
    arguments = [
        "serve",
        "--uri", WYOMING_URI,
        "--http-port", str(HTTP_PORT),
        "--data-dir", str(data_dir),
        "--threads", str(options.threads),
        "--precision", options.precision,
        "--max-concurrent", str(options.max_concurrent),
        "--max-text-chars", str(options.max_text_chars),
        "--request-timeout", str(options.request_timeout),
        "--cache-size-mb", str(options.cache_size_mb),
        "--max-loaded-models", str(options.max_loaded_models),
    ]  # fmt: skip
    if options.zeroconf:
        arguments.append("--zeroconf")
    if options.install_model != NO_MODEL:
        arguments += ["--install-model", options.install_model]
    if options.log_level == "debug":
        arguments.append("--debug")
    return arguments


def read_options(path: Path) -> AddonOptions:
    """The options in `path` (ValueError naming the file when it is not a JSON object of valid options)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON: {err}") from err
    if not isinstance(data, dict):
        raise ValueError(f"{path} must hold a JSON object of options")
    return AddonOptions.from_dict(data)


def publish_admin_token(data_dir: Path, public_dir: Path) -> Path | None:
    """Copy the admin token into the add-on's public folder, the one place an add-on user can read files.

    The user needs the token to set up the integration; the server never logs it.
    """
    from ..server.identity import ADMIN_TOKEN_FILE, load_or_create_admin_token

    if not public_dir.is_dir():
        return None
    target = public_dir / ADMIN_TOKEN_FILE
    partial = target.with_name(f".{ADMIN_TOKEN_FILE}.partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(load_or_create_admin_token(data_dir) + "\n")
    os.replace(partial, target)
    return target


def register(subparsers: Any) -> None:
    """Add the `addon` sub-command."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "addon",
        help="run as a Home Assistant add-on (serve with the options in DATA_DIR/options.json)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--data-dir", type=Path, default=ADDON_DATA_DIR, help="the add-on's data folder")
    parser.add_argument(
        "--public-dir", type=Path, default=PUBLIC_DIR, help="where to put a copy of the admin token for the user"
    )
    parser.add_argument("--print-arguments", action="store_true", help="print the serve arguments and exit")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Read the options and run `serve` with them in this process (so SIGTERM reaches the server)."""
    from . import main

    data_dir: Path = args.data_dir
    path = data_dir / OPTIONS_FILE
    try:
        options = read_options(path) if path.exists() else AddonOptions()
    except (OSError, ValueError) as err:
        _LOGGER.error("Cannot start the add-on: %s", err)
        return 2
    arguments = serve_arguments(options, data_dir)
    if args.print_arguments:
        print(" ".join(arguments))
        return 0
    _LOGGER.info("Add-on options: %s", json.dumps(options.to_dict(), sort_keys=True))
    try:
        published = publish_admin_token(data_dir, args.public_dir)
    except (OSError, ValueError) as err:
        _LOGGER.error("Cannot start the add-on: %s", err)
        return 1
    if published is not None:
        _LOGGER.info("The admin token is in the add-on's config folder: %s", published.name)
    return main(arguments)
