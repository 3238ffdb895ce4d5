"""The actions: announce (media players, satellites), enroll_voice, delete_voice."""

from __future__ import annotations

from pathlib import Path

import pytest
from homeassistant.components import tts
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import area_registry as ar
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_mock_service

from custom_components.edge_tts_clone.const import DOMAIN, MAX_ENROLL_FILE_BYTES

from .conftest import TTS_ENTITY
from .fake_server import REPORT_OK, FakeServer, expected_stream_pcm, parse_wav
from .test_tts import as_wav, tts_options

CLIP = b"RIFF" + bytes(40) + b"\x01\x02" * 800  # content is opaque to the integration


async def test_announce_on_media_player(
    hass: HomeAssistant, fake_server: FakeServer, loaded_entry: MockConfigEntry
) -> None:
    """Players get play_media with announce: true and our media id carrying voice/style/speed."""
    calls = async_mock_service(hass, "media_player", "play_media")
    message = "The door is open."
    await hass.services.async_call(
        DOMAIN,
        "announce",
        {
            "entity_id": "media_player.kitchen",
            "message": message,
            "voice": "mum",
            "style": "calm",
            "speed": 1.1,
        },
        blocking=True,
    )
    assert len(calls) == 1
    data = calls[0].data
    assert data["entity_id"] == ["media_player.kitchen"]
    assert data["announce"] is True
    assert data["media_content_type"] == "music"
    media_id = data["media_content_id"]
    assert media_id.startswith(f"media-source://tts/{TTS_ENTITY}?")
    assert tts_options(media_id) == {"voice": "mum", "style": "calm", "speed": 1.1}
    _, audio = await tts.async_get_media_source_audio(hass, as_wav(media_id))
    assert parse_wav(audio)[4] == expected_stream_pcm(message, "mum")
    assert fake_server.requests[-1].extras == {"speed": 1.1, "style": "calm"}


async def test_announce_on_satellite_uses_our_voice(
    hass: HomeAssistant, fake_server: FakeServer, loaded_entry: MockConfigEntry
) -> None:
    """Satellites get assist_satellite.announce with a media id of our engine and voice."""
    satellite_calls = async_mock_service(hass, "assist_satellite", "announce")
    player_calls = async_mock_service(hass, "media_player", "play_media")
    await hass.services.async_call(
        DOMAIN,
        "announce",
        {
            "entity_id": ["assist_satellite.hall", "media_player.kitchen"],
            "message": "Dinner is ready.",
            "voice": "dad",
            "preannounce": False,
        },
        blocking=True,
    )
    assert len(satellite_calls) == 1
    data = satellite_calls[0].data
    assert data["entity_id"] == ["assist_satellite.hall"]
    assert data["message"] == "Dinner is ready."
    assert data["preannounce"] is False
    assert data["media_id"].startswith(f"media-source://tts/{TTS_ENTITY}?")
    assert tts_options(data["media_id"]) == {"voice": "dad"}
    assert [call.data["entity_id"] for call in player_calls] == [["media_player.kitchen"]]


async def test_announce_to_an_area(hass: HomeAssistant, loaded_entry: MockConfigEntry) -> None:
    """Targets by area reach the players in it (the target helpers of both HA versions)."""
    area = ar.async_get(hass).async_create("Kitchen")
    er.async_get(hass).async_get_or_create(
        "media_player", "demo", "kitchen-speaker", suggested_object_id="kitchen_speaker"
    )
    er.async_get(hass).async_update_entity("media_player.kitchen_speaker", area_id=area.id)
    calls = async_mock_service(hass, "media_player", "play_media")
    await hass.services.async_call(
        DOMAIN, "announce", {"area_id": area.id, "message": "Tea is ready.", "voice": "mum"}, blocking=True
    )
    assert [call.data["entity_id"] for call in calls] == [["media_player.kitchen_speaker"]]


async def test_announce_needs_a_target(hass: HomeAssistant, loaded_entry: MockConfigEntry) -> None:
    """Only media players and satellites are targets; anything else is a validation error."""
    with pytest.raises(ServiceValidationError) as caught:
        await hass.services.async_call(
            DOMAIN, "announce", {"entity_id": "light.kitchen", "message": "Hi"}, blocking=True
        )
    assert caught.value.translation_key == "no_targets"


async def test_announce_unknown_voice(hass: HomeAssistant, loaded_entry: MockConfigEntry) -> None:
    """A voice the server does not list is refused before anything plays."""
    calls = async_mock_service(hass, "media_player", "play_media")
    with pytest.raises(ServiceValidationError) as caught:
        await hass.services.async_call(
            DOMAIN,
            "announce",
            {"entity_id": "media_player.kitchen", "message": "Hi", "voice": "nobody"},
            blocking=True,
        )
    assert caught.value.translation_key == "unknown_voice"
    assert calls == []


