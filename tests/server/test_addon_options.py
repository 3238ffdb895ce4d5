"""The Home Assistant add-on: options.json -> `serve` flags (wyoming_server/cli/addon.py), and addon/ agrees.

No Docker here: tests/container/test_addon_image.py runs the add-on's image with an options file.
"""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from wyoming_server.cli import build_parser
from wyoming_server.cli import main as cli_main
from wyoming_server.cli.addon import (
    LOG_LEVELS,
    PRECISIONS,
    AddonOptions,
    publish_admin_token,
    read_options,
    serve_arguments,
)
from wyoming_server.cli.serve import settings_from_args
from wyoming_server.settings import DEFAULT_HTTP_PORT, DEFAULT_URI, ServerSettings

REPO = Path(__file__).resolve().parents[2]
ADDON = REPO / "addon"


def _config() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load((ADDON / "config.yaml").read_text(encoding="utf-8"))
    return config


def _settings(options: AddonOptions, data_dir: Path) -> ServerSettings:
    parser, _names = build_parser()
    return settings_from_args(parser.parse_args(serve_arguments(options, data_dir)))


def test_the_options_become_the_servers_settings(tmp_path: Path) -> None:
    options = AddonOptions.from_dict(
        {
            "threads": 3,
            "precision": "fp32",
            "log_level": "debug",
            "max_concurrent": 2,
            "max_text_chars": 300,
            "request_timeout": 30,
            "cache_size_mb": 0,
            "max_loaded_models": 1,
            "zeroconf": False,
            "install_model": "v2pro",
        }
    )
    settings = _settings(options, tmp_path)
    assert settings.data_dir == tmp_path
    assert settings.engine.threads == 3 and settings.engine.precision == "fp32"
    assert settings.engine.max_loaded_models == 1
    assert settings.limits.max_concurrent == 2 and settings.limits.max_text_chars == 300
    assert settings.limits.request_timeout_s == 30
    assert settings.cache is None, "cache_size_mb 0 turns the cache off"
    assert settings.zeroconf_name is None
    assert settings.models.install_at_start == "v2pro"
    assert "--debug" in serve_arguments(options, tmp_path)


def test_the_default_options_are_the_servers_defaults(tmp_path: Path) -> None:
    settings = _settings(AddonOptions(), tmp_path)
    defaults = _settings_of(["serve", "--data-dir", str(tmp_path), "--zeroconf"])
    assert settings == defaults
    assert settings.uri == DEFAULT_URI and settings.http_port == DEFAULT_HTTP_PORT, "the ports config.yaml maps"
    assert "--debug" not in serve_arguments(AddonOptions(), tmp_path)
    assert settings.models.install_at_start is None, "the add-on installs no model unless asked"


def _settings_of(argv: list[str]) -> ServerSettings:
    parser, _names = build_parser()
    return settings_from_args(parser.parse_args(argv))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"threads": "2"}, "'threads' must be int, not '2'"),
        ({"zeroconf": 1}, "'zeroconf' must be bool, not 1"),
        ({"threads": True}, "'threads' must be int, not True"),
        ({"precision": "fp16"}, "'precision' must be one of auto, int8, fp32, not 'fp16'"),
        ({"log_level": "trace"}, "'log_level' must be one of info, debug"),
        ({"cache_size_mb": -1}, "'cache_size_mb' must not be negative"),
        ({"max_concurrent": 0}, "'max_concurrent' must be at least 1"),
        ({"install_model": "v3"}, "'install_model' must be one of none, v2, v2pro, v2proplus, not 'v3'"),
    ],
)
def test_a_bad_option_is_refused_with_its_name(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        AddonOptions.from_dict(data)


def test_an_unknown_option_is_ignored_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        assert AddonOptions.from_dict({"streaming": True}) == AddonOptions()
    assert "Ignoring unknown add-on option 'streaming'" in caplog.text


def test_a_broken_options_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "options.json"
    path.write_text("{threads: 2", encoding="utf-8")
    with pytest.raises(ValueError, match=r"options\.json is not valid JSON"):
        read_options(path)
    path.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(ValueError, match="must hold a JSON object"):
        read_options(path)


def test_the_command_reads_the_options_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "options.json").write_text(json.dumps({"threads": 2, "zeroconf": False}), encoding="utf-8")
    assert cli_main(["addon", "--data-dir", str(tmp_path), "--print-arguments"]) == 0
    printed = capsys.readouterr().out.split()
    assert printed == serve_arguments(AddonOptions(threads=2, zeroconf=False), tmp_path)
    (tmp_path / "options.json").write_text(json.dumps({"threads": -1}), encoding="utf-8")
    assert cli_main(["addon", "--data-dir", str(tmp_path), "--print-arguments"]) == 2


