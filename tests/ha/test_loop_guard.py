"""The loop guard itself: it sees a blocking read made on the loop thread, not one in the executor."""

from __future__ import annotations

from pathlib import Path

from homeassistant.core import HomeAssistant

from custom_components.edge_tts_clone.audio_source import read_audio_file


async def test_guard_catches_blocking_read_in_loop(
    hass: HomeAssistant, tmp_path: Path, loop_blocking_calls: list[str]
) -> None:
    """Reading a clip directly in the loop is recorded; the same call in the executor is not."""
    clip = tmp_path / "clip.wav"
    clip.write_bytes(b"RIFF")
    await hass.async_add_executor_job(read_audio_file, clip, [tmp_path], str(clip))
    assert loop_blocking_calls == []
    read_audio_file(clip, [tmp_path], str(clip))  # deliberately in the loop
    assert any("audio_source.py" in call for call in loop_blocking_calls)
    loop_blocking_calls.clear()  # this test's blocking call was on purpose