async def test_announce_unknown_style(hass: HomeAssistant, loaded_entry: MockConfigEntry) -> None:
    """A style the voice does not have is refused, naming the ones it has."""
    with pytest.raises(ServiceValidationError) as caught:
        await hass.services.async_call(
            DOMAIN,
            "announce",
            {"entity_id": "media_player.kitchen", "message": "Hi", "voice": "mum", "style": "angry"},
            blocking=True,
        )
    assert caught.value.translation_key == "unknown_style"
    assert caught.value.translation_placeholders == {
        "voice": "mum",
        "style": "angry",
        "styles": "default, calm",
    }


async def test_actions_need_a_loaded_server(hass: HomeAssistant, config_entry: MockConfigEntry) -> None:
    """The actions exist without a loaded entry (registered in async_setup) and say why they fail."""
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.config_entries.async_unload(config_entry.entry_id)
    assert hass.services.has_service(DOMAIN, "announce")
    with pytest.raises(ServiceValidationError) as caught:
        await hass.services.async_call(DOMAIN, "delete_voice", {"voice": "mum"}, blocking=True)
    assert caught.value.translation_key == "no_server"
    with pytest.raises(ServiceValidationError) as caught:
        await hass.services.async_call(
            DOMAIN, "delete_voice", {"voice": "mum", "config_entry_id": config_entry.entry_id}, blocking=True
        )
    assert caught.value.translation_key == "entry_not_loaded"


@pytest.fixture
def media_dir(hass: HomeAssistant, tmp_path: Path) -> Path:
    """A media folder with one clip, and a config folder, both in the test's temp dir."""
    media = tmp_path / "media"
    (media / "voices").mkdir(parents=True)
    (media / "voices" / "grandma.wav").write_bytes(CLIP)
    config = tmp_path / "config"
    config.mkdir()
    hass.config.media_dirs = {"local": str(media)}
    hass.config.config_dir = str(config)
    return media


async def test_enroll_and_delete_round_trip(
    hass: HomeAssistant, fake_server: FakeServer, loaded_entry: MockConfigEntry, media_dir: Path
) -> None:
    """Enroll from a media-source id: the server gets the clip, HA the report and the new voice."""
    response = await hass.services.async_call(
        DOMAIN,
        "enroll_voice",
        {
            "name": "Grandma",
            "audio": "media-source://media_source/local/voices/grandma.wav",
            "transcript": "Hello, this is Grandma speaking.",
            "language": "en",
            "consent": True,
            "style": "warm",
        },
        blocking=True,
        return_response=True,
    )
    assert response == {"voice_id": "grandma", "report": REPORT_OK}
    upload = fake_server.uploads[-1]
    assert upload["audio"] == {"filename": "grandma.wav", "data": CLIP}
    assert {key: upload[key] for key in ("name", "text", "language", "consent", "style")} == {
        "name": "Grandma",
        "text": "Hello, this is Grandma speaking.",
        "language": "en",
        "consent": "Grandma agreed that their voice may be recorded and cloned "
        "(confirmed in Home Assistant with the edge_tts_clone.enroll_voice action)",
        "style": "warm",
    }
    coordinator = loaded_entry.runtime_data
    assert coordinator.data.voice("grandma") is not None

    await hass.services.async_call(DOMAIN, "delete_voice", {"voice": "grandma"}, blocking=True)
    assert "grandma" not in fake_server.voices
    assert coordinator.data.voice("grandma") is None


async def test_enroll_from_config_folder_path(
    hass: HomeAssistant, fake_server: FakeServer, loaded_entry: MockConfigEntry, media_dir: Path
) -> None:
    """A path relative to the config folder works; adding a style to a voice needs no name."""
    clip = Path(hass.config.config_dir) / "recordings" / "dad-calm.flac"
    clip.parent.mkdir()
    clip.write_bytes(CLIP)
    response = await hass.services.async_call(
        DOMAIN,
        "enroll_voice",
        {
            "voice_id": "dad",
            "audio": "recordings/dad-calm.flac",
            "transcript": "Calm down.",
            "language": "zh",
            "consent": True,
            "style": "calm",
        },
        blocking=True,
        return_response=True,
    )
    assert response is not None
    assert response["voice_id"] == "dad"
    assert "name" not in fake_server.uploads[-1]
    assert fake_server.uploads[-1]["voice_id"] == "dad"
    assert loaded_entry.runtime_data.data.voice("dad").styles == ("default", "calm")


async def test_enroll_force_accepts_weak_objections_with_the_report(
    hass: HomeAssistant, fake_server: FakeServer, loaded_entry: MockConfigEntry, media_dir: Path
) -> None:
    """A clip the gate only objects to weakly: refused, naming why; with force: true, enrolled, and
    the report lists the objections as warnings (the CLI's --force)."""
    fake_server.weak_objections = ["too noisy: SNR 12 dB"]
    data = {
        "name": "Grandma",
        "audio": "media-source://media_source/local/voices/grandma.wav",
        "transcript": "Hello, this is Grandma speaking.",
        "language": "en",
        "consent": True,
    }
    with pytest.raises(ServiceValidationError) as caught:
        await hass.services.async_call(DOMAIN, "enroll_voice", data, blocking=True, return_response=True)
    assert caught.value.translation_key == "voice_rejected"
    assert caught.value.translation_placeholders == {"reasons": "too noisy: SNR 12 dB"}
    assert "force" not in fake_server.uploads[-1]
    response = await hass.services.async_call(
        DOMAIN, "enroll_voice", {**data, "force": True}, blocking=True, return_response=True
    )
    assert fake_server.uploads[-1]["force"] == "true"
    assert response is not None and response["voice_id"] == "grandma"
    report = response["report"]
    assert isinstance(report, dict)
    assert report["warnings"] == ["accepted with --force: too noisy: SNR 12 dB"]


