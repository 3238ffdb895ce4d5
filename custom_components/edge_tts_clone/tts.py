"""The TTS entity: one per server, one HA voice per enrolled person.

Voices and languages are read live from the coordinator, so a voice enrolled on the server
shows up in HA's voice pickers within one refresh, without a reload.
Speech goes over Wyoming. A text known whole (tts.speak, announce, a URL) is synthesized
completely before HA gets any audio: HA answers a media player's request with whatever audio it
has, so a reply cut off half way would otherwise play as a short file; cut off before, it is an
error HA reports. Text that arrives in pieces (an LLM answer from Assist) streams instead, with a
streaming server: the first sentence plays before the rest is written.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from typing import Any, Final

from homeassistant.components.tts import ATTR_VOICE, TextToSpeechEntity, TtsAudioType, Voice
from homeassistant.components.tts.entity import TTSAudioRequest, TTSAudioResponse
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.entity_platform import AddEntitiesCallback
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .const import (
    CONF_DEFAULT_SPEED,
    CONF_DEFAULT_VOICE,
    DEFAULT_SPEED,
    DOMAIN,
    FALLBACK_LANGUAGE,
    MANUFACTURER,
    MAX_SPEED,
    MIN_SPEED,
    OPTION_SEED,
    OPTION_SPEED,
    OPTION_STYLE,
)
from .coordinator import EdgeTtsCloneConfigEntry, EdgeTtsCloneCoordinator
from .errors import CannotConnect, EdgeTtsCloneError, ProtocolError, ServerError, Unreachable
from .wire import AudioFormat, ServerVoice

_LOGGER = logging.getLogger(__name__)

PARALLEL_UPDATES = 0
"""The entity never polls; the coordinator does."""

_UNKNOWN_LENGTH: Final = 0xFFFFFFFF
"""RIFF/data size of a streamed WAV whose length is not known yet (read to end of stream)."""


async def async_setup_entry(
    hass: HomeAssistant, entry: EdgeTtsCloneConfigEntry, async_add_entities: AddEntitiesCallback
) -> None:
    """One TTS entity per server."""
    async_add_entities([EdgeTtsCloneTtsEntity(entry)])


def wav_header(audio_format: AudioFormat, data_bytes: int | None) -> bytes:
    """A 44-byte PCM WAV header; `data_bytes=None` for a stream of unknown length."""
    byte_rate = audio_format.rate * audio_format.width * audio_format.channels
    block_align = audio_format.width * audio_format.channels
    data_size = _UNKNOWN_LENGTH if data_bytes is None else data_bytes
    riff_size = _UNKNOWN_LENGTH if data_bytes is None else 36 + data_bytes
    return (
        struct.pack("<4sI4s", b"RIFF", riff_size, b"WAVE")
        + struct.pack(
            "<4sIHHIIHH",
            b"fmt ",
            16,
            1,  # PCM
            audio_format.channels,
            audio_format.rate,
            byte_rate,
            block_align,
            audio_format.width * 8,
        )
        + struct.pack("<4sI", b"data", data_size)
    )


def primary_language(code: str) -> str:
    """`en_US`/`en-US`/`en` -> `en`."""
    return code.replace("_", "-").split("-")[0].lower()


def language_tags(code: str) -> set[str]:
    """Every form of a voice's language HA may ask for: as given, BCP 47, and primary."""
    return {code, code.replace("_", "-"), primary_language(code)}


def voices_for_language(voices: tuple[ServerVoice, ...], language: str) -> list[ServerVoice]:
    """The voices that speak `language` (by primary language), by name: the order of HA's pickers."""
    wanted = primary_language(language)
    return [
        voice
        for voice in sorted(voices, key=lambda item: (item.name.lower(), item.voice_id))
        if any(primary_language(code) == wanted for code in voice.languages)
    ]


