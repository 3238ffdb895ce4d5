"""`serve` flags from the environment (how a container is configured) and the flags the add-on needs."""

from __future__ import annotations

from pathlib import Path

import pytest

from wyoming_server.cli import build_parser
from wyoming_server.cli.environment import environment_name
from wyoming_server.cli.serve import settings_from_args
from wyoming_server.settings import ServerSettings


def _settings(*argv: str) -> ServerSettings:
    parser, _names = build_parser()
    return settings_from_args(parser.parse_args(["serve", *argv]))


def test_variable_names_follow_the_flags() -> None:
    assert environment_name("--max-text-chars") == "EDGE_TTS_CLONE_MAX_TEXT_CHARS"
    assert environment_name("--data-dir") == "EDGE_TTS_CLONE_DATA_DIR"


def test_environment_sets_defaults_and_the_command_line_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("EDGE_TTS_CLONE_THREADS", "3")
    monkeypatch.setenv("EDGE_TTS_CLONE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("EDGE_TTS_CLONE_NO_STREAMING", "yes")
    monkeypatch.setenv("EDGE_TTS_CLONE_MAX_TEXT_CHARS", "500")
    monkeypatch.setenv("EDGE_TTS_CLONE_ZEROCONF", "")
    settings = _settings()
    assert settings.engine.threads == 3
    assert settings.data_dir == tmp_path
    assert settings.streaming is False
    assert settings.limits.max_text_chars == 500
    assert settings.zeroconf_name == "", "an empty variable is a bare --zeroconf"
    assert _settings("--threads", "2").engine.threads == 2


def test_a_false_switch_leaves_it_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGE_TTS_CLONE_NO_STREAMING", "0")
    assert _settings().streaming is True


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("EDGE_TTS_CLONE_THREADS", "two", "EDGE_TTS_CLONE_THREADS='two' is not a valid value for --threads"),
        ("EDGE_TTS_CLONE_DEBUG", "maybe", "expected 1/true/yes or 0/false/no"),
        ("EDGE_TTS_CLONE_PRECISION", "fp16", "choose from auto, int8, fp32"),
    ],
)
def test_a_bad_variable_is_a_usage_error_naming_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as exit_info:
        build_parser()
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_precision_and_shutdown_grace_reach_the_settings() -> None:
    assert _settings().engine.precision is None
    assert _settings("--precision", "fp32").engine.precision == "fp32"
    assert _settings("--shutdown-grace", "2.5").shutdown_grace_s == 2.5
    with pytest.raises(ValueError, match="--shutdown-grace"):
        _settings("--shutdown-grace", "-1")


def test_precision_reaches_the_loaded_gpt_sovits_model(tiny_model_v2: Path, tmp_path: Path) -> None:
    from wyoming_server.voices.folder_library import open_library

    loaded = {
        precision: open_library(tmp_path / "data", precision=precision)._gpt_sovits_loader(tiny_model_v2, 1)
        for precision in (None, "fp32")
    }
    assert loaded[None].model is not None and loaded[None].model.precision == "int8", "auto: INT8 when present"
    assert loaded["fp32"].model is not None and loaded["fp32"].model.precision == "fp32"