async def test_enroll_rejection_carries_server_reasons(
    hass: HomeAssistant, fake_server: FakeServer, loaded_entry: MockConfigEntry, media_dir: Path
) -> None:
    """A refused clip is a validation error naming the server's reasons."""
    fake_server.reject_enrollment = True
    with pytest.raises(ServiceValidationError) as caught:
        await hass.services.async_call(
            DOMAIN,
            "enroll_voice",
            {
                "name": "Grandma",
                "audio": str(media_dir / "voices" / "grandma.wav"),
                "transcript": "Hello.",
                "language": "en",
                "consent": True,
            },
            blocking=True,
            return_response=True,
        )
    assert caught.value.translation_key == "voice_rejected"
    assert caught.value.translation_placeholders == {"reasons": "too noisy (SNR 4 dB < 15 dB)"}


@pytest.mark.parametrize(
    ("audio", "key"),
    [
        ("/etc/passwd", "path_not_allowed"),
        ("media-source://media_source/local/../../outside.wav", "path_not_allowed"),
        ("media-source://media_source/local/voices/escape.wav", "path_not_allowed"),
        ("secrets.yaml", "not_audio_file"),
        ("media-source://media_source/local/voices/grandma.m4a", "not_audio_file"),
        ("media-source://media_source/local/voices/missing.wav", "audio_not_found"),
        ("media-source://media_source/local/voices/huge.wav", "audio_too_large"),
        ("media-source://tts/tts.other?message=hi", "unsupported_media_source"),
        ("media-source://media_source/nope/x.wav", "unsupported_media_source"),
    ],
)
async def test_enroll_refuses_files_outside_media_and_config(
    hass: HomeAssistant,
    fake_server: FakeServer,
    loaded_entry: MockConfigEntry,
    media_dir: Path,
    tmp_path: Path,
    audio: str,
    key: str,
) -> None:
    """Traversal, symlinks out of the folder, non-audio files, huge files and other sources never upload."""
    (tmp_path / "outside.wav").write_bytes(CLIP)
    with (media_dir / "voices" / "huge.wav").open("wb") as huge:
        huge.truncate(MAX_ENROLL_FILE_BYTES + 1)  # sparse: takes no disk space
    (media_dir / "voices" / "escape.wav").symlink_to(tmp_path / "outside.wav")
    (Path(hass.config.config_dir) / "secrets.yaml").write_text("api_key: hunter2\n")
    with pytest.raises(ServiceValidationError) as caught:
        await hass.services.async_call(
            DOMAIN,
            "enroll_voice",
            {"name": "X", "audio": audio, "transcript": "x", "language": "en", "consent": True},
            blocking=True,
            return_response=True,
        )
    assert caught.value.translation_key == key
    assert fake_server.uploads == []


async def test_enroll_needs_a_name_or_voice_id(
    hass: HomeAssistant, fake_server: FakeServer, loaded_entry: MockConfigEntry, media_dir: Path
) -> None:
    """Without name and voice_id the server could not name the voice: refused locally."""
    with pytest.raises(ServiceValidationError) as caught:
        await hass.services.async_call(
            DOMAIN,
            "enroll_voice",
            {
                "audio": "media-source://media_source/local/voices/grandma.wav",
                "transcript": "Hello.",
                "language": "en",
                "consent": True,
            },
            blocking=True,
            return_response=True,
        )
    assert caught.value.translation_key == "name_required"
    assert fake_server.uploads == []


async def test_enroll_requires_consent(
    hass: HomeAssistant, fake_server: FakeServer, loaded_entry: MockConfigEntry, media_dir: Path
) -> None:
    """consent: false is refused and nothing is sent."""
    with pytest.raises(ServiceValidationError) as caught:
        await hass.services.async_call(
            DOMAIN,
            "enroll_voice",
            {
                "name": "Grandma",
                "audio": "media-source://media_source/local/voices/grandma.wav",
                "transcript": "Hello.",
                "language": "en",
                "consent": False,
            },
            blocking=True,
            return_response=True,
        )
    assert caught.value.translation_key == "consent_required"
    assert fake_server.uploads == []


@pytest.mark.parametrize(("voice", "key"), [("joe", "builtin_voice"), ("ghost", "unknown_voice")])
async def test_delete_refusals(
    hass: HomeAssistant, fake_server: FakeServer, loaded_entry: MockConfigEntry, voice: str, key: str
) -> None:
    """The stock voice stays and an unknown id is reported; both as validation errors."""
    with pytest.raises(ServiceValidationError) as caught:
        await hass.services.async_call(DOMAIN, "delete_voice", {"voice": voice}, blocking=True)
    assert caught.value.translation_key == key
    assert "joe" in fake_server.voices
