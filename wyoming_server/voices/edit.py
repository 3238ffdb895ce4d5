"""Changes to an enrolled pack that keep its clips and prompts: the display name."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from .library import VoiceNotFoundError
from .pack import VoicePack
from .registry import VoiceRegistry
from .schema import PackDocument, build_document

MAX_NAME_CHARS: Final = 64


def rename_pack(registry: VoiceRegistry, voice_id: str, name: str) -> VoicePack:
    """Give an enrolled voice a new display name (the id, and so Wyoming's voice name, stays)."""
    name = name.strip()
    if not name or len(name) > MAX_NAME_CHARS:
        raise ValueError(f"a display name must be 1-{MAX_NAME_CHARS} characters")
    entry = registry.entries().get(voice_id)
    if entry is not None and entry.pack.kind != "gpt-sovits":
        raise PermissionError(f"{voice_id!r} is a Piper voice; rename its .onnx file instead")

    def compose(
        pack_id: str, current: PackDocument | None
    ) -> tuple[dict[str, Any], dict[str, bytes], dict[str, Path]]:
        if current is None:
            raise VoiceNotFoundError(f"no enrolled voice {pack_id!r}")
        pack = current.pack
        document = build_document(
            voice_id=pack_id,
            name=name,
            languages=pack.languages,
            model_id=pack.model_id,
            styles=pack.styles,
            default_style=pack.default_style,
            created=pack.created,
            consent=pack.consent,
            files=dict(current.files),
        )
        folder = registry.voices_dir / pack_id
        return document, {}, {file_name: folder / file_name for file_name in current.files}

    return registry.commit_pack(compose, voice_id=voice_id, must_exist=True)
