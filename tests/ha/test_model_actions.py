"""install_model, enroll_voice with a fine-tune pair, and the no-model answer, against the fake server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import voluptuous as vol
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.edge_tts_clone.const import DOMAIN

from .fake_server import REPORT_OK, FakeServer

CLIP = b"RIFF" + bytes(40) + b"\x01\x02" * 800
GPT = b"PK" + bytes(300_000)
SOVITS = b"05" + bytes(200_000)


@pytest.fixture
def folders(hass: HomeAssistant, tmp_path: Path) -> Path:
    """A config folder holding a clip and a fine-tune pair; a media folder; returns the config folder."""
    config = tmp_path / "config"
    (config / "voices" / "dad").mkdir(parents=True)
    (config / "voices" / "dad" / "dad.wav").write_bytes(CLIP)
    (config / "voices" / "dad" / "dad-e15.ckpt").write_bytes(GPT)
    (config / "voices" / "dad" / "dad_e8_s200.pth").write_bytes(SOVITS)
    (tmp_path / "media").mkdir()
    hass.config.media_dirs = {"local": str(tmp_path / "media")}
    hass.config.config_dir = str(config)
    return config


def _enroll(**extra: Any) -> dict[str, Any]:
    return {
        "name": "Dad",
        "audio": "voices/dad/dad.wav",
        "transcript": "The kettle is on.",
        "language": "en",
        "consent": True,
        "gpt": "voices/dad/dad-e15.ckpt",
        "sovits": "voices/dad/dad_e8_s200.pth",
        **extra,
    }


async def test_install_model_starts_the_job_and_answers_at_once(
    hass: HomeAssistant, fake_server: FakeServer, loaded_entry: MockConfigEntry
) -> None:
    response = await hass.services.async_call(DOMAIN, "install_model", {}, blocking=True, return_response=True)
    assert response is not None
    assert response["state"] == "running" and response["model_id"] == "v2pro" and response["progress"] == 0.0
    assert response["job_id"] and response["error"] is None
    assert fake_server.jobs.installs == [{"model": "v2pro", "replace": False}]
    assert fake_server.jobs.status_queries == [], "without wait, nobody follows the job"


async def test_install_model_with_wait_follows_the_job_to_its_end(
    hass: HomeAssistant, fake_server: FakeServer, loaded_entry: MockConfigEntry
) -> None:
    response = await hass.services.async_call(
        DOMAIN, "install_model", {"model": "v2proplus", "replace": True, "wait": True}, blocking=True,
        return_response=True,
    )
    assert response is not None and response["state"] == "succeeded" and response["progress"] == 1.0
    assert fake_server.jobs.installs == [{"model": "v2proplus", "replace": True}]
    assert [query["after"] for query in fake_server.jobs.status_queries] == ["0", "1", "2"]
    assert {query["wait"] for query in fake_server.jobs.status_queries} == {"30"}


async def test_a_failed_install_raises_with_the_servers_reason(
    hass: HomeAssistant, fake_server: FakeServer, loaded_entry: MockConfigEntry
) -> None:
    fake_server.jobs.fail = ("insufficient-storage", "the disk of the data folder is full")
    with pytest.raises(HomeAssistantError) as caught:
        await hass.services.async_call(DOMAIN, "install_model", {"wait": True}, blocking=True, return_response=True)
    assert caught.value.translation_key == "job_failed"
    assert caught.value.translation_placeholders == {"model": "v2pro", "reason": "the disk of the data folder is full"}


@pytest.mark.parametrize(
    ("status", "code", "key"),
    [
        (409, "already-installed", "model_installed"),
        (409, "job-running", "job_running"),
        (507, "insufficient-storage", "not_enough_space"),
    ],
)
async def test_an_install_the_server_will_not_start_is_explained(
    hass: HomeAssistant, fake_server: FakeServer, loaded_entry: MockConfigEntry, status: int, code: str, key: str
) -> None:
    fake_server.jobs.refuse = (status, code, "the server's own words")
    with pytest.raises(ServiceValidationError) as caught:
        await hass.services.async_call(DOMAIN, "install_model", {}, blocking=True, return_response=True)
    assert caught.value.translation_key == key
    assert caught.value.translation_placeholders == {"message": "the server's own words"}


async def test_only_the_official_models_can_be_asked_for(hass: HomeAssistant, loaded_entry: MockConfigEntry) -> None:
    with pytest.raises(vol.Invalid):
        await hass.services.async_call(DOMAIN, "install_model", {"model": "../v3"}, blocking=True)


async def test_enroll_with_a_fine_tune_uploads_it_waits_and_answers_with_the_voice(
    hass: HomeAssistant, fake_server: FakeServer, loaded_entry: MockConfigEntry, folders: Path
) -> None:
    response = await hass.services.async_call(DOMAIN, "enroll_voice", _enroll(), blocking=True, return_response=True)
    assert response == {"voice_id": "dad", "report": REPORT_OK, "model_id": "dad-ft"}
    (upload,) = fake_server.jobs.imports
    assert upload["gpt"] == {"filename": "dad-e15.ckpt", "bytes": len(GPT)}
    assert upload["sovits"] == {"filename": "dad_e8_s200.pth", "bytes": len(SOVITS)}
    assert upload["audio"] == {"filename": "dad.wav", "bytes": len(CLIP)}
    assert {key: upload[key] for key in ("name", "text", "language")} == {
        "name": "Dad",
        "text": "The kettle is on.",
        "language": "en",
    }
    assert "agreed that their voice may be recorded" in upload["consent"]
    assert fake_server.uploads == [], "the clip went with the fine-tune, not to POST /api/voices"
    assert loaded_entry.runtime_data.data.voice("dad") is not None


async def test_a_fine_tune_whose_clip_is_refused_says_why(
    hass: HomeAssistant, fake_server: FakeServer, loaded_entry: MockConfigEntry, folders: Path
) -> None:
    fake_server.jobs.reject_enrollment = True
    with pytest.raises(ServiceValidationError) as caught:
        await hass.services.async_call(DOMAIN, "enroll_voice", _enroll(), blocking=True, return_response=True)
    assert caught.value.translation_key == "voice_rejected"
    assert caught.value.translation_placeholders == {"reasons": "too noisy (SNR 4 dB < 15 dB)"}


@pytest.mark.parametrize(
    ("fields", "key"),
    [
        ({"sovits": None}, "fine_tune_fields"),
        ({"name": None, "voice_id": "dad"}, "fine_tune_fields"),
        ({"gpt": "/etc/passwd.ckpt"}, "checkpoint_not_allowed"),
        ({"gpt": "../outside.ckpt"}, "checkpoint_not_allowed"),
        ({"gpt": "voices/dad/dad_e8_s200.pth"}, "wrong_checkpoint_type"),
        ({"sovits": "voices/dad/dad.wav"}, "wrong_checkpoint_type"),
        ({"gpt": "voices/dad/missing.ckpt"}, "checkpoint_not_found"),
        ({"gpt": "media-source://tts/x.ckpt"}, "unsupported_media_source"),
    ],
)
async def test_fine_tune_files_are_checked_before_anything_is_sent(
    hass: HomeAssistant,
    fake_server: FakeServer,
    loaded_entry: MockConfigEntry,
    folders: Path,
    fields: dict[str, Any],
    key: str,
) -> None:
    (folders.parent / "outside.ckpt").write_bytes(GPT)
    data = {name: value for name, value in _enroll(**fields).items() if value is not None}
    with pytest.raises(ServiceValidationError) as caught:
        await hass.services.async_call(DOMAIN, "enroll_voice", data, blocking=True, return_response=True)
    assert caught.value.translation_key == key
    assert fake_server.jobs.imports == [] and fake_server.uploads == []


async def test_enrolling_before_any_model_points_at_install_model(
    hass: HomeAssistant, fake_server: FakeServer, loaded_entry: MockConfigEntry, folders: Path
) -> None:
    fake_server.jobs.no_model = True
    data = {key: value for key, value in _enroll().items() if key not in ("gpt", "sovits")}
    with pytest.raises(ServiceValidationError) as caught:
        await hass.services.async_call(DOMAIN, "enroll_voice", data, blocking=True, return_response=True)
    assert caught.value.translation_key == "no_model"