async def whole_text_or_stream(chunks: AsyncIterator[str]) -> tuple[str | None, AsyncGenerator[str]]:
    """(the text, ...) when the source gives it in one piece, else (None, the same text as a stream).

    HA hands a text it knows whole as a one-chunk stream; an LLM answer comes in many chunks.
    Waiting for the second chunk costs a stream nothing: a sentence needs several anyway.
    """
    first = await anext(chunks, None)
    second = await anext(chunks, None) if first is not None else None

    async def replay() -> AsyncGenerator[str]:
        for chunk in (first, second):
            if chunk is not None:
                yield chunk
        async for chunk in chunks:
            yield chunk

    if second is None:
        return first or "", replay()
    return None, replay()


class EdgeTtsCloneTtsEntity(CoordinatorEntity[EdgeTtsCloneCoordinator], TextToSpeechEntity):
    """Speaks with the voices enrolled on one edge-tts-clone server."""

    _attr_has_entity_name = True
    _attr_translation_key = "cloned_voices"

    def __init__(self, entry: EdgeTtsCloneConfigEntry) -> None:
        """Entity of `entry`, whose runtime data is the coordinator (which holds the client)."""
        super().__init__(entry.runtime_data)
        self._entry = entry
        self._attr_supported_options = [ATTR_VOICE, OPTION_SPEED, OPTION_STYLE, OPTION_SEED]
        server_id = entry.unique_id or entry.entry_id
        self._attr_unique_id = f"{server_id}-tts"
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, server_id)},
            name=entry.title,
            manufacturer=MANUFACTURER,
            model="Wyoming TTS server",
            sw_version=self.coordinator.data.health.version,
            entry_type=DeviceEntryType.SERVICE,
            configuration_url=str(self.coordinator.client.base_url),
        )

    @property
    def available(self) -> bool:
        """Always: HA silently skips an unavailable engine in tts.speak; a request must fail with a reason.

        An outage shows as the failing requests, the log, and a repair issue when it lasts.
        """
        return True

    # ---- what HA lists -----------------------------------------------------------------

    @property
    def _voices(self) -> tuple[ServerVoice, ...]:
        return self.coordinator.data.voices if self.coordinator.data else ()

    @property
    def supported_languages(self) -> list[str]:
        """Every language of every voice, in the forms HA may ask for."""
        tags: set[str] = set()
        for voice in self._voices:
            for code in voice.languages:
                tags |= language_tags(code)
        return sorted(tags) or [FALLBACK_LANGUAGE]

    @property
    def default_language(self) -> str:
        """The default voice's first language, else English if offered, else the first."""
        default_voice = self._entry.options.get(CONF_DEFAULT_VOICE)
        supported = self.supported_languages
        for voice in self._voices:
            if voice.voice_id == default_voice and voice.languages:
                return primary_language(voice.languages[0])
        return FALLBACK_LANGUAGE if FALLBACK_LANGUAGE in supported else supported[0]

    @property
    def default_options(self) -> Mapping[str, Any]:
        """Default voice and speed from the options flow."""
        options: dict[str, Any] = {}
        if voice := self._entry.options.get(CONF_DEFAULT_VOICE):
            options[ATTR_VOICE] = voice
        speed = self._entry.options.get(CONF_DEFAULT_SPEED, DEFAULT_SPEED)
        if speed != DEFAULT_SPEED:
            options[OPTION_SPEED] = speed
        return options

    @callback
    def async_get_supported_voices(self, language: str) -> list[Voice] | None:
        """One HA voice per person who speaks `language` (compared by primary language)."""
        return [
            Voice(voice_id=voice.voice_id, name=voice.name) for voice in voices_for_language(self._voices, language)
        ]

    def async_supports_streaming_input(self) -> bool:
        """HA >= 2025.7 asks this; only a streaming server gets text as it is generated."""
        data = self.coordinator.data
        return bool(data and data.info.supports_streaming)

    # ---- speech ------------------------------------------------------------------------

    async def async_speak(
        self,
        media_player_entity_id: list[str],
        message: str,
        cache: bool,
        language: str | None = None,
        options: dict[str, Any] | None = None,
    ) -> None:
        """tts.speak: refuse a wrong voice or a server that does not answer before any player is told."""
        self._request_options({**self.default_options, **(options or {})}, language or self.default_language)
        await self.coordinator.async_ensure_reachable()
        await super().async_speak(media_player_entity_id, message, cache, language, options)

    async def async_get_tts_audio(self, message: str, language: str, options: dict[str, Any]) -> TtsAudioType:
        """One-shot synthesis over Wyoming; a complete WAV, or an error (never a cut-off file)."""
        voice, style, extras = self._request_options(options, language)
        try:
            audio = await self.coordinator.client.async_synthesize(message, voice, style, extras)
        except EdgeTtsCloneError as err:
            raise await self._translated(err, voice) from err
        return "wav", wav_header(audio.audio_format, len(audio.pcm)) + audio.pcm

    async def async_stream_tts_audio(self, request: TTSAudioRequest) -> TTSAudioResponse:
        """A text known whole is spoken complete first (see the module doc); a text stream streams."""
        voice, style, extras = self._request_options(request.options, request.language)
        whole, text_stream = await whole_text_or_stream(request.message_gen)
        if whole is not None or not self.async_supports_streaming_input():
            message = whole if whole is not None else "".join([chunk async for chunk in text_stream])
            extension, data = await self.async_get_tts_audio(message, request.language, request.options)

            async def complete() -> AsyncGenerator[bytes]:
                yield data or b""

            return TTSAudioResponse(extension or "wav", complete())

        async def stream() -> AsyncGenerator[bytes]:
            header_sent = False
            try:
                async for audio_format, pcm in self.coordinator.client.async_stream_synthesize(
                    text_stream, voice, style, extras
                ):
                    if not header_sent:
                        header_sent = True
                        yield wav_header(audio_format, None)
                    yield pcm
            except EdgeTtsCloneError as err:
                raise await self._translated(err, voice) from err

        return TTSAudioResponse("wav", stream())

    def _request_options(
        self, options: Mapping[str, Any], language: str
    ) -> tuple[str | None, str | None, dict[str, Any]]:
        """(voice, style, namespaced extras) from HA's merged options, checked against the server's voices.

        Without a voice (none asked for, no default set), the first voice by name that speaks
        `language` speaks, as the options flow says.
        """
        voice = str(options.get(ATTR_VOICE) or "") or None
        style = str(options.get(OPTION_STYLE) or "") or None
        if voice is None and (candidates := voices_for_language(self._voices, language)):
            voice = candidates[0].voice_id
        if self.coordinator.data is not None:
            self.coordinator.data.check_choice(voice, style)
        extras: dict[str, Any] = {}
        try:
            if (speed := options.get(OPTION_SPEED)) is not None:
                extras[OPTION_SPEED] = float(speed)
                if not MIN_SPEED <= extras[OPTION_SPEED] <= MAX_SPEED:
                    raise ValueError(speed)
            if (seed := options.get(OPTION_SEED)) is not None:
                extras[OPTION_SEED] = int(seed)
        except (TypeError, ValueError) as err:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="invalid_option",
                translation_placeholders={"min_speed": str(MIN_SPEED), "max_speed": str(MAX_SPEED)},
            ) from err
        return voice, style, extras

    async def _translated(self, err: EdgeTtsCloneError, voice: str | None) -> HomeAssistantError:
        """A translated HA error for a failed synthesis."""
        host = self.coordinator.client.host
        _LOGGER.debug("synthesis failed on %s: %s", host, err)
        if isinstance(err, Unreachable):
            await self.coordinator.async_request_refresh()
            return self.coordinator.unavailable_error()
        if isinstance(err, ServerError) and err.code == "unknown-voice":
            await self.coordinator.async_request_refresh()  # a voice deleted since the last poll
            data = self.coordinator.data
            if voice is not None and (data is None or data.voice(voice) is None):
                return ServiceValidationError(
                    translation_domain=DOMAIN,
                    translation_key="unknown_voice",
                    translation_placeholders={"voice": voice},
                )
        if isinstance(err, CannotConnect | ProtocolError):
            return HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="synthesis_interrupted",
                translation_placeholders={"host": host, "reason": str(err)},
            )
        return HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="synthesis_failed",
            translation_placeholders={"reason": str(err)},
        )