def test_the_admin_token_is_copied_where_an_add_on_user_can_read_it(tmp_path: Path) -> None:
    data, public = tmp_path / "data", tmp_path / "config"
    public.mkdir()
    assert cli_main(["addon", "--data-dir", str(data), "--public-dir", str(public), "--print-arguments"]) == 0
    assert not (public / "admin_token").exists(), "--print-arguments changes nothing"
    published = publish_admin_token(data, public)
    assert published == public / "admin_token"
    assert published.read_text(encoding="utf-8").strip() == (data / "admin_token").read_text(encoding="utf-8").strip()
    assert published.stat().st_mode & 0o077 == 0
    assert publish_admin_token(data, tmp_path / "not-mounted") is None


def test_config_yaml_offers_exactly_these_options_with_these_defaults() -> None:
    config = _config()
    assert config["options"] == AddonOptions().to_dict()
    schema = config["schema"]
    assert set(schema) == set(config["options"])
    assert schema["precision"] == f"list({'|'.join(PRECISIONS)})"
    assert schema["log_level"] == f"list({'|'.join(LOG_LEVELS)})"
    for name, value in AddonOptions().to_dict().items():
        kind = schema[name].split("(")[0]
        assert kind == {bool: "bool", int: "int", str: "list"}[type(value)], name


def test_config_yaml_is_a_complete_add_on() -> None:
    config = _config()
    for key in ("name", "version", "slug", "description", "arch"):
        assert config[key], key
    assert config["arch"] == ["amd64", "aarch64"]
    assert config["ports"] == {"10210/tcp": 10210, "10211/tcp": 10211}
    assert {"type": "media", "read_only": True} in config["map"]
    assert {"type": "addon_config", "read_only": False} in config["map"]
    assert config["timeout"] > 5, "longer than the server's shutdown grace"
    from wyoming_server import __version__

    assert config["version"] == __version__
    for name in ("DOCS.md", "README.md", "CHANGELOG.md", "icon.png", "logo.png", "Dockerfile", "run.sh"):
        assert (ADDON / name).is_file(), name
    assert "edge-tts-clone addon --data-dir /data" in (ADDON / "run.sh").read_text(encoding="utf-8")
    repository = yaml.safe_load((REPO / "repository.yaml").read_text(encoding="utf-8"))
    assert repository["name"] and repository["url"].startswith("https://")
    assert _config_yamls() == [ADDON / "config.yaml"], "the Supervisor takes every config.yaml for an add-on"


def _config_yamls() -> list[Path]:
    found: list[Path] = []
    for folder, subfolders, files in os.walk(REPO):
        skipped = ("build", "node_modules")
        subfolders[:] = [name for name in subfolders if not name.startswith(".") and name not in skipped]
        found += [Path(folder) / name for name in files if name == "config.yaml"]
    return found


def test_every_supervisor_builds_from_the_dockerfiles_own_base() -> None:
    build = yaml.safe_load((ADDON / "build.yaml").read_text(encoding="utf-8"))
    dockerfile = (ADDON / "Dockerfile").read_text(encoding="utf-8")
    default = next(line.split("=", 1)[1] for line in dockerfile.splitlines() if line.startswith("ARG BUILD_FROM="))
    assert build["build_from"] == dict.fromkeys(_config()["arch"], default)


def test_every_option_and_port_is_translated() -> None:
    config = _config()
    translations = yaml.safe_load((ADDON / "translations" / "en.yaml").read_text(encoding="utf-8"))
    assert set(translations["configuration"]) == set(config["options"])
    for name, text in translations["configuration"].items():
        assert text["name"] and text["description"], name
    assert set(translations["network"]) == set(config["ports"])
    docs = (ADDON / "DOCS.md").read_text(encoding="utf-8")
    for name in config["options"]:
        assert f"`{name}`" in docs, f"DOCS.md does not describe option {name}"
