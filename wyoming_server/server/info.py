"""The voice library as a Wyoming `Info`: one TTS program, one `TtsVoice` per voice pack."""

from __future__ import annotations

from typing import Final

from wyoming.info import Attribution, Info, TtsProgram, TtsVoice, TtsVoiceSpeaker

from .. import __version__
from ..voices.pack import VoicePack

PROGRAM_NAME: Final = "edge-tts-clone"
"""The `TtsProgram` name (docs/http-api.md); Home Assistant shows it as the entity name."""
PROJECT_URL: Final = "https://github.com/edge-tts-clone/edge-tts-clone"
_KIND_URLS: Final = {
    "gpt-sovits": "https://github.com/RVC-Boss/GPT-SoVITS",
    "piper": "https://github.com/OHF-Voice/piper1-gpl",
}
_LOCAL_ATTRIBUTION: Final = "enrolled locally"


def voice_to_wyoming(pack: VoicePack) -> TtsVoice:
    """One pack as a Wyoming voice: name = id, description = display name, styles as speakers."""
    return TtsVoice(
        name=pack.id,
        attribution=Attribution(
            name=pack.attribution or _LOCAL_ATTRIBUTION, url=_KIND_URLS.get(pack.kind, PROJECT_URL)
        ),
        installed=True,
        description=pack.name,
        version=pack.revision,
        languages=list(pack.languages),
        speakers=[TtsVoiceSpeaker(name=style) for style in pack.styles],
    )


def build_info(voices: list[VoicePack], *, streaming: bool) -> Info:
    """The `info` answer for the voices on disk right now (rebuilt on every `describe`)."""
    program = TtsProgram(
        name=PROGRAM_NAME,
        attribution=Attribution(name="edge-tts-clone", url=PROJECT_URL),
        installed=True,
        description="Local voice cloning (GPT-SoVITS) for Home Assistant",
        version=__version__,
        voices=[voice_to_wyoming(pack) for pack in voices],
        supports_synthesize_streaming=streaming,
    )
    return Info(tts=[program])
